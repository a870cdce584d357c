import io
import zipfile

import pytest
from django.urls import reverse

from search import services
from search.models import AuditAction, AuditEvent, Collection, Membership, QueryImage, ReferenceImage, Role
from search.uploads import Payload
from tests.factories import UserFactory, collection_for, team_with
from tests.images import encode, scene

pytestmark = pytest.mark.django_db


@pytest.fixture
def moderator(client):
    user = UserFactory()
    client.force_login(user)
    return user


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_pages_need_a_login(client):
    response = client.get(reverse("search:collection_list"))
    assert response.status_code == 302 and "/accounts/login/" in response.url


def test_sign_up_is_closed_by_default(client):
    assert client.get(reverse("search:signup")).status_code == 404
    assert "Sign up" not in client.get(reverse("login")).content.decode()


def test_open_sign_up_logs_the_user_in_with_a_team_of_their_own(client, settings):
    settings.ISC = {**settings.ISC, "OPEN_SIGNUP": True}
    response = client.post(
        reverse("search:signup"),
        {"username": "ana", "password1": "a-long-Passphrase-42", "password2": "a-long-Passphrase-42"},
        follow=True,
    )
    assert response.context["user"].username == "ana"
    membership = Membership.objects.get(user__username="ana")
    assert (membership.team.name, membership.role) == ("ana", Role.ADMIN)


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
    assert "Upload: 3 added." in _messages(response)
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
    # What the job then adds and refuses is covered in tests/search/test_ingest.py.
    settings.ISC = {**settings.ISC, "INGEST_DIR": str(tmp_path / "ingest")}
    collection = collection_for(moderator)
    archive = _zip_upload({"a.jpg": encode(scene(1)), "../b.jpg": encode(scene(2)), "c.txt": b"not an image"})
    response = client.post(
        reverse("search:references_upload", args=[collection.id]), {"source": "zip", "archive": archive}, follow=True
    )
    job = collection.ingest_jobs.get()
    assert f"Import #{job.id} queued: its progress shows below and updates itself." in _messages(response)
    assert collection.references.count() == 0


def test_an_empty_zip_gets_a_clear_message(client, moderator, media_root):
    collection = collection_for(moderator)
    response = client.post(
        reverse("search:references_upload", args=[collection.id]),
        {"source": "zip", "archive": _zip_upload({})},
        follow=True,
    )
    assert "The zip archive is empty." in _messages(response)
    assert collection.references.count() == 0


def test_an_oversized_query_is_refused(client, moderator, media_root, settings):
    settings.ISC = {**settings.ISC, "MAX_UPLOAD_BYTES": 1000}
    collection = collection_for(moderator)
    upload = io.BytesIO(encode(scene(1)))
    upload.name = "big.jpg"
    response = client.post(reverse("search:query_upload", args=[collection.id]), {"image": upload}, follow=True)
    assert any("the limit is" in message for message in _messages(response))
    assert not QueryImage.objects.exists()


def test_a_corrupt_query_is_refused_with_the_reason(client, moderator, media_root):
    collection = collection_for(moderator)
    upload = io.BytesIO(encode(scene(1))[:300])
    upload.name = "cut.jpg"
    response = client.post(reverse("search:query_upload", args=[collection.id]), {"image": upload}, follow=True)
    assert any("cut.jpg" in message and "truncated or corrupt" in message for message in _messages(response))


def test_a_query_upload_leads_to_its_result_page(client, moderator, media_root):
    collection = collection_for(moderator)
    upload = io.BytesIO(encode(scene(9)))
    upload.name = "suspect.jpg"
    response = client.post(reverse("search:query_upload", args=[collection.id]), {"image": upload})
    query = QueryImage.objects.get()
    assert response.url == reverse("search:query_detail", args=[query.id])
    page = client.get(response.url).content.decode()
    assert "suspect.jpg" in page and "data-live-url" in page, "a pending query page refreshes itself"


def test_another_users_collections_and_queries_are_invisible(client, moderator, media_root):
    other = UserFactory()
    theirs = collection_for(other, name="Private")
    query, _ = services.query_image_add(
        actor=theirs.created_by, collection=theirs, payload=Payload("q.jpg", encode(scene(3)))
    )
    assert "Private" not in client.get(reverse("search:collection_list")).content.decode()
    assert client.get(reverse("search:collection_detail", args=[theirs.id])).status_code == 404
    assert client.get(reverse("search:query_detail", args=[query.id])).status_code == 404
    upload = io.BytesIO(encode(scene(4)))
    upload.name = "x.jpg"
    assert client.post(reverse("search:query_upload", args=[theirs.id]), {"image": upload}).status_code == 404
    assert ReferenceImage.objects.count() == 0 and QueryImage.objects.count() == 1


def test_the_result_page_draws_keypoint_lines_between_query_and_reference(client, moderator, media_root):
    collection = collection_for(moderator, match_threshold=0.5)
    reference = services.reference_images_add(
        actor=collection.created_by, collection=collection, items=[Payload("r.jpg", encode(scene(1)))]
    ).created[0]
    query, _ = services.query_image_add(
        actor=collection.created_by, collection=collection, payload=Payload("q.jpg", encode(scene(2)))
    )
    services.query_results_record(
        query_id=query.id,
        descriptor_version="sscd_test",
        results=[services.MatchResult(reference.id, 0.8, True, 25, 0.7, [[0.5, 0.5, 0.25, 0.75]], 0.94)],
        search_ms=321,
    )
    page = client.get(reverse("search:query_detail", args=[query.id])).content.decode()
    assert "badge copy" in page and "25</b> inliers" in page and "searched in 321 ms" in page
    # query 480 px wide at 260 px high → 346.7 wide; reference starts 24 px later.
    assert '<line x1="173.3" y1="130.0" x2="457.3" y2="195.0"/>' in page
    assert "data-live-url" not in page, "a finished result page stops polling"


def test_reviewing_a_match_moves_it_out_of_the_queue(client, moderator, media_root):
    collection = collection_for(moderator)
    reference = services.reference_images_add(
        actor=collection.created_by, collection=collection, items=[Payload("r.jpg", encode(scene(1)))]
    ).created[0]
    query, _ = services.query_image_add(
        actor=collection.created_by, collection=collection, payload=Payload("q.jpg", encode(scene(2)))
    )
    services.query_results_record(
        query_id=query.id,
        descriptor_version="v",
        search_ms=1,
        results=[services.MatchResult(reference.id, 0.9, False, 0, 0.0, [], 0.9)],
    )
    match = query.matches.get()
    assert list(client.get(reverse("search:review_dashboard")).context["matches"]) == [match]
    client.post(
        reverse("search:match_review", args=[match.id]), {"decision": "confirmed", "next": "https://evil.example/"}
    )
    match.refresh_from_db()
    assert match.review == "confirmed" and match.reviewed_by == moderator
    assert list(client.get(reverse("search:review_dashboard")).context["matches"]) == []


def test_another_user_cannot_review_my_matches(client, media_root):
    owner = UserFactory()
    collection = collection_for(owner)
    reference = services.reference_images_add(
        actor=collection.created_by, collection=collection, items=[Payload("r.jpg", encode(scene(1)))]
    ).created[0]
    query, _ = services.query_image_add(
        actor=collection.created_by, collection=collection, payload=Payload("q.jpg", encode(scene(2)))
    )
    services.query_results_record(
        query_id=query.id,
        descriptor_version="v",
        search_ms=1,
        results=[services.MatchResult(reference.id, 0.9, False, 0, 0.0, [], 0.9)],
    )
    client.force_login(UserFactory())
    response = client.post(reverse("search:match_review", args=[query.matches.get().id]), {"decision": "rejected"})
    assert response.status_code == 404
