"""Look-back end to end (eager worker tasks, real descriptor model, real Milvus Lite): last month's query
matches a reference added today, and bank entries added today find the team's past queries."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from copydetect.hashlists import HashEntry, SignalType
from copydetect.signals import pdq_distance
from search.banks import services as banks_services
from search.collection import services as collection_services
from search.core.uploads import Payload
from search.lookback.models import LookbackJob
from search.queries import services as queries_services
from search.queries.models import Match, QueryImage
from search.review import selectors as review_selectors
from tests.factories import CollectionFactory, UserFactory, team_with
from tests.images import edited_copy, encode, scene

pytestmark = pytest.mark.django_db(transaction=True)


def _query(collection, data: bytes, *, days_ago: int) -> QueryImage:
    query, _ = queries_services.query_image_add(
        actor=collection.created_by, collection=collection, payload=Payload(f"q{days_ago}-{len(data)}.jpg", data)
    )
    QueryImage.objects.filter(id=query.id).update(created_at=timezone.now() - timedelta(days=days_ago))
    query.refresh_from_db()
    return query


def test_last_months_query_matches_a_reference_added_today(isc_settings, eager_tasks):
    collection = CollectionFactory()
    owner = collection.created_by
    # Some reference first, so the collection's model version has a Milvus collection to search.
    collection_services.reference_images_add(
        actor=owner, collection=collection, items=[Payload("other.jpg", encode(scene(401)))]
    )
    recent = _query(collection, encode(edited_copy(scene(402))), days_ago=30)
    too_old = _query(collection, encode(edited_copy(scene(402)).resize((360, 300))), days_ago=120)
    unrelated = _query(collection, encode(scene(403)), days_ago=10)
    assert not Match.objects.filter(query=recent, reference__original_name="original.jpg").exists()

    [reference] = collection_services.reference_images_add(
        actor=owner, collection=collection, items=[Payload("original.jpg", encode(scene(402)))]
    ).created

    job = LookbackJob.objects.get(
        trigger=LookbackJob.Trigger.REFERENCES, collection=collection, item_ids=[reference.id]
    )
    assert (job.state, job.total, job.done, job.percent) == (LookbackJob.State.DONE, 1, 1, 100)
    found = Match.objects.get(query=recent, reference=reference)
    assert found.found_by_lookback_id == job.id and job.found >= 1
    assert found.final_score >= collection.match_threshold and found.verified
    assert not Match.objects.filter(query=too_old, reference=reference).exists()  # outside ISC_LOOKBACK_DAYS
    assert not Match.objects.filter(query=unrelated, reference=reference).exists()
    queued = [item.match.id for item in review_selectors.review_items(user=owner)]
    assert found.id in queued
    client = Client()
    client.force_login(owner)
    assert "found by look-back" in client.get(reverse("search:review_dashboard")).content.decode()
    assert "found by look-back" in client.get(reverse("search:review_item", args=[found.id])).content.decode()


def test_bank_entries_added_today_find_the_teams_past_queries_by_md5_and_pdq(isc_settings, eager_tasks):
    admin = UserFactory()
    team = team_with(admin)
    collection = CollectionFactory(team=team, created_by=admin)
    collection_services.reference_images_add(
        actor=admin, collection=collection, items=[Payload("other.jpg", encode(scene(411)))]
    )
    exact_bytes = encode(scene(412))
    exact = _query(collection, exact_bytes, days_ago=20)
    edited = _query(collection, encode(scene(413).resize((300, 220))), days_ago=40)  # rescaled: PDQ stays close
    old = _query(collection, exact_bytes + b"\0", days_ago=200)
    other_admin = UserFactory()
    other_collection = CollectionFactory(team=team_with(other_admin), created_by=other_admin)
    elsewhere = _query(other_collection, exact_bytes, days_ago=5)

    from copydetect.signals import image_signals_compute

    original_pdq = image_signals_compute(image=scene(413)).pdq
    assert pdq_distance(original_pdq, edited.pdq) <= 31
    bank = banks_services.bank_create(actor=admin, team=team, name="shared list")
    banks_services.bank_entries_add(
        bank=bank,
        entries=[
            HashEntry(SignalType.MD5, exact.md5),
            HashEntry(SignalType.PDQ, original_pdq),
            HashEntry(SignalType.PDQ, old.pdq),
        ],
    )

    job = LookbackJob.objects.get(bank=bank)
    assert (job.state, job.total, job.done) == (LookbackJob.State.DONE, 3, 3)
    md5_match = Match.objects.get(query=exact, reference__bank=bank, matched_by="md5")
    pdq_match = Match.objects.get(query=edited, reference__bank=bank, matched_by="pdq")
    assert pdq_match.hash_distance == pdq_distance(original_pdq, edited.pdq) and pdq_match.hash_threshold == 31
    assert md5_match.found_by_lookback_id == pdq_match.found_by_lookback_id == job.id
    assert not Match.objects.filter(query=old, reference__bank=bank).exists()  # older than the window
    assert not Match.objects.filter(query=elsewhere).filter(reference__bank=bank).exists()  # another team
    queued = {item.match.id for item in review_selectors.review_items(user=admin)}
    assert {md5_match.id, pdq_match.id} <= queued
