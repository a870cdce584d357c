"""Hash banks through live services: one team shares its references as a hash list instead of pictures,
another loads it into a bank from the page, and an edited upload of one of the pictures reaches its review
queue as a bank match, all through a real Celery worker, Redis and Milvus Lite."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from search.banks.models import Bank, BankEntry, BankImport
from search.collection.models import ImageStatus, ReferenceImage
from search.queries.models import Match, QueryImage
from search.teams.models import Role
from tests.factories import UserFactory, team_with
from tests.images import edited_copy, encode, image_upload, scene
from tests.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_shared_hash_list_catches_an_edited_upload_in_the_other_teams_queue(client, live_worker, settings, tmp_path):
    settings.ISC = settings.ISC.replace(ingest_dir=str(tmp_path / "ingest"))
    owner, partner = UserFactory(username="owner"), UserFactory(username="partner")
    owners, partners = team_with(owner, Role.ADMIN, slug="owners"), team_with(partner, Role.ADMIN, slug="partners")

    # The owners index their picture, then export their references as hashes (PDQ, MD5, SSCD).
    client.force_login(owner)
    collection_url = client.post(
        reverse("search:collection_list"),
        {"team": owners.id, "name": "Originals", "description": "", "match_threshold": 0.5},
    ).url
    owners_collection = int(collection_url.rstrip("/").split("/")[-1])
    client.post(
        reverse("search:references_upload", args=[owners_collection]),
        {"source": "files", "files": [image_upload("poster.jpg", data=encode(scene(407)))]},
    )
    wait_until(
        lambda: ReferenceImage.objects.filter(collection_id=owners_collection, status=ImageStatus.INDEXED).exists(),
        timeout=120,
        what="the owners' reference to be indexed",
        every=0.2,
    )
    hashes = tmp_path / "owners.csv"
    call_command("hashlist_export", collection=owners_collection, signals="pdq,md5,sscd", output=str(hashes))
    assert [line.split(",")[0] for line in hashes.read_text().splitlines()] == ["signal_type", "pdq", "md5", "sscd"]

    # The partners load the file into a new bank from the bank page; the worker imports it.
    client.force_login(partner)
    client.post(
        reverse("search:bank_list", args=["partners"]), {"name": "from owners", "pdq_threshold": 31, "enabled": "on"}
    )
    bank = Bank.objects.get(team=partners)
    client.post(
        reverse("search:bank_import", args=[bank.id]),
        {"file": SimpleUploadedFile("owners.csv", hashes.read_bytes()), "source_label": "owners"},
    )
    wait_until(
        lambda: (
            BankImport.objects.get(bank=bank).state == "done"
            and BankEntry.objects.filter(bank=bank, status=ImageStatus.INDEXED).count() == 3
        ),
        timeout=120,
        what="the hash list to be imported (SSCD entry in Milvus)",
        every=0.2,
    )

    # An edited copy uploaded to the partners' own (empty) collection is caught by the bank alone.
    partners_url = client.post(
        reverse("search:collection_list"),
        {"team": partners.id, "name": "Uploads", "description": "", "match_threshold": 0.5},
    ).url
    partners_collection = int(partners_url.rstrip("/").split("/")[-1])
    client.post(
        reverse("search:query_upload", args=[partners_collection]),
        {"image": image_upload("meme.jpg", data=encode(edited_copy(scene(407))))},
    )
    query = QueryImage.objects.get(original_name="meme.jpg")
    wait_until(
        lambda: QueryImage.objects.get(id=query.id).status == ImageStatus.INDEXED,
        timeout=60,
        what="the query's results",
        every=0.2,
    )
    match = Match.objects.get(query=query)
    assert match.matched_by == "sscd" and match.reference.bank_id == bank.id
    queue = client.get(reverse("search:review_dashboard")).content.decode()
    assert "meme.jpg" in queue and "bank · from owners" in queue and "SSCD similarity" in queue
    item = client.get(reverse("search:review_item", args=[match.id])).content.decode()
    assert "Hash bank entry" in item and "poster.jpg" in item and "owners" in item

    # The owners see none of it.
    client.force_login(owner)
    assert "meme.jpg" not in client.get(reverse("search:review_dashboard")).content.decode()
