"""Writes for webhooks: endpoints (create, change, rotate, delete; audited, admins only), deliveries
(created with the event, queued after commit, claimed and recorded by the worker), the sweep of lost ones."""

from __future__ import annotations

import json
import logging
import random
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from search.core import dispatch
from search.core.audit import audit_record
from search.core.models import AuditAction
from search.core.permissions import MANAGE, role_require
from search.teams.models import Team
from search.webhooks.delivery_policy import AttemptResult, attempt_outcome, backoff_seconds
from search.webhooks.destinations import url_check
from search.webhooks.models import (
    AttemptOutcome,
    DeliveryState,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from search.webhooks.secret_box import secret_decrypt, secret_encrypt, secret_generate, secret_hint

logger = logging.getLogger(__name__)


SNIPPET_CHARS = 1000


# Longer than the delivery task's hard time limit (workers/webhooks.py): a claim this old has no live worker.
STALE_CLAIM_SECONDS = 180


class WebhookRuleBroken(ValueError):
    """An action that does not apply (e.g. a test event to a deactivated endpoint); shown to the user."""


def _events_clean(events) -> list[str]:
    allowed = {e.value for e in (WebhookEvent.MATCH_CONFIRMED, WebhookEvent.MATCH_REJECTED, WebhookEvent.QUERY_FLAGGED)}
    chosen = sorted({str(e) for e in events})
    unknown = [e for e in chosen if e not in allowed]
    if unknown:
        raise ValueError(f"Unknown webhook events: {', '.join(unknown)}.")
    return chosen


def _endpoint_state(endpoint: WebhookEndpoint) -> dict:
    """What the audit log records of an endpoint: never the secret, only its hint."""
    return {
        "url": endpoint.url,
        "description": endpoint.description,
        "events": list(endpoint.events),
        "active": endpoint.active,
        "secret_hint": endpoint.secret_hint,
    }


@transaction.atomic
def endpoint_create(
    *, actor: AbstractBaseUser, team: Team, url: str, events, description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """The new endpoint and its secret, in plaintext this once (only the encrypted form is stored)."""
    role_require(user=actor, team=team, minimum=MANAGE)
    url_check(url, resolve=True)
    secret = secret_generate()
    endpoint = WebhookEndpoint.objects.create(
        team=team,
        url=url,
        description=description.strip(),
        events=_events_clean(events),
        secret_encrypted=secret_encrypt(secret),
        secret_hint=secret_hint(secret),
        created_by=actor,
    )
    audit_record(
        actor=actor, team=team, action=AuditAction.WEBHOOK_CREATE, target=endpoint, after=_endpoint_state(endpoint)
    )
    return endpoint, secret


@transaction.atomic
def endpoint_update(
    *,
    actor: AbstractBaseUser,
    endpoint: WebhookEndpoint,
    url: str | None = None,
    events=None,
    description: str | None = None,
    active: bool | None = None,
) -> WebhookEndpoint:
    """Changes what is given (URL, events, description, active); one audit event with before and after."""
    role_require(user=actor, team=endpoint.team_id, minimum=MANAGE)
    before = _endpoint_state(endpoint)
    if url is not None and url != endpoint.url:
        url_check(url, resolve=True)
        endpoint.url = url
    if events is not None:
        endpoint.events = _events_clean(events)
    if description is not None:
        endpoint.description = description.strip()
    if active is not None:
        endpoint.active = active
    after = _endpoint_state(endpoint)
    if after == before:
        return endpoint
    endpoint.save()
    audit_record(
        actor=actor, team=endpoint.team, action=AuditAction.WEBHOOK_UPDATE, target=endpoint, before=before, after=after
    )
    return endpoint


@transaction.atomic
def endpoint_secret_rotate(*, actor: AbstractBaseUser, endpoint: WebhookEndpoint) -> tuple[WebhookEndpoint, str]:
    """A new secret (returned in plaintext this once); the current one keeps signing, as a second
    signature, for ISC_WEBHOOK_ROTATION_GRACE_HOURS so receivers can switch without losing events."""
    role_require(user=actor, team=endpoint.team_id, minimum=MANAGE)
    endpoint = WebhookEndpoint.objects.select_for_update().get(id=endpoint.id)
    before = {"secret_hint": endpoint.secret_hint}
    secret = secret_generate()
    grace = timedelta(hours=settings.ISC.webhook_rotation_grace_hours)
    endpoint.previous_secret_encrypted = endpoint.secret_encrypted
    endpoint.previous_secret_expires_at = timezone.now() + grace
    endpoint.secret_encrypted = secret_encrypt(secret)
    endpoint.secret_hint = secret_hint(secret)
    endpoint.save()
    audit_record(
        actor=actor,
        team=endpoint.team,
        action=AuditAction.WEBHOOK_ROTATE,
        target=endpoint,
        before=before,
        after={"secret_hint": endpoint.secret_hint, "previous_valid_until": endpoint.previous_secret_expires_at},
    )
    return endpoint, secret


@transaction.atomic
def endpoint_delete(*, actor: AbstractBaseUser, endpoint: WebhookEndpoint) -> None:
    """Deletes the endpoint with its deliveries (the audit event keeps what it was)."""
    role_require(user=actor, team=endpoint.team_id, minimum=MANAGE)
    audit_record(
        actor=actor,
        team=endpoint.team,
        action=AuditAction.WEBHOOK_DELETE,
        target=endpoint,
        before={**_endpoint_state(endpoint), "deliveries": endpoint.deliveries.count()},
    )
    endpoint.delete()


def endpoint_signing_secrets(endpoint: WebhookEndpoint) -> list[str]:
    """The secrets that sign a request now: the current one, then the previous one within its grace window."""
    secrets = [secret_decrypt(endpoint.secret_encrypted)]
    if endpoint.in_rotation:
        secrets.append(secret_decrypt(endpoint.previous_secret_encrypted))
    return secrets


def event_envelope(*, team: Team, event_type: str, data: dict, event_id: uuid.UUID | None = None) -> dict:
    """The JSON body receivers get (docs/webhooks.md)."""
    return {
        "id": str(event_id or uuid.uuid4()),
        "type": str(event_type),
        "created_at": timezone.now().isoformat(),
        "team": {"id": team.id, "slug": team.slug, "name": team.name},
        "data": data,
    }


def delivery_body(delivery: WebhookDelivery) -> bytes:
    """The exact bytes sent and signed: compact, keys sorted, ASCII only (no encoding ambiguity)."""
    return json.dumps(delivery.payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def delivery_create(
    *, endpoint: WebhookEndpoint, envelope: dict, redelivery_of: WebhookDelivery | None = None
) -> WebhookDelivery:
    """A delivery row now, its task once the surrounding transaction commits (never for a rolled-back one)."""
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        event_type=envelope["type"],
        event_id=uuid.UUID(envelope["id"]),
        payload=envelope,
        next_attempt_at=timezone.now(),
        redelivery_of=redelivery_of,
    )
    transaction.on_commit(lambda: delivery_enqueue(delivery_id=delivery.id, attempt=1))
    return delivery


def delivery_enqueue(*, delivery_id: int, attempt: int) -> None:
    # The change that made the event has committed; a broker outage must not turn it into an error
    # page. The delivery stays "queued" on the webhook page, where it can be sent again.
    try:
        dispatch.task_send(dispatch.WEBHOOK_DELIVER, delivery_id, attempt)
    except Exception:
        logger.exception("webhook delivery %s could not be queued", delivery_id)


def deliveries_sweep(*, overdue_seconds: float, limit: int, now: datetime | None = None) -> int:
    """Queues again the deliveries whose message is gone, and returns how many.

    Gone means: due longer than `overdue_seconds` ago and still queued or waiting to retry (the message
    was never queued because the broker was down, or was lost with it), or claimed by a worker that died
    and whose message did not come back. A duplicate is harmless: each attempt is claimed once."""
    now = now or timezone.now()
    due = now - timedelta(seconds=overdue_seconds)
    waiting = WebhookDelivery.objects.filter(
        state__in=[DeliveryState.PENDING, DeliveryState.RETRYING], next_attempt_at__lt=due
    ).values_list("id", "attempts")[:limit]
    abandoned = WebhookDelivery.objects.filter(
        state=DeliveryState.SENDING, sending_since__lt=due - timedelta(seconds=STALE_CLAIM_SECONDS)
    ).values_list("id", "attempts")[:limit]
    queued = 0
    for delivery_id, attempts in waiting:
        queued += dispatch.task_send(dispatch.WEBHOOK_DELIVER, delivery_id, attempts + 1)
    for delivery_id, attempts in abandoned:
        queued += dispatch.task_send(dispatch.WEBHOOK_DELIVER, delivery_id, attempts)
    return queued


@transaction.atomic
def endpoint_test_send(*, actor: AbstractBaseUser, endpoint: WebhookEndpoint) -> WebhookDelivery:
    role_require(user=actor, team=endpoint.team_id, minimum=MANAGE)
    if not endpoint.active:
        raise WebhookRuleBroken("This endpoint is deactivated; activate it to send a test event.")
    envelope = event_envelope(
        team=endpoint.team,
        event_type=WebhookEvent.TEST,
        data={"message": "A test event sent from the webhook page.", "endpoint_id": endpoint.id},
    )
    delivery = delivery_create(endpoint=endpoint, envelope=envelope)
    audit_record(
        actor=actor,
        team=endpoint.team,
        action=AuditAction.WEBHOOK_TEST,
        target=endpoint,
        after={"delivery_id": delivery.id, "event_id": envelope["id"]},
    )
    return delivery


@transaction.atomic
def delivery_redeliver(*, actor: AbstractBaseUser, delivery: WebhookDelivery) -> WebhookDelivery:
    """A new delivery of the same event (same event id and body, fresh attempts and signature)."""
    endpoint = delivery.endpoint
    role_require(user=actor, team=endpoint.team_id, minimum=MANAGE)
    if not endpoint.active:
        raise WebhookRuleBroken("This endpoint is deactivated; activate it to redeliver.")
    again = delivery_create(endpoint=endpoint, envelope=delivery.payload, redelivery_of=delivery)
    audit_record(
        actor=actor,
        team=endpoint.team,
        action=AuditAction.WEBHOOK_REDELIVER,
        target=delivery,
        before={"state": delivery.state, "attempts": delivery.attempts},
        after={"delivery_id": again.id, "event_id": str(delivery.event_id)},
    )
    return again


def delivery_attempt_in_flight(*, delivery_id: int, attempt: int) -> bool:
    """Whether attempt `attempt` is claimed and not finished (a live worker's, or a dead one's not yet stale)."""
    return WebhookDelivery.objects.filter(id=delivery_id, attempts=attempt, state=DeliveryState.SENDING).exists()


def delivery_claim(*, delivery_id: int, attempt: int) -> WebhookDelivery | None:
    """Takes attempt `attempt` of the delivery, or None when another worker has (a duplicate message).

    A claim older than a few timeouts belongs to a worker that died mid-request; its redelivered message
    (acks_late) may take it over."""
    now = timezone.now()
    claimed = WebhookDelivery.objects.filter(
        id=delivery_id, attempts=attempt - 1, state__in=[DeliveryState.PENDING, DeliveryState.RETRYING]
    ).update(state=DeliveryState.SENDING, attempts=attempt, sending_since=now)
    if not claimed:
        stale = now - timedelta(seconds=STALE_CLAIM_SECONDS)
        claimed = WebhookDelivery.objects.filter(
            id=delivery_id, attempts=attempt, state=DeliveryState.SENDING, sending_since__lt=stale
        ).update(sending_since=now)
    if not claimed:
        return None
    return WebhookDelivery.objects.select_related("endpoint", "endpoint__team").get(id=delivery_id)


@transaction.atomic
def delivery_attempt_record(
    *, delivery: WebhookDelivery, attempt: int, started_at, result: AttemptResult, rng: random.Random | None = None
) -> WebhookDelivery:
    """Logs the attempt and moves the delivery on: delivered, failed, or retrying at `next_attempt_at`."""
    isc = settings.ISC
    outcome = attempt_outcome(result)
    error = result.error
    if outcome == AttemptOutcome.RETRY and attempt >= isc.webhook_max_attempts:
        outcome = AttemptOutcome.FAILED
        error = f"{error or f'HTTP {result.status_code}'}; gave up after {attempt} attempts"
    WebhookAttempt.objects.create(
        delivery=delivery,
        number=attempt,
        started_at=started_at,
        status_code=result.status_code,
        duration_ms=result.duration_ms,
        error=error[:2000],
        response_snippet=result.response_snippet[:SNIPPET_CHARS],
        outcome=outcome,
    )
    delivery.last_status_code = result.status_code
    delivery.last_error = error[:2000]
    delivery.response_snippet = result.response_snippet[:SNIPPET_CHARS]
    delivery.sending_since = None
    now = timezone.now()
    if outcome == AttemptOutcome.DELIVERED:
        delivery.state, delivery.delivered_at, delivery.next_attempt_at = DeliveryState.DELIVERED, now, None
    elif outcome == AttemptOutcome.FAILED:
        delivery.state, delivery.next_attempt_at = DeliveryState.FAILED, None
    else:
        wait = backoff_seconds(
            attempt=attempt, base=isc.webhook_backoff_seconds, cap=isc.webhook_backoff_max_seconds, rng=rng
        )
        if result.retry_after is not None:
            wait = min(max(wait, result.retry_after), isc.webhook_backoff_max_seconds)
        delivery.state, delivery.next_attempt_at = DeliveryState.RETRYING, now + timedelta(seconds=wait)
    delivery.save(
        update_fields=[
            "state",
            "last_status_code",
            "last_error",
            "response_snippet",
            "sending_since",
            "delivered_at",
            "next_attempt_at",
        ]
    )
    return delivery
