"""Queries looked up in their team's hash banks: PDQ within the bank's threshold, MD5 exact, SSCD through
Milvus; hits behave like references (queue, verdicts that stick, webhooks payload), scoped to the team."""

import hashlib
import io

import pytest
from django.urls import reverse
from PIL import Image, ImageEnhance, ImageOps

from copydetect.descriptors import descriptor_build
from copydetect.hashlists import sscd_signal_of
from copydetect.signals import image_signals_compute
from search.banks import imports
from search.banks import services as banks_services
from search.banks.models import BankEntry
from search.core.models import AuditAction, AuditEvent
from search.core.uploads import Payload
from search.queries import services as queries_services
from search.queries.models import Match
from search.review import selectors as review_selectors
from search.review import services as review_services
from search.webhooks.payloads import query_flagged_payload
from tests.factories import CollectionFactory, collection_for, token_client
from tests.images import edited_copy, encode, scene
from workers import banks as worker_banks
from workers.tasks import banks as worker_bank_tasks
from workers.tasks import queries as worker_queries

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def banks_settings(isc_settings, tmp_path):
    isc_settings.ISC = isc_settings.ISC.replace(ingest_dir=str(tmp_path / "ingest"))
    worker_banks.bank_pdq_follower_reset()
    yield isc_settings
    worker_banks.bank_pdq_follower_reset()


def _lightly_edited(seed: int) -> bytes:
    """Resized, brighter and re-encoded: the kind of change PDQ survives (edited_copy's crop does not)."""
    picture = ImageEnhance.Brightness(scene(seed).resize((320, 240))).enhance(1.1)
    return encode(picture, quality=70)


def _pdq_of(data: bytes) -> str:
    return image_signals_compute(image=Image.open(io.BytesIO(data)).convert("RGB")).pdq


def _load(bank, text: str, tmp_path, name="list.csv"):
    path = tmp_path / name
    path.write_text(text)
    job = imports.bank_import_create(actor=bank.created_by, bank=bank, source_path=str(path), enqueue=False)
    assert worker_bank_tasks.bank_import_run.delay(job.id).get() == "done"
    return job


def _ask(collection, data: bytes, name="q.jpg"):
    query, _ = queries_services.query_image_add(
        actor=collection.created_by, collection=collection, payload=Payload(name, data)
    )
    query.refresh_from_db()
    assert query.status == "indexed", query.error
    return query


def test_a_hash_list_from_a_file_catches_an_edited_upload_in_the_review_queue(
    banks_settings, eager_tasks, tmp_path, client
):
    collection = CollectionFactory()
    team, admin = collection.team, collection.created_by
    bank = banks_services.bank_create(actor=admin, team=team, name="partner hashes")
    original = encode(scene(407))
    descriptor = descriptor_build(name="sscd", threads=1)
    [vector] = descriptor.embed([Image.open(io.BytesIO(original)).convert("RGB")])
    _load(
        bank,
        "signal_type,signal,external_id,tags\n"
        f"pdq,{_pdq_of(original)},case-407,partner\n"
        f'sscd,"{sscd_signal_of(vector)}",case-407-sscd,partner\n',
        tmp_path,
    )
    assert BankEntry.objects.filter(bank=bank, status="indexed").count() == 2

    # The edit moves PDQ to chance level; the SSCD entry, searched in Milvus, still finds it.
    query = _ask(collection, encode(edited_copy(scene(407))))
    match = Match.objects.get(query=query)
    assert match.matched_by == "sscd" and match.reference.external_id == "case-407-sscd"
    assert match.descriptor_similarity >= 0.75 and match.final_score >= collection.match_threshold
    queue = review_selectors.review_items(user=admin)
    assert [item.match.id for item in queue] == [match.id]

    # A lighter edit is caught by PDQ too, and the page says how closely.
    light = _ask(collection, _lightly_edited(407), name="light.jpg")
    pdq_match = Match.objects.get(query=light, matched_by="pdq")
    assert pdq_match.hash_threshold == 31 and pdq_match.hash_distance <= 31
    client.force_login(admin)
    page = client.get(reverse("search:query_detail", args=[light.id])).content.decode()
    assert f"PDQ distance <b>{pdq_match.hash_distance} / 31</b>" in page and "case-407" in page
    api = token_client(admin).get(reverse("api:query_matches", args=[light.id])).json()
    [row] = [row for row in api["results"] if row["matched_by"] == "pdq"]
    assert (row["hash_distance"], row["hash_threshold"]) == (pdq_match.hash_distance, 31)
    assert (row["reference"]["bank"], row["reference"]["external_id"]) == (bank.id, "case-407")

    # The verdict sticks: a re-run of the search keeps it; the webhook payload carries the entry's metadata.
    review_services.verdict_set(actor=admin, match=pdq_match, decision="confirmed")
    light.status = "pending"
    light.save(update_fields=["status"])
    worker_queries.query_search.delay(light.id).get()
    again = Match.objects.get(query=light, matched_by="pdq")
    assert again.review == "confirmed"
    payload = query_flagged_payload(query=light)
    entry = next(m["reference"] for m in payload["matches"] if m["matched_by"] == "pdq")
    assert entry["bank_entry"]["external_id"] == "case-407" and entry["bank_entry"]["bank"]["name"] == "partner hashes"

    # Allowlisting the picture for this entry keeps a re-post of it out of the queue, with the reason.
    review_services.allowlist_add(actor=admin, match=match, reason="our own poster")
    repost = _ask(collection, encode(edited_copy(scene(407))) + b"\x00", name="repost.jpg")
    assert Match.objects.get(query=repost, matched_by="sscd").suppressed_reason
    assert AuditEvent.objects.filter(action=AuditAction.ALLOWLIST_ADD, team=team).exists()


def test_md5_is_exact_banks_are_team_scoped_and_a_disabled_bank_is_skipped(banks_settings, eager_tasks, tmp_path):
    mine = CollectionFactory()
    theirs = collection_for(mine.created_by)  # the same person in another team: still another team's banks
    bank = banks_services.bank_create(actor=mine.created_by, team=mine.team, name="md5 list")
    upload = encode(scene(408))
    _load(bank, f"md5 {hashlib.md5(upload).hexdigest()}\n", tmp_path, name="md5.txt")
    hit = _ask(mine, upload)
    assert list(Match.objects.filter(query=hit).values_list("matched_by", flat=True)) == ["md5"]
    assert not Match.objects.filter(query=_ask(theirs, upload), reference__bank__isnull=False).exists()

    banks_services.bank_update(actor=mine.created_by, bank=bank, enabled=False)
    other = CollectionFactory(team=mine.team, created_by=mine.created_by)
    assert not Match.objects.filter(query=_ask(other, upload)).exists()


def test_an_entry_added_after_the_index_loaded_matches_without_a_rebuild(banks_settings, eager_tasks, tmp_path):
    collection = CollectionFactory()
    bank = banks_services.bank_create(actor=collection.created_by, team=collection.team, name="live")
    _load(bank, f"pdq {'0' * 64}\n", tmp_path)
    assert not Match.objects.filter(query=_ask(collection, encode(scene(409)))).exists()  # the index is loaded
    index = worker_banks.bank_pdq_index_get()
    _load(bank, f"pdq {_pdq_of(encode(scene(410)))}\n", tmp_path, name="more.txt")
    worker_banks._follower.poll_seconds = 0  # the next lookup polls at once instead of within 2 s
    query = _ask(collection, _lightly_edited(410))
    assert worker_banks.bank_pdq_index_get() is index, "the same index, updated in place"
    assert Match.objects.get(query=query).matched_by == "pdq"
    # A disabled entry leaves the index in the next poll.
    banks_services.bank_entries_disable(
        actor=None, bank=bank, entry_ids=list(bank.entries.values_list("id", flat=True)), disabled=True
    )
    assert not Match.objects.filter(query=_ask(collection, _lightly_edited(410) + b"\x00")).exists()


def test_a_mirrored_copy_is_found_through_the_dihedral_variants_when_they_are_on(banks_settings, eager_tasks, tmp_path):
    banks_settings.ISC = banks_settings.ISC.replace(bank_pdq_dihedral=True)
    collection = CollectionFactory()
    bank = banks_services.bank_create(actor=collection.created_by, team=collection.team, name="mirrors")
    original = encode(scene(411))
    _load(bank, f"pdq {_pdq_of(original)}\n", tmp_path)
    mirrored = encode(ImageOps.mirror(Image.open(io.BytesIO(original)).convert("RGB")))
    assert Match.objects.get(query=_ask(collection, mirrored)).matched_by == "pdq"
    banks_settings.ISC = banks_settings.ISC.replace(bank_pdq_dihedral=False)
    assert not Match.objects.filter(query=_ask(collection, mirrored + b"\x00", name="again.jpg")).exists()


def test_the_indexing_task_on_entries_writes_sscd_vectors_and_refuses_another_models(
    banks_settings, eager_tasks, tmp_path
):
    from search.collection.models import ReferenceImage
    from workers import runtime
    from workers.tasks import references as worker_references

    collection = CollectionFactory()
    bank = banks_services.bank_create(actor=collection.created_by, team=collection.team, name="sscd")
    live = runtime.search_descriptor_get()
    vector = sscd_signal_of([1.0] + [0.0] * (live.dim - 1))
    path = tmp_path / "sscd.csv"
    path.write_text(f'signal_type,signal\nsscd,"{vector}"\npdq,{"1" * 64}\n')
    job = imports.bank_import_create(actor=None, bank=bank, source_path=str(path), enqueue=False)
    imports.bank_import_claim(job_id=job.id)
    imports.bank_import_execute(job_id=job.id, sscd=imports.SscdTarget(version=live.version, dimensions=live.dim))
    sscd, pdq = (BankEntry.objects.get(bank=bank, signal_type=kind) for kind in ("sscd", "pdq"))
    assert sscd.status == "pending", "no worker wrote its vector yet (the sweeper would queue it)"
    assert worker_references.reference_index.delay(sscd.id).get() == "indexed"
    assert runtime.vector_store_get().vectors_get(model_version=live.version, ids=[sscd.id])
    assert worker_references.reference_index.delay(pdq.id).get() == "indexed"
    assert ReferenceImage.objects.get(id=pdq.id).status == "indexed"

    ReferenceImage.objects.filter(id=sscd.id).update(status="pending", descriptor_version="sscd-older")
    assert worker_references.reference_index.delay(sscd.id).get() == "failed"
    assert "another model version" in ReferenceImage.objects.get(id=sscd.id).error
