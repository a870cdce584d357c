"""Webhook deliveries through a real HTTP receiver on 127.0.0.1 (http.server in a thread) that checks each
signature with the snippet of docs/webhooks.md: success, retries, giving up, redelivery, rotation, the
test event, and (e2e) a verdict delivered by a live Celery worker."""

from __future__ import annotations

import json
import time

import pytest
from django.db import connection
from django.urls import reverse

from search.collection.models import ImageStatus, ReferenceImage
from search.queries import services as queries_services
from search.queries.models import QueryImage
from search.review.models import ReviewDecision
from search.teams.models import Role
from search.webhooks import services as webhooks_services
from search.webhooks.models import DeliveryState, WebhookDelivery, WebhookEndpoint
from tests.factories import MembershipFactory, UserFactory, collection_for
from tests.services import CeleryWorker, RedisServer, database_url
from tests.waiting import wait_until
from tests.webhook_receiver import WebhookReceiver, closed_port

ALL_EVENTS = ["match.confirmed", "match.rejected", "query.flagged"]


@pytest.fixture
def hook_settings(settings):
    settings.ISC = settings.ISC.replace(
        webhook_allow_loopback=True, webhook_max_attempts=6, webhook_timeout_seconds=5.0
    )
    return settings


@pytest.fixture
def receivers():
    started: list[WebhookReceiver] = []

    def start(**kwargs) -> WebhookReceiver:
        receiver = WebhookReceiver(**kwargs).start()
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.stop()


@pytest.fixture
def deliver(eager_tasks, django_capture_on_commit_callbacks):
    """Runs `action` and then, as a commit would, the deliveries it queued (eagerly, retries included)."""

    def run(action):
        with django_capture_on_commit_callbacks(execute=True):
            return action()

    return run


def _endpoint(admin, team, url, events=ALL_EVENTS):
    return webhooks_services.endpoint_create(actor=admin, team=team, url=url, events=events)


def _admin_and_team():
    admin = UserFactory()
    return admin, collection_for(admin).team


def _test_event(deliver, admin, endpoint) -> WebhookDelivery:
    delivery = deliver(lambda: webhooks_services.endpoint_test_send(actor=admin, endpoint=endpoint))
    delivery.refresh_from_db()
    return delivery


def _attempts(delivery: WebhookDelivery) -> list[tuple]:
    return list(delivery.attempt_log.values_list("number", "status_code", "outcome"))


@pytest.mark.django_db
def test_a_test_event_arrives_signed_and_verifies_with_the_documented_snippet(hook_settings, receivers, deliver):
    admin, team = _admin_and_team()
    receiver = receivers(statuses=[200])
    endpoint, secret = _endpoint(admin, team, receiver.url, events=["match.confirmed"])
    receiver.secret = secret
    delivery = _test_event(deliver, admin, endpoint)
    [request] = receiver.received
    assert request.verified and request.status == 200
    assert request.headers["X-ISC-Event"] == "test"
    assert request.headers["X-ISC-Delivery"] == str(delivery.id)
    assert request.headers["Content-Type"] == "application/json"
    assert abs(int(request.headers["X-ISC-Timestamp"]) - time.time()) < 300
    body = json.loads(request.body)
    assert body == delivery.payload and body["type"] == "test" and body["id"] == str(delivery.event_id)
    assert body["team"]["slug"] == team.slug and body["data"]["endpoint_id"] == endpoint.id
    assert delivery.state == DeliveryState.DELIVERED and delivery.attempts == 1 and delivery.delivered_at
    assert delivery.last_status_code == 200 and delivery.response_snippet == '{"ok": true}'
    assert _attempts(delivery) == [(1, 200, "delivered")]


@pytest.mark.django_db
def test_a_500_is_retried_until_the_receiver_accepts(hook_settings, receivers, deliver, client):
    admin, team = _admin_and_team()
    receiver = receivers(statuses=[500, 503, 200])
    endpoint, receiver.secret = _endpoint(admin, team, receiver.url)
    delivery = _test_event(deliver, admin, endpoint)
    assert [r.status for r in receiver.received] == [500, 503, 200]
    assert all(r.verified for r in receiver.received), "each attempt signed afresh"
    assert len({r.body for r in receiver.received}) == 1, "the same bytes each time"
    assert {r.headers["X-ISC-Delivery"] for r in receiver.received} == {str(delivery.id)}
    assert delivery.state == DeliveryState.DELIVERED and delivery.attempts == 3
    assert _attempts(delivery) == [(1, 500, "retry"), (2, 503, "retry"), (3, 200, "delivered")]
    client.force_login(admin)
    page = client.get(reverse("search:webhook_delivery", args=[team.slug, endpoint.id, delivery.id])).content.decode()
    assert all(f'data-attempt="{n}"' in page for n in (1, 2, 3)) and "error 500" in page


@pytest.mark.django_db
@pytest.mark.parametrize("status", [400, 401, 404, 410, 422])
def test_a_4xx_gives_up_at_once(hook_settings, receivers, deliver, status):
    admin, team = _admin_and_team()
    receiver = receivers(statuses=[status, 200])
    endpoint, receiver.secret = _endpoint(admin, team, receiver.url)
    delivery = _test_event(deliver, admin, endpoint)
    assert len(receiver.received) == 1
    assert delivery.state == DeliveryState.FAILED and delivery.attempts == 1
    assert delivery.last_status_code == status and delivery.last_error == f"HTTP {status}"
    assert _attempts(delivery) == [(1, status, "failed")]


@pytest.mark.django_db
@pytest.mark.parametrize("status", [408, 429])
def test_408_and_429_are_retried(hook_settings, receivers, deliver, status):
    admin, team = _admin_and_team()
    receiver = receivers(statuses=[status, 200])
    endpoint, receiver.secret = _endpoint(admin, team, receiver.url)
    delivery = _test_event(deliver, admin, endpoint)
    assert delivery.state == DeliveryState.DELIVERED and _attempts(delivery) == [
        (1, status, "retry"),
        (2, 200, "delivered"),
    ]


@pytest.mark.django_db
def test_it_stops_after_the_maximum_number_of_attempts(hook_settings, receivers, deliver):
    hook_settings.ISC = hook_settings.ISC.replace(webhook_max_attempts=3)
    admin, team = _admin_and_team()
    receiver = receivers(statuses=[503])
    endpoint, receiver.secret = _endpoint(admin, team, receiver.url)
    delivery = _test_event(deliver, admin, endpoint)
    assert len(receiver.received) == 3
    assert delivery.state == DeliveryState.FAILED and delivery.attempts == 3
    assert delivery.last_error == "HTTP 503; gave up after 3 attempts"
    assert _attempts(delivery) == [(1, 503, "retry"), (2, 503, "retry"), (3, 503, "failed")]


@pytest.mark.django_db
def test_connection_errors_and_timeouts_are_retried_and_logged(hook_settings, receivers, deliver):
    hook_settings.ISC = hook_settings.ISC.replace(webhook_max_attempts=2, webhook_timeout_seconds=0.5)
    admin, team = _admin_and_team()
    refused, _ = _endpoint(admin, team, f"http://127.0.0.1:{closed_port()}/hook")
    delivery = _test_event(deliver, admin, refused)
    assert delivery.state == DeliveryState.FAILED and delivery.attempts == 2
    assert [a.status_code for a in delivery.attempt_log.all()] == [None, None]
    assert "ConnectionError" in delivery.attempt_log.first().error and "gave up after 2" in delivery.last_error

    slow = receivers(statuses=[200], delay_seconds=1.5)
    late, slow.secret = _endpoint(admin, team, slow.url)
    delivery = _test_event(deliver, admin, late)
    assert delivery.state == DeliveryState.FAILED and delivery.attempts == 2
    assert delivery.attempt_log.first().error == "No answer within 0.5 s."


@pytest.mark.django_db
def test_redeliver_sends_the_same_event_again_as_a_new_delivery(hook_settings, receivers, deliver, client):
    admin, team = _admin_and_team()
    receiver = receivers(statuses=[404, 200])
    endpoint, receiver.secret = _endpoint(admin, team, receiver.url)
    first = _test_event(deliver, admin, endpoint)
    assert first.state == DeliveryState.FAILED
    client.force_login(admin)
    response = deliver(
        lambda: client.post(reverse("search:webhook_redeliver", args=[team.slug, endpoint.id, first.id]))
    )
    again = WebhookDelivery.objects.exclude(id=first.id).get()
    assert response.status_code == 302 and response.url.endswith(f"/deliveries/{again.id}/")
    assert again.state == DeliveryState.DELIVERED and again.redelivery_of == first
    assert again.event_id == first.event_id and again.payload == first.payload
    second = receiver.received[1]
    assert second.verified and second.headers["X-ISC-Delivery"] == str(again.id)
    assert json.loads(second.body)["id"] == str(first.event_id), "receivers deduplicate on the event id"
    first.refresh_from_db()
    assert first.state == DeliveryState.FAILED, "the original keeps its history"


@pytest.mark.django_db
def test_during_a_rotation_both_secrets_verify_and_after_it_only_the_new_one(hook_settings, receivers, deliver):
    from django.utils import timezone

    admin, team = _admin_and_team()
    old_holder = receivers(statuses=[200])
    endpoint, old_holder.secret = _endpoint(admin, team, old_holder.url)
    endpoint, new_secret = webhooks_services.endpoint_secret_rotate(actor=admin, endpoint=endpoint)
    delivery = _test_event(deliver, admin, endpoint)
    [request] = old_holder.received
    assert request.verified and request.headers["X-ISC-Signature"].count("v1=") == 2
    assert delivery.state == DeliveryState.DELIVERED
    new_holder = WebhookReceiver(secret=new_secret)
    assert new_holder.verify(
        new_secret, request.body, request.headers["X-ISC-Timestamp"], request.headers["X-ISC-Signature"]
    )

    WebhookEndpoint.objects.filter(id=endpoint.id).update(previous_secret_expires_at=timezone.now())
    endpoint.refresh_from_db()
    late = _test_event(deliver, admin, endpoint)
    assert old_holder.received[1].headers["X-ISC-Signature"].count("v1=") == 1
    assert not old_holder.received[1].verified and late.state == DeliveryState.FAILED and late.last_status_code == 401


@pytest.mark.django_db
def test_a_url_refused_at_send_time_and_a_deactivated_endpoint_fail_without_a_request(
    hook_settings, receivers, deliver
):
    admin, team = _admin_and_team()
    receiver = receivers(statuses=[200])
    endpoint, receiver.secret = _endpoint(admin, team, receiver.url)
    hook_settings.ISC = hook_settings.ISC.replace(webhook_allow_loopback=False)
    delivery = _test_event(deliver, admin, endpoint)
    assert delivery.state == DeliveryState.FAILED and delivery.attempts == 1 and "loopback" in delivery.last_error
    hook_settings.ISC = hook_settings.ISC.replace(webhook_allow_loopback=True)
    queued = webhooks_services.endpoint_test_send(actor=admin, endpoint=endpoint)  # not committed: not sent yet
    webhooks_services.endpoint_update(actor=admin, endpoint=endpoint, active=False)
    from workers.tasks.webhooks import webhook_deliver

    assert webhook_deliver.apply(args=(queued.id, 1)).get() == DeliveryState.FAILED
    queued.refresh_from_db()
    assert queued.last_error == "The endpoint was deactivated."
    assert receiver.received == []


@pytest.mark.django_db
def test_a_duplicate_task_message_sends_nothing_twice(hook_settings, receivers, deliver):
    from workers.tasks.webhooks import webhook_deliver

    admin, team = _admin_and_team()
    receiver = receivers(statuses=[200])
    endpoint, receiver.secret = _endpoint(admin, team, receiver.url)
    delivery = _test_event(deliver, admin, endpoint)
    assert webhook_deliver.apply(args=(delivery.id, 1)).get() == "skipped"
    assert len(receiver.received) == 1


def _match_world(admin, team):
    """A reference, a query and their match, as rows (no worker or index involved)."""
    collection = team.collections.get()
    rows = {}
    for model, name in ((ReferenceImage, "ref.jpg"), (QueryImage, "meme.jpg")):
        rows[model] = model.objects.create(
            collection=collection,
            file=f"images/{name}",
            original_name=name,
            sha256=name.encode().hex().ljust(64, "0"),
            width=64,
            height=64,
            status=ImageStatus.INDEXED,
        )
    queries_services.query_results_record(
        query_id=rows[QueryImage].id,
        descriptor_version="v",
        search_ms=1,
        results=[queries_services.MatchResult(rows[ReferenceImage].id, 0.8, True, 30, 0.6, [], 0.8)],
    )
    return rows[QueryImage].matches.get()


@pytest.mark.django_db
def test_a_verdict_from_the_review_page_reaches_the_receiver(hook_settings, receivers, deliver, client):
    admin, team = _admin_and_team()
    moderator = MembershipFactory(team=team, role=Role.MODERATOR).user
    receiver = receivers(statuses=[200])
    endpoint, receiver.secret = _endpoint(admin, team, receiver.url, events=["match.rejected"])
    match = _match_world(admin, team)
    client.force_login(moderator)
    deliver(lambda: client.post(reverse("search:match_review", args=[match.id]), {"decision": "rejected"}))
    [request] = receiver.received
    body = json.loads(request.body)
    assert request.verified and request.headers["X-ISC-Event"] == "match.rejected"
    assert body["data"]["match"]["id"] == match.id and body["data"]["match"]["review"] == ReviewDecision.REJECTED
    assert WebhookDelivery.objects.get().state == DeliveryState.DELIVERED


# --- e2e: a live worker ---------------------------------------------------------------------------------


@pytest.fixture
def webhook_worker(tmp_path, settings):
    from isc_site.celery import app
    from tests.services import broker_switch

    redis_server = RedisServer(tmp_path).start()
    previous_broker = app.conf.broker_url
    broker_switch(app, redis_server.url)
    worker = CeleryWorker(
        env={
            "CELERY_BROKER_URL": redis_server.url,
            "DATABASE_URL": database_url(connection.settings_dict),
            "ISC_MEDIA_ROOT": str(tmp_path / "media"),
            "ISC_WARM_UP": "0",
            "ISC_WEBHOOK_ALLOW_LOOPBACK": "1",
            # Waits of 0.5-1 s before the second attempt: the retry goes through the broker's countdown.
            "ISC_WEBHOOK_BACKOFF_SECONDS": "1",
        },
        log_path=tmp_path / "worker.log",
    ).start(app)
    yield worker
    worker.stop()
    broker_switch(app, previous_broker)
    redis_server.stop()


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_confirm_verdict_is_delivered_signed_by_a_live_worker(hook_settings, receivers, webhook_worker, client):
    admin, team = _admin_and_team()
    moderator = MembershipFactory(team=team, role=Role.MODERATOR).user
    receiver = receivers(statuses=[500, 200])
    endpoint, receiver.secret = _endpoint(admin, team, receiver.url, events=["match.confirmed"])
    match = _match_world(admin, team)
    client.force_login(moderator)
    started = time.monotonic()
    client.post(reverse("search:match_review", args=[match.id]), {"decision": "confirmed"})
    delivery = WebhookDelivery.objects.get()
    wait_until(
        lambda: WebhookDelivery.objects.get(id=delivery.id).state == DeliveryState.DELIVERED,
        timeout=120,
        what="the live worker to deliver the webhook after one retry",
        every=0.2,
    )
    print(f"\nverdict → delivered by the live worker (one 500, backoff, then 200): {time.monotonic() - started:.1f} s")
    assert [r.status for r in receiver.received] == [500, 200]
    assert all(r.verified for r in receiver.received)
    body = json.loads(receiver.received[-1].body)
    assert body["type"] == "match.confirmed" and body["data"]["match"]["id"] == match.id
    assert body["data"]["match"]["reviewed_by"] == moderator.username
    delivery.refresh_from_db()
    assert _attempts(delivery) == [(1, 500, "retry"), (2, 200, "delivered")]


@pytest.mark.django_db
def test_the_sweep_sends_a_delivery_whose_message_never_reached_the_broker(hook_settings, receivers, eager_tasks):
    from django.utils import timezone

    from workers.tasks.webhooks import webhook_deliveries_sweep

    admin, team = _admin_and_team()
    receiver = receivers(statuses=[200])
    endpoint, receiver.secret = _endpoint(admin, team, receiver.url)
    # Without a commit the on-commit enqueue never runs: the row exists, its message does not.
    lost = webhooks_services.endpoint_test_send(actor=admin, endpoint=endpoint)
    overdue = hook_settings.ISC.webhook_sweep_overdue_seconds

    assert webhooks_services.deliveries_sweep(overdue_seconds=overdue, limit=10) == 0, "not overdue yet"
    assert receiver.received == []

    WebhookDelivery.objects.filter(id=lost.id).update(
        next_attempt_at=timezone.now() - timezone.timedelta(seconds=overdue + 1)
    )
    assert webhook_deliveries_sweep.apply().get() == 1

    lost.refresh_from_db()
    assert lost.state == DeliveryState.DELIVERED and lost.attempts == 1
    assert [request.verified for request in receiver.received] == [True]
    assert webhooks_services.deliveries_sweep(overdue_seconds=0, limit=10) == 0, "a delivered row is left alone"


@pytest.mark.django_db
def test_the_sweep_takes_over_a_claim_whose_worker_died_and_sends_it_once(hook_settings, receivers, eager_tasks):
    from django.utils import timezone

    admin, team = _admin_and_team()
    receiver = receivers(statuses=[200])
    endpoint, receiver.secret = _endpoint(admin, team, receiver.url)
    delivery = webhooks_services.endpoint_test_send(actor=admin, endpoint=endpoint)
    long_ago = timezone.now() - timezone.timedelta(seconds=webhooks_services.STALE_CLAIM_SECONDS + 600)
    # Attempt 2 claimed by a worker that then died, its message gone with the broker.
    WebhookDelivery.objects.filter(id=delivery.id).update(
        state=DeliveryState.SENDING, attempts=2, sending_since=long_ago
    )

    assert webhooks_services.deliveries_sweep(overdue_seconds=300, limit=10) == 1

    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == (DeliveryState.DELIVERED, 2)
    assert len(receiver.received) == 1
