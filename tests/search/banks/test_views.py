"""Bank pages: two teams never see each other's banks; admins manage, members look; import and export."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from search.banks import services as banks_services
from search.banks.models import Bank, BankEntry, BankImport
from search.collection.models import ImageStatus, ReferenceImage
from search.teams.models import Role
from tests.factories import UserFactory, collection_for, team_with

pytestmark = pytest.mark.django_db

PDQ = "ab" * 32


@pytest.fixture
def two_teams(settings, tmp_path):
    settings.ISC = settings.ISC.replace(ingest_dir=str(tmp_path / "ingest"))
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    red, blue = team_with(alice, slug="red"), team_with(bob, slug="blue")
    return alice, bob, red, blue


def test_two_teams_never_see_each_others_banks(client, two_teams):
    alice, bob, red, blue = two_teams
    red_bank = banks_services.bank_create(actor=alice, team=red, name="red list")
    client.force_login(bob)
    assert client.get(reverse("search:bank_list", args=["red"])).status_code == 404
    for name in ("bank_detail", "bank_export", "bank_imports_panel"):
        assert client.get(reverse(f"search:{name}", args=[red_bank.id]) + "?format=csv&signals=pdq").status_code == 404
    assert (
        client.post(reverse("search:bank_settings", args=[red_bank.id]), {"name": "x", "pdq_threshold": 1}).status_code
        == 404
    )
    assert client.post(reverse("search:bank_delete", args=[red_bank.id])).status_code == 404
    page = client.get(reverse("search:bank_list", args=["blue"]))
    assert page.status_code == 200 and b"red list" not in page.content
    assert Bank.objects.filter(id=red_bank.id).exists()


def test_an_admin_creates_a_bank_and_imports_a_list_from_the_page(
    client, isc_settings, two_teams, eager_tasks, django_capture_on_commit_callbacks
):
    alice, _, red, _ = two_teams
    client.force_login(alice)
    response = client.post(
        reverse("search:bank_list", args=["red"]), {"name": "NCMEC", "pdq_threshold": 31, "enabled": "on"}
    )
    bank = Bank.objects.get(team=red, name="NCMEC")
    assert response.status_code == 302 and bank.enabled and bank.pdq_threshold == 31
    upload = SimpleUploadedFile(
        "list.csv", f"signal_type,signal,external_id,tags\npdq,{PDQ},case-7,x\npdq,zz\n".encode()
    )
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("search:bank_import", args=[bank.id]), {"file": upload, "skip_bad_lines": "on"})
    job = BankImport.objects.get(bank=bank)
    assert (job.state, job.created, job.bad_lines) == ("done", 1, 1)
    page = client.get(reverse("search:bank_detail", args=[bank.id]))
    assert b"case-7" in page.content and b"1 bad line" in page.content
    detail = client.get(reverse("search:bank_import_detail", args=[job.id]))
    assert b"pdq must be 64 hex digits, got &#x27;zz&#x27;" in detail.content
    export = client.get(reverse("search:bank_export", args=[bank.id]) + "?format=csv&signals=pdq&signals=md5")
    assert b"".join(export.streaming_content).decode() == f"signal_type,signal,external_id,tags\npdq,{PDQ},case-7,x\n"


def test_members_below_admin_look_but_do_not_change(client, two_teams):
    alice, _, red, _ = two_teams
    moderator = UserFactory()
    red.memberships.create(user=moderator, role=Role.MODERATOR)
    bank = banks_services.bank_create(actor=alice, team=red, name="list")
    client.force_login(moderator)
    assert client.get(reverse("search:bank_detail", args=[bank.id])).status_code == 200
    assert (
        client.post(reverse("search:bank_list", args=["red"]), {"name": "mine", "pdq_threshold": 3}).status_code == 403
    )
    upload = SimpleUploadedFile("l.txt", f"pdq {PDQ}\n".encode())
    assert client.post(reverse("search:bank_import", args=[bank.id]), {"file": upload}).status_code == 403
    assert not BankEntry.objects.exists() and not BankImport.objects.exists()


def test_a_collections_references_export_as_hashes(client, two_teams):
    alice, bob, _, _ = two_teams
    collection = collection_for(alice)
    ReferenceImage.objects.create(
        collection=collection,
        sha256="1" * 64,
        width=1,
        height=1,
        original_name="cat.jpg",
        status=ImageStatus.INDEXED,
        pdq=PDQ,
        pdq_quality=90,
        md5="c" * 32,
    )
    ReferenceImage.objects.create(
        collection=collection,
        sha256="2" * 64,
        width=1,
        height=1,
        status=ImageStatus.INDEXED,
        pdq="cd" * 32,
        pdq_quality=10,
    )
    client.force_login(alice)
    url = reverse("search:collection_hashes_export", args=[collection.id])
    body = b"".join(client.get(url + "?format=csv&signals=pdq&signals=md5").streaming_content).decode()
    assert body == f"signal_type,signal,external_id,tags\npdq,{PDQ},cat.jpg,\nmd5,{'c' * 32},cat.jpg,\n"
    assert b"".join(client.get(url + "?format=te_local&signals=pdq").streaming_content).decode() == f"pdq {PDQ}\n"
    client.force_login(bob)
    assert client.get(url + "?format=csv&signals=pdq").status_code == 404
