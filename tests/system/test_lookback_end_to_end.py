"""Look-back and an exchange fetch through live services: web client → Redis → a real Celery worker →
Milvus Lite; the exchange is a local StopNCII stand-in (no live exchange is reached)."""

import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from search.banks import services as banks_services
from search.collection.models import ImageStatus, ReferenceImage
from search.core import dispatch
from search.exchanges import services as exchanges_services
from search.exchanges.models import BankExchange, ExchangeRun
from search.lookback.models import LookbackJob
from search.queries.models import Match, QueryImage
from search.teams.models import Role
from tests.exchange_standins import StopNCIIStandIn
from tests.exchange_standins.stopncii import FETCH_KEY, SUBSCRIPTION_KEY
from tests.factories import UserFactory, team_with
from tests.images import edited_copy, encode, image_upload, scene
from tests.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _collection(client, team) -> int:
    response = client.post(
        reverse("search:collection_list"), {"team": team.id, "name": "Known", "description": "", "match_threshold": 0.5}
    )
    return int(response.url.rstrip("/").split("/")[-1])


def _references(client, collection_id: int, named: dict[str, bytes]) -> None:
    files = [image_upload(name, data=data) for name, data in named.items()]
    client.post(reverse("search:references_upload", args=[collection_id]), {"source": "files", "files": files})
    wait_until(
        lambda: (
            ReferenceImage.objects.filter(original_name__in=list(named), status=ImageStatus.INDEXED).count()
            == len(named)
        ),
        timeout=120,
        what="the references to be indexed",
        every=0.2,
    )


def _query(client, collection_id: int, name: str, data: bytes, *, days_ago: int) -> QueryImage:
    client.post(reverse("search:query_upload", args=[collection_id]), {"image": image_upload(name, data=data)})
    query = QueryImage.objects.get(original_name=name)
    wait_until(
        lambda: QueryImage.objects.get(id=query.id).status == ImageStatus.INDEXED, timeout=60, what=name, every=0.2
    )
    QueryImage.objects.filter(id=query.id).update(created_at=timezone.now() - timedelta(days=days_ago))
    return QueryImage.objects.get(id=query.id)


def test_last_months_query_matches_a_reference_added_today(client, live_worker):
    user = UserFactory()
    team = team_with(user, Role.ADMIN)
    client.force_login(user)
    collection_id = _collection(client, team)
    _references(client, collection_id, {"filler.jpg": encode(scene(811))})
    query = _query(client, collection_id, "last-month.jpg", encode(edited_copy(scene(812))), days_ago=30)
    assert not query.matches.filter(reference__original_name="original.jpg").exists()

    started = time.monotonic()
    _references(client, collection_id, {"original.jpg": encode(scene(812))})
    original = ReferenceImage.objects.get(original_name="original.jpg")

    def job_of_original():
        jobs = LookbackJob.objects.filter(collection_id=collection_id, state=LookbackJob.State.DONE)
        return next((job for job in jobs if original.id in job.item_ids), None)

    wait_until(
        job_of_original,
        timeout=120,
        what="the look-back job of the new reference",
        every=0.2,
    )
    print(f"\nreference upload → look-back done through the live worker: {(time.monotonic() - started) * 1000:.0f} ms")
    match = Match.objects.get(query=query, reference__original_name="original.jpg")
    assert match.found_by_lookback is not None and match.final_score >= 0.5
    page = client.get(reverse("search:review_dashboard")).content.decode()
    assert "last-month.jpg" in page and "found by look-back" in page
    jobs = client.get(reverse("search:lookback_jobs", args=[team.slug])).content.decode()
    assert "1 / 1" in jobs and job_of_original().found == 1


def test_an_exchange_fetch_in_the_worker_finds_an_earlier_query(client, live_worker):
    user = UserFactory()
    team = team_with(user, Role.ADMIN)
    client.force_login(user)
    collection_id = _collection(client, team)
    _references(client, collection_id, {"filler.jpg": encode(scene(821))})
    query = _query(client, collection_id, "seen-before.jpg", encode(scene(822)), days_ago=12)
    bank = banks_services.bank_create(actor=user, team=team, name="NCII")
    with StopNCIIStandIn() as stopncii:
        stopncii.hash_put(query.pdq, time=int(time.time()) - 60)
        exchange = exchanges_services.exchange_configure(
            actor=user,
            bank=bank,
            kind="stop_ncii",
            config={},
            credentials={"fetch_function_key": FETCH_KEY, "subscription_key": SUBSCRIPTION_KEY},
        )
        BankExchange.objects.filter(id=exchange.id).update(base_url=stopncii.base_url)
        assert dispatch.task_send(dispatch.EXCHANGE_FETCH, exchange.id)
        wait_until(
            lambda: ExchangeRun.objects.filter(exchange=exchange, state=ExchangeRun.State.DONE).exists(),
            timeout=60,
            what="the exchange fetch in the worker",
            every=0.2,
        )
    run = ExchangeRun.objects.get(exchange=exchange)
    assert (run.added, run.removed) == (1, 0)
    wait_until(
        lambda: Match.objects.filter(query=query, reference__bank=bank, matched_by="pdq").exists(),
        timeout=60,
        what="the look-back of the fetched entry",
        every=0.2,
    )
    match = Match.objects.get(query=query, reference__bank=bank)
    assert match.hash_distance == 0 and match.found_by_lookback is not None
    page = client.get(reverse("search:bank_detail", args=[bank.id])).content.decode()
    assert "StopNCII" in page and "+1 new" in page
