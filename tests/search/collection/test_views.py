"""Collection pages: creating one, its settings, uploads of references, rows that are not done."""

import io
import zipfile

import pytest
from django.urls import reverse

from search.collection import services as collection_services
from search.collection.models import Collection, ImageStatus, ReferenceImage
from search.core.models import AuditAction, AuditEvent
from search.core.uploads import Payload
from search.teams.models import Role
from tests.factories import MembershipFactory, UserFactory, collection_for, team_with
from tests.images import encode, image_upload, scene
from tests.search.pages import page_messages

pytestmark = pytest.mark.django_db


def test_creating_a_collection_in_a_team_i_administer(client, moderator):
    team = team_with(moderator, Role.ADMIN)
    response = client.post(
        reverse("search:collection_list"),
        {"team": team.id, "name": "Banned memes", "description": "", "match_threshold": 0.6},
    )
    collection = Collection.objects.get(team=team)
    assert response.url == reverse("search:collection_detail", args=[collection.id])
    assert (collection.match_threshold, collection.created_by) == (0.6, moderator)
    event = AuditEvent.objects.get(action=AuditAction.COLLECTION_CREATE)
    assert (event.team, event.actor, event.collection_id) == (team, moderator, collection.id)


def test_only_a_team_admin_can_create_a_collection_there(client, moderator):
    team = team_with(moderator, Role.MODERATOR)
    page = client.get(reverse("search:collection_list"))
    assert page.context["form"] is None, "no team to create in: no form"
    response = client.post(reverse("search:collection_list"), {"team": team.id, "name": "x", "match_threshold": 0.5})
    assert response.status_code == 200
    assert not Collection.objects.exists()


def test_a_threshold_outside_zero_to_one_is_refused(client, moderator):
    team = team_with(moderator, Role.ADMIN)
    response = client.post(reverse("search:collection_list"), {"team": team.id, "name": "x", "match_threshold": 3})
    assert "between 0 and 1" in response.content.decode()
    assert not Collection.objects.exists()


def test_uploading_several_files_at_once(client, moderator, media_root):
    collection = collection_for(moderator)
    files = [io.BytesIO(encode(scene(i))) for i in range(3)]
    for i, handle in enumerate(files):
        handle.name = f"ref{i}.jpg"
    response = client.post(
        reverse("search:references_upload", args=[collection.id]), {"source": "files", "files": files}, follow=True
    )
    assert "Upload: 3 added." in page_messages(response)
    assert collection.references.count() == 3


def _zip_upload(entries: dict[str, bytes]) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, data in entries.items():
            bundle.writestr(name, data)
    buffer.seek(0)
    buffer.name = "batch.zip"
    return buffer


def test_uploading_a_zip_queues_an_import_job(client, moderator, media_root, settings, tmp_path):
    # What the job then adds and refuses is covered in tests/search/ingest/test_ingest.py.
    settings.ISC = settings.ISC.replace(ingest_dir=str(tmp_path / "ingest"))
    collection = collection_for(moderator)
    archive = _zip_upload({"a.jpg": encode(scene(1)), "../b.jpg": encode(scene(2)), "c.txt": b"not an image"})
    response = client.post(
        reverse("search:references_upload", args=[collection.id]), {"source": "zip", "archive": archive}, follow=True
    )
    job = collection.ingest_jobs.get()
    assert f"Import #{job.id} queued: its progress shows below and updates itself." in page_messages(response)
    assert collection.references.count() == 0


def test_an_empty_zip_gets_a_clear_message(client, moderator, media_root):
    collection = collection_for(moderator)
    response = client.post(
        reverse("search:references_upload", args=[collection.id]),
        {"source": "zip", "archive": _zip_upload({})},
        follow=True,
    )
    assert "The zip archive is empty." in page_messages(response)
    assert collection.references.count() == 0


def test_one_empty_file_in_a_multi_file_upload_is_rejected_alone(client, moderator, media_root):
    collection = collection_for(moderator)
    files = [
        image_upload("a.jpg", data=encode(scene(1))),
        image_upload("empty.jpg", data=b""),
        image_upload("b.jpg", data=encode(scene(2))),
    ]
    response = client.post(
        reverse("search:references_upload", args=[collection.id]), {"source": "files", "files": files}, follow=True
    )
    shown = page_messages(response)
    assert "Upload: 2 added, 1 rejected." in shown
    assert "empty.jpg: The file is empty." in shown
    assert sorted(collection.references.values_list("original_name", flat=True)) == ["a.jpg", "b.jpg"]


def test_an_upload_of_only_an_empty_file_says_so(client, moderator, media_root):
    collection = collection_for(moderator)
    response = client.post(
        reverse("search:references_upload", args=[collection.id]),
        {"source": "files", "files": [image_upload("empty.png", data=b"")]},
        follow=True,
    )
    assert "empty.png: The file is empty." in page_messages(response)
    assert collection.references.count() == 0


@pytest.mark.parametrize("status", [ImageStatus.PENDING, ImageStatus.PROCESSING, ImageStatus.FAILED])
def test_every_reference_that_is_not_done_shows_its_state_and_a_retry_button(client, moderator, media_root, status):
    collection = collection_for(moderator)
    reference = collection_services.reference_images_add(
        actor=collection.created_by, collection=collection, items=[Payload("r.jpg", encode(scene(3)))]
    ).created[0]
    ReferenceImage.objects.filter(id=reference.id).update(status=status)
    page = client.get(reverse("search:collection_detail", args=[collection.id])).content.decode()
    assert f'badge {status}"' in page
    assert reverse("search:image_retry", args=["reference", reference.id]) in page


def test_the_settings_show_the_models_in_use_and_their_licences_to_admins(client, moderator, settings):
    settings.ISC = settings.ISC.replace(descriptor="sscd", verifier="sift+learned", learned_matcher="mnn")
    collection = collection_for(moderator)  # its creator: the team's admin
    page = client.get(reverse("search:collection_detail", args=[collection.id])).content.decode()
    section = page.split('id="models-in-use"', 1)[1]
    assert "Searches use <code>sscd</code>" in section, "no live version yet: the configured model"
    for shown in ["SSCD sscd_disc_mixup", "MIT", "use unmodified, no redistribution", "XFeat", "Apache-2.0", "SIFT"]:
        assert shown in section, shown
    viewer = UserFactory()
    MembershipFactory(team=collection.team, user=viewer, role=Role.VIEWER)
    client.force_login(viewer)
    assert (
        'id="models-in-use"'
        not in client.get(reverse("search:collection_detail", args=[collection.id])).content.decode()
    )
