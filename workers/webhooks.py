"""Celery adapter of a webhook delivery: claim the attempt, make one signed HTTP request, record it, and
schedule the next attempt (exponential backoff with jitter) when the receiver may yet accept it."""

from __future__ import annotations

import logging
import time

import requests
from celery import shared_task
from django.conf import settings
from django.utils import timezone

from search import queue, webhooks
from search.models import DeliveryState, WebhookDelivery
from search.webhook_secrets import SecretUnreadable
from search.webhook_signing import (
    HEADER_DELIVERY,
    HEADER_EVENT,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    signature_header,
)
from search.webhook_urls import WebhookUrlRefused, url_check

logger = logging.getLogger(__name__)

USER_AGENT = "ISC-Webhooks/1"
SNIPPET_BYTES = 4096


@shared_task(
    name=queue.WEBHOOK_DELIVER, bind=True, acks_late=True, max_retries=None, soft_time_limit=120, time_limit=150
)
def webhook_deliver(self, delivery_id: int, attempt: int = 1) -> str:
    delivery = webhooks.delivery_claim(delivery_id=delivery_id, attempt=attempt)
    if delivery is None:
        if not self.request.is_eager and webhooks.delivery_attempt_in_flight(delivery_id=delivery_id, attempt=attempt):
            # A message redelivered after its worker died, while the dead claim is still fresh: look again
            # once it is stale (a live worker has finished or been killed by the time limit by then).
            raise self.retry(countdown=webhooks.STALE_CLAIM_SECONDS + 5)
        return "skipped"
    started_at = timezone.now()
    result = delivery_post(delivery)
    delivery = webhooks.delivery_attempt_record(
        delivery=delivery, attempt=attempt, started_at=started_at, result=result
    )
    logger.info(
        "webhook delivery %s attempt %s: %s %s",
        delivery_id,
        attempt,
        result.status_code or result.error,
        delivery.state,
    )
    if delivery.state == DeliveryState.RETRYING:
        if self.request.is_eager:
            # Eager runs (tests, one-process tools) have no broker to hold a countdown: try again now.
            return webhook_deliver.apply(args=(delivery_id, attempt + 1)).get()
        countdown = max(0.0, (delivery.next_attempt_at - timezone.now()).total_seconds())
        # The attempt number travels with the message, so a duplicate of it finds nothing to claim.
        raise self.retry(args=(delivery_id, attempt + 1), kwargs={}, countdown=countdown)
    return delivery.state


@shared_task(name=queue.WEBHOOK_DELIVERIES_SWEEP, bind=True, acks_late=True, soft_time_limit=120, time_limit=150)
def webhook_deliveries_sweep(self) -> int:
    """Beat job: deliveries whose task message never reached the broker or was lost with it go out again."""
    queued = webhooks.deliveries_sweep(
        overdue_seconds=settings.ISC["WEBHOOK_SWEEP_OVERDUE_SECONDS"], limit=settings.ISC["SWEEP_LIMIT"]
    )
    if queued:
        logger.info("webhook sweep: queued %s deliveries again", queued)
    return queued


def delivery_post(delivery: WebhookDelivery) -> webhooks.AttemptResult:
    """One signed POST of the delivery's body; never raises (every outcome becomes an attempt row)."""
    endpoint = delivery.endpoint
    try:
        if not endpoint.active:
            return webhooks.AttemptResult(error="The endpoint was deactivated.", permanent=True)
        url_check(endpoint.url, resolve=True)
        secrets = webhooks.endpoint_signing_secrets(endpoint)
    except (WebhookUrlRefused, SecretUnreadable) as error:
        return webhooks.AttemptResult(error=str(error), permanent=True)
    body = webhooks.delivery_body(delivery)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_SIGNATURE: signature_header(secrets=secrets, timestamp=timestamp, body=body),
        HEADER_EVENT: delivery.event_type,
        HEADER_DELIVERY: str(delivery.id),
    }
    timeout = settings.ISC["WEBHOOK_TIMEOUT_SECONDS"]
    started = time.perf_counter()
    try:
        with _session() as session:
            # Redirects are not followed: a receiver could point them at an address the URL check refuses.
            response = session.post(
                endpoint.url, data=body, headers=headers, timeout=timeout, allow_redirects=False, stream=True
            )
            with response:
                snippet = response.raw.read(SNIPPET_BYTES, decode_content=True) or b""
    except requests.Timeout:
        return webhooks.AttemptResult(error=f"No answer within {timeout:g} s.", duration_ms=_ms_since(started))
    except requests.RequestException as error:
        return webhooks.AttemptResult(error=f"{type(error).__name__}: {error}", duration_ms=_ms_since(started))
    status = response.status_code
    return webhooks.AttemptResult(
        status_code=status,
        error="" if 200 <= status < 300 else _status_error(status),
        duration_ms=_ms_since(started),
        response_snippet=snippet.decode("utf-8", errors="replace"),
        retry_after=_retry_after(response.headers.get("Retry-After")),
    )


def _session() -> requests.Session:
    session = requests.Session()
    # Deliveries go where the endpoint says, or through the configured proxy, never an inherited one.
    session.trust_env = False
    proxy = settings.ISC.get("WEBHOOK_PROXY")
    if proxy:
        session.proxies = {"http": proxy, "https": proxy}
    return session


def _status_error(status: int) -> str:
    if 300 <= status < 400:
        return f"HTTP {status}: redirects are not followed; point the endpoint at the final URL."
    return f"HTTP {status}"


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:  # an HTTP date: rare for webhooks; the backoff applies
        return None


def _ms_since(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
