"""Webhooks on the site side: signatures (and the rotation window), secrets at rest, URL checks, events
from verdicts and flagged queries, the pages (two teams, roles) and the audit trail."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from search.collection import services as collection_services
from search.core.models import AuditAction, AuditEvent
from search.core.uploads import Payload
from search.queries import services as queries_services
from search.review import services as review_services
from search.review.models import ReviewDecision
from search.teams.models import Role
from search.webhooks import delivery_policy
from search.webhooks import services as webhooks_services
from search.webhooks.destinations import WebhookUrlRefused, url_check
from search.webhooks.events import event_emit
from search.webhooks.models import DeliveryState, WebhookDelivery, WebhookEndpoint
from search.webhooks.secret_box import SecretUnreadable, secret_decrypt
from search.webhooks.signing import signature_compute, signature_header, signature_verify, signatures_parse
from tests.factories import MembershipFactory, UserFactory, collection_for
from tests.images import encode, scene

pytestmark = pytest.mark.django_db

ALL_EVENTS = ["match.confirmed", "match.rejected", "query.flagged"]


@pytest.fixture
def loopback(settings):
    settings.ISC = settings.ISC.replace(webhook_allow_loopback=True)
    return settings


# --- signatures -----------------------------------------------------------------------------------------


def test_signature_is_hex_hmac_sha256_of_timestamp_dot_body():
    import hashlib
    import hmac

    body = b'{"id":"x","type":"test"}'
    header = signature_header(secrets=["whsec_a"], timestamp=1700000000, body=body)
    expected = hmac.new(b"whsec_a", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert header == f"v1={expected}"
    assert len(expected) == 64


def test_verification_accepts_the_window_and_refuses_replays_tampering_and_wrong_secrets():
    body = b'{"a":1}'
    now = 1_800_000_000
    header = signature_header(secrets=["whsec_a"], timestamp=now, body=body)
    ok = dict(secret="whsec_a", signature_header_value=header, timestamp_header_value=str(now), body=body)
    assert signature_verify(**ok, now=now + 299)
    assert not signature_verify(**ok, now=now + 301), "older than 5 minutes is a replay"
    assert not signature_verify(**{**ok, "body": b'{"a":2}'}, now=now)
    assert not signature_verify(**{**ok, "secret": "whsec_b"}, now=now)
    assert not signature_verify(**{**ok, "timestamp_header_value": str(now + 1)}, now=now), "the stamp is signed"
    assert not signature_verify(**{**ok, "timestamp_header_value": "soon"}, now=now)


def test_a_rotation_sends_two_signatures_and_either_secret_verifies():
    body = b"{}"
    header = signature_header(secrets=["whsec_new", "whsec_old"], timestamp=100, body=body)
    assert signatures_parse(header) == [
        signature_compute(secret="whsec_new", timestamp=100, body=body),
        signature_compute(secret="whsec_old", timestamp=100, body=body),
    ]
    assert header.count("v1=") == 2
    for secret in ("whsec_new", "whsec_old"):
        assert signature_verify(
            secret=secret, signature_header_value=header, timestamp_header_value="100", body=body, now=100
        )
    assert not signature_verify(
        secret="whsec_other", signature_header_value=header, timestamp_header_value="100", body=body, now=100
    )


# --- endpoints, secrets, rotation ---------------------------------------------------------------------


def test_the_secret_is_stored_encrypted_and_never_in_the_audit_log(loopback):
    admin = UserFactory()
    team = collection_for(admin).team
    endpoint, secret = webhooks_services.endpoint_create(
        actor=admin, team=team, url="http://127.0.0.1:8999/hook", events=["match.confirmed"]
    )
    endpoint.refresh_from_db()
    assert secret.startswith("whsec_") and len(secret) > 40
    assert secret not in endpoint.secret_encrypted
    assert secret_decrypt(endpoint.secret_encrypted) == secret
    event = AuditEvent.objects.get(action=AuditAction.WEBHOOK_CREATE)
    assert secret not in json.dumps(event.after)
    assert event.after["secret_hint"] == endpoint.secret_hint and event.after["events"] == ["match.confirmed"]


def test_a_secret_encrypted_under_other_keys_is_reported_unreadable(loopback, settings):
    admin = UserFactory()
    endpoint, _ = webhooks_services.endpoint_create(
        actor=admin, team=collection_for(admin).team, url="http://127.0.0.1:8999/h", events=ALL_EVENTS
    )
    from cryptography.fernet import Fernet

    settings.ISC = settings.ISC.replace(webhook_secret_keys=[Fernet.generate_key().decode()])
    with pytest.raises(SecretUnreadable):
        webhooks_services.endpoint_signing_secrets(endpoint)


def test_rotation_keeps_the_previous_secret_signing_for_the_grace_window(loopback):
    admin = UserFactory()
    endpoint, first = webhooks_services.endpoint_create(
        actor=admin, team=collection_for(admin).team, url="http://127.0.0.1:8999/h", events=ALL_EVENTS
    )
    assert webhooks_services.endpoint_signing_secrets(endpoint) == [first]
    endpoint, second = webhooks_services.endpoint_secret_rotate(actor=admin, endpoint=endpoint)
    assert second != first
    assert webhooks_services.endpoint_signing_secrets(endpoint) == [second, first]
    assert endpoint.previous_secret_expires_at - timezone.now() > timedelta(hours=23, minutes=59)
    # Once the window is over only the new secret signs.
    WebhookEndpoint.objects.filter(id=endpoint.id).update(previous_secret_expires_at=timezone.now())
    endpoint.refresh_from_db()
    assert webhooks_services.endpoint_signing_secrets(endpoint) == [second]
    rotated = AuditEvent.objects.get(action=AuditAction.WEBHOOK_ROTATE)
    assert first not in json.dumps(rotated.after) and second not in json.dumps(rotated.after)


def test_url_check_refuses_other_schemes_link_local_metadata_loopback_and_private(settings):
    settings.ISC = settings.ISC.replace(webhook_allow_loopback=False, webhook_allow_private=False)
    for url in (
        "ftp://93.184.215.14/x",
        "file:///etc/passwd",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/x",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://[fd00:ec2::254]/",
        "http://127.0.0.1:8999/x",
        "http://[::1]/x",
        "http://[::ffff:127.0.0.1]/x",
        "http://0.0.0.0/x",
        "http://10.1.2.3/x",
        "http://192.168.0.10/x",
        "http://100.64.0.1/x",
        "http://localhost/x",
    ):
        with pytest.raises(WebhookUrlRefused):
            url_check(url, resolve=True)
    url_check("https://93.184.215.14/hook", resolve=True)
    settings.ISC = settings.ISC.replace(webhook_allow_loopback=True, webhook_allow_private=True)
    url_check("http://127.0.0.1:8999/x", resolve=True)
    url_check("http://10.1.2.3/x", resolve=True)
    with pytest.raises(WebhookUrlRefused):
        url_check("http://169.254.169.254/", resolve=True), "link-local stays refused whatever the settings"


def test_only_known_events_can_be_subscribed(loopback):
    admin = UserFactory()
    with pytest.raises(ValueError):
        webhooks_services.endpoint_create(
            actor=admin, team=collection_for(admin).team, url="http://127.0.0.1:8999/h", events=["match.deleted"]
        )


# --- events ---------------------------------------------------------------------------------------------


@dataclass
class World:
    admin: object
    moderator: object
    collection: object
    reference: object
    query: object


def _world(seed: int = 10) -> World:
    admin = UserFactory()
    collection = collection_for(admin, Role.ADMIN)
    moderator = MembershipFactory(team=collection.team, role=Role.MODERATOR).user
    reference = collection_services.reference_images_add(
        actor=admin, collection=collection, items=[Payload("ref.jpg", encode(scene(seed)))]
    ).created[0]
    query, _ = queries_services.query_image_add(
        actor=admin, collection=collection, payload=Payload("q.jpg", encode(scene(seed + 1)))
    )
    return World(admin, moderator, collection, reference, query)


def _results(world: World, score: float):
    queries_services.query_results_record(
        query_id=world.query.id,
        descriptor_version="v",
        search_ms=1,
        results=[queries_services.MatchResult(world.reference.id, score, True, 12, 0.5, [[0.1, 0.2, 0.3, 0.4]], score)],
    )
    return world.query.matches.get()


def _endpoint(world: World, events=ALL_EVENTS, url="http://127.0.0.1:8999/hook") -> WebhookEndpoint:
    return webhooks_services.endpoint_create(actor=world.admin, team=world.collection.team, url=url, events=events)[0]


def test_a_confirm_queues_a_signed_match_confirmed_delivery_after_commit(
    media_root, loopback, django_capture_on_commit_callbacks
):
    world = _world()
    match = _results(world, 0.3)  # below the threshold: no query.flagged
    endpoint = _endpoint(world)
    muted = _endpoint(world, events=["query.flagged"])
    with django_capture_on_commit_callbacks() as callbacks:
        review_services.match_review(match=match, reviewer=world.moderator, decision=ReviewDecision.CONFIRMED)
    delivery = WebhookDelivery.objects.get()
    assert len(callbacks) == 1, "one task, queued only once the verdict is committed"
    assert delivery.endpoint == endpoint and not muted.deliveries.exists()
    assert delivery.event_type == "match.confirmed" and delivery.state == DeliveryState.PENDING
    body = delivery.payload
    assert set(body) == {"id", "type", "created_at", "team", "data"}
    assert body["id"] == str(delivery.event_id) and body["type"] == "match.confirmed"
    assert body["team"] == {
        "id": world.collection.team.id,
        "slug": world.collection.team.slug,
        "name": world.collection.team.name,
    }
    data = body["data"]
    assert data["match"]["id"] == match.id and data["match"]["review"] == "confirmed"
    assert data["match"]["final_score"] == pytest.approx(0.3)
    assert data["match"]["reviewed_by"] == world.moderator.username
    assert data["query"]["url"] == reverse("search:query_detail", args=[world.query.id])
    assert data["query"]["image_url"] == f"/files/query/{world.query.id}/original/"
    assert data["match"]["reference"]["image_url"] == f"/files/reference/{world.reference.id}/original/"
    assert data["collection"]["match_threshold"] == 0.5


def test_a_reject_sends_match_rejected_and_an_undo_sends_nothing(media_root, loopback):
    world = _world()
    match = _results(world, 0.3)
    _endpoint(world)
    review_services.match_review(match=match, reviewer=world.moderator, decision=ReviewDecision.REJECTED)
    review_services.match_review(match=match, reviewer=world.moderator, decision=ReviewDecision.UNREVIEWED)
    assert list(WebhookDelivery.objects.values_list("event_type", flat=True)) == ["match.rejected"]


def test_a_query_with_a_match_at_the_threshold_is_flagged_and_one_below_is_not(media_root, loopback):
    world = _world()
    _endpoint(world)
    _results(world, 0.49)
    assert not WebhookDelivery.objects.exists()
    match = _results(world, 0.5)
    delivery = WebhookDelivery.objects.get()
    assert delivery.event_type == "query.flagged"
    data = delivery.payload["data"]
    assert data["query"]["id"] == world.query.id
    assert [m["id"] for m in data["matches"]] == [match.id]
    assert data["matches"][0]["reference"]["id"] == world.reference.id


def test_a_rerun_with_the_same_flagged_reference_sends_no_second_query_flagged(media_root, loopback):
    world = _world()
    _endpoint(world)
    _results(world, 0.8)
    _results(world, 0.9)  # a retry or re-run: same reference flagged again
    assert WebhookDelivery.objects.filter(event_type="query.flagged").count() == 1
    _results(world, 0.3)
    _results(world, 0.8)  # below the threshold in between: flagged anew
    assert WebhookDelivery.objects.filter(event_type="query.flagged").count() == 2


def test_a_rolled_back_verdict_leaves_no_delivery(media_root, loopback):
    from django.db import transaction

    world = _world()
    match = _results(world, 0.3)
    _endpoint(world)
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            review_services.match_review(match=match, reviewer=world.moderator, decision=ReviewDecision.CONFIRMED)
            raise RuntimeError("something after the verdict failed")
    assert not WebhookDelivery.objects.exists()


def test_events_go_only_to_the_teams_own_active_endpoints(media_root, loopback):
    ours, theirs = _world(10), _world(20)
    active = _endpoint(ours)
    inactive = _endpoint(ours)
    webhooks_services.endpoint_update(actor=ours.admin, endpoint=inactive, active=False)
    other_team = _endpoint(theirs)
    event_emit(team=ours.collection.team, name="match.confirmed", payload={"x": 1})
    assert list(WebhookDelivery.objects.values_list("endpoint_id", flat=True)) == [active.id]
    assert not other_team.deliveries.exists()


# --- pages: two teams, roles ------------------------------------------------------------------------------


@dataclass
class HookWorld:
    admin: object
    moderator: object
    team: object
    endpoint: WebhookEndpoint
    delivery: WebhookDelivery


def _hook_world() -> HookWorld:
    admin = UserFactory()
    team = collection_for(admin).team
    moderator = MembershipFactory(team=team, role=Role.MODERATOR).user
    endpoint, _ = webhooks_services.endpoint_create(
        actor=admin, team=team, url="http://127.0.0.1:8999/h", events=ALL_EVENTS
    )
    delivery = webhooks_services.endpoint_test_send(
        actor=admin, endpoint=endpoint
    )  # queued only on commit: stays pending
    return HookWorld(admin, moderator, team, endpoint, delivery)


def _routes(w: HookWorld, slug: str | None = None, endpoint_id: int | None = None, delivery_id: int | None = None):
    slug = slug or w.team.slug
    e = endpoint_id or w.endpoint.id
    d = delivery_id or w.delivery.id
    edit = {"url": "http://127.0.0.1:8998/h2", "description": "", "events": ["query.flagged"]}
    return [
        ("webhook_list", [slug], "get", None),
        ("webhook_list", [slug], "post", {"url": "http://127.0.0.1:8997/new", "events": ["match.rejected"]}),
        ("webhook_detail", [slug, e], "get", None),
        ("webhook_detail", [slug, e], "post", edit),
        ("webhook_active", [slug, e], "post", {"active": "0"}),
        ("webhook_active", [slug, e], "post", {"active": "1"}),
        ("webhook_rotate", [slug, e], "post", {}),
        ("webhook_test", [slug, e], "post", {}),
        ("webhook_delivery", [slug, e, d], "get", None),
        ("webhook_redeliver", [slug, e, d], "post", {}),
        ("webhook_delete", [slug, e], "post", {}),
    ]


def _call(client, name, args, method, data):
    url = reverse(f"search:{name}", args=args)
    return client.get(url) if method == "get" else client.post(url, data or {})


@pytest.fixture
def hook_teams(loopback):
    return _hook_world(), _hook_world()


def test_every_webhook_page_works_for_the_teams_admin(client, hook_teams):
    ours, _ = hook_teams
    client.force_login(ours.admin)
    for name, args, method, data in _routes(ours):
        response = _call(client, name, args, method, data)
        assert response.status_code in (200, 302), (name, method, response.status_code)
    assert not WebhookEndpoint.objects.filter(id=ours.endpoint.id).exists(), "the last route deleted it"


def test_another_teams_admin_gets_404_on_every_webhook_page_and_changes_nothing(client, hook_teams):
    ours, theirs = hook_teams
    client.force_login(theirs.admin)
    snapshot = (WebhookEndpoint.objects.count(), WebhookDelivery.objects.count(), AuditEvent.objects.count())
    # Their slug with our ids, and our slug with our ids.
    mixed = _routes(ours, slug=theirs.team.slug) + _routes(ours)
    # Their endpoint with our delivery.
    mixed += [
        r for r in _routes(theirs, delivery_id=ours.delivery.id) if r[0] in ("webhook_delivery", "webhook_redeliver")
    ]
    for name, args, method, data in mixed:
        if name == "webhook_list" and args[0] == theirs.team.slug:
            continue  # their own list, not ours
        response = _call(client, name, args, method, data)
        assert response.status_code == 404, (name, args, method, response.status_code)
    assert snapshot == (WebhookEndpoint.objects.count(), WebhookDelivery.objects.count(), AuditEvent.objects.count())
    listing = client.get(reverse("search:webhook_list", args=[theirs.team.slug])).content.decode()
    assert theirs.endpoint.url in listing and f"/webhooks/{ours.endpoint.id}/" not in listing


@pytest.mark.parametrize("role", [Role.VIEWER, Role.UPLOADER, Role.MODERATOR])
def test_members_below_admin_get_403_on_every_webhook_page(client, hook_teams, role):
    ours, _ = hook_teams
    member = MembershipFactory(team=ours.team, role=role).user
    client.force_login(member)
    before = AuditEvent.objects.count()
    for name, args, method, data in _routes(ours):
        response = _call(client, name, args, method, data)
        assert response.status_code == 403, (name, method, response.status_code)
    assert AuditEvent.objects.count() == before


def test_visitors_are_sent_to_log_in(client, hook_teams):
    ours, _ = hook_teams
    for name, args, method, data in _routes(ours):
        response = _call(client, name, args, method, data)
        assert response.status_code == 302 and "/login" in response.url, name


def test_the_secret_shows_once_on_create_and_on_rotate(client, loopback):
    admin = UserFactory()
    team = collection_for(admin).team
    client.force_login(admin)
    response = client.post(
        reverse("search:webhook_list", args=[team.slug]),
        {"url": "http://127.0.0.1:8999/hook", "description": "SIEM", "events": ["match.confirmed", "query.flagged"]},
    )
    endpoint = WebhookEndpoint.objects.get()
    secret = secret_decrypt(endpoint.secret_encrypted)
    assert response.status_code == 200 and secret in response.content.decode()
    assert "no-store" in response["Cache-Control"], "no cache keeps the secret"
    assert endpoint.events == ["match.confirmed", "query.flagged"] and endpoint.created_by == admin
    for url in (
        reverse("search:webhook_list", args=[team.slug]),
        reverse("search:webhook_detail", args=[team.slug, endpoint.id]),
    ):
        page = client.get(url).content.decode()
        assert secret not in page and endpoint.secret_hint in page
    rotated = client.post(reverse("search:webhook_rotate", args=[team.slug, endpoint.id]))
    endpoint.refresh_from_db()
    new_secret = secret_decrypt(endpoint.secret_encrypted)
    assert new_secret != secret and new_secret in rotated.content.decode()
    assert "no-store" in rotated["Cache-Control"]
    assert secret not in rotated.content.decode()
    assert (
        new_secret not in client.get(reverse("search:webhook_detail", args=[team.slug, endpoint.id])).content.decode()
    )


def test_a_refused_url_is_a_form_error(client, settings):
    settings.ISC = settings.ISC.replace(webhook_allow_loopback=False)
    admin = UserFactory()
    team = collection_for(admin).team
    client.force_login(admin)
    response = client.post(
        reverse("search:webhook_list", args=[team.slug]), {"url": "http://169.254.169.254/", "events": ["test"]}
    )
    assert response.status_code == 200 and not WebhookEndpoint.objects.exists()
    assert "link-local" in response.content.decode()


def test_every_change_is_audited_with_before_and_after(client, loopback):
    admin = UserFactory()
    team = collection_for(admin).team
    client.force_login(admin)
    client.post(
        reverse("search:webhook_list", args=[team.slug]),
        {"url": "http://127.0.0.1:8999/h", "events": ["match.confirmed"]},
    )
    endpoint = WebhookEndpoint.objects.get()
    detail = reverse("search:webhook_detail", args=[team.slug, endpoint.id])
    client.post(
        detail, {"url": "http://127.0.0.1:8999/h", "description": "", "events": ["match.confirmed", "match.rejected"]}
    )
    client.post(reverse("search:webhook_active", args=[team.slug, endpoint.id]), {"active": "0"})
    client.post(reverse("search:webhook_active", args=[team.slug, endpoint.id]), {"active": "1"})
    client.post(reverse("search:webhook_rotate", args=[team.slug, endpoint.id]))
    client.post(reverse("search:webhook_test", args=[team.slug, endpoint.id]))
    delivery = WebhookDelivery.objects.get()
    client.post(reverse("search:webhook_redeliver", args=[team.slug, endpoint.id, delivery.id]))
    client.post(reverse("search:webhook_delete", args=[team.slug, endpoint.id]))
    events = list(AuditEvent.objects.filter(team=team, action__startswith="webhook.").order_by("id"))
    assert [e.action for e in events] == [
        "webhook.create",
        "webhook.update",
        "webhook.update",
        "webhook.update",
        "webhook.rotate",
        "webhook.test",
        "webhook.redeliver",
        "webhook.delete",
    ]
    assert events[1].before["events"] == ["match.confirmed"]
    assert events[1].after["events"] == ["match.confirmed", "match.rejected"]
    assert (events[2].before["active"], events[2].after["active"]) == (True, False)
    assert events[6].after["event_id"] == str(delivery.event_id)
    assert events[7].before["url"] == "http://127.0.0.1:8999/h" and events[7].before["deliveries"] == 2
    assert all(e.actor == admin for e in events)


def test_a_deactivated_endpoint_gets_no_test_event_nor_redelivery(loopback):
    w = _hook_world()
    webhooks_services.endpoint_update(actor=w.admin, endpoint=w.endpoint, active=False)
    with pytest.raises(webhooks_services.WebhookRuleBroken):
        webhooks_services.endpoint_test_send(actor=w.admin, endpoint=w.endpoint)
    with pytest.raises(webhooks_services.WebhookRuleBroken):
        webhooks_services.delivery_redeliver(actor=w.admin, delivery=w.delivery)


def test_backoff_grows_exponentially_within_its_jitter_bounds_and_stops_at_the_cap():
    import random

    rng = random.Random(7)
    waits = {}
    for attempt in range(1, 9):
        ceiling = min(1800.0, 30.0 * 2 ** (attempt - 1))
        waits[attempt] = [
            delivery_policy.backoff_seconds(attempt=attempt, base=30.0, cap=1800.0, rng=rng) for _ in range(200)
        ]
        assert all(ceiling / 2 <= w <= ceiling for w in waits[attempt]), attempt
        assert max(waits[attempt]) - min(waits[attempt]) > ceiling / 4, "jittered, not a fixed delay"
    # Below the cap every wait is at least as long as any wait of the attempt before.
    for attempt in range(1, 6):
        assert min(waits[attempt + 1]) >= max(waits[attempt]), attempt
    assert max(waits[8]) <= 1800.0 and min(waits[8]) >= 900.0


def test_attempt_outcomes_follow_the_status_code():
    outcome = delivery_policy.attempt_outcome
    R = delivery_policy.AttemptResult
    assert [outcome(R(status_code=c)) for c in (200, 201, 204)] == ["delivered"] * 3
    assert [outcome(R(status_code=c)) for c in (408, 429, 500, 502, 503)] == ["retry"] * 5
    assert [outcome(R(status_code=c)) for c in (301, 400, 401, 403, 404, 410, 422)] == ["failed"] * 7
    assert outcome(R(error="ConnectionError: refused")) == "retry"
    assert outcome(R(error="refused URL", permanent=True)) == "failed"


def test_claims_take_each_attempt_once(loopback):
    w = _hook_world()
    assert not webhooks_services.delivery_attempt_in_flight(delivery_id=w.delivery.id, attempt=1)
    claimed = webhooks_services.delivery_claim(delivery_id=w.delivery.id, attempt=1)
    assert claimed is not None and claimed.state == DeliveryState.SENDING and claimed.attempts == 1
    assert webhooks_services.delivery_attempt_in_flight(delivery_id=w.delivery.id, attempt=1)
    assert webhooks_services.delivery_claim(delivery_id=w.delivery.id, attempt=1) is None, "a duplicate message"
    assert webhooks_services.delivery_claim(delivery_id=w.delivery.id, attempt=2) is None, (
        "not due: attempt 1 is running"
    )
    # A claim far older than the timeout is a dead worker's: its redelivered message takes it over.
    WebhookDelivery.objects.filter(id=w.delivery.id).update(sending_since=timezone.now() - timedelta(hours=1))
    assert webhooks_services.delivery_claim(delivery_id=w.delivery.id, attempt=1) is not None


def test_the_delivery_body_is_compact_sorted_ascii_json(loopback):
    w = _hook_world()
    w.delivery.payload["data"]["message"] = "café ✓"
    body = webhooks_services.delivery_body(w.delivery)
    assert body.isascii() and b"\\u00e9" in body
    assert b'", "' not in body and b'": ' not in body, "no spaces after separators"
    assert json.loads(body)["data"]["message"] == "café ✓"
    assert list(json.loads(body)) == sorted(json.loads(body))
