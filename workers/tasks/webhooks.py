"""Webhook tasks: one attempt at a delivery, and the sweep of lost ones."""

from __future__ import annotations

import logging

from django.conf import settings
from django.utils import timezone

from search.core import dispatch
from search.webhooks import services as webhooks_services
from search.webhooks.models import DeliveryState
from workers.registry import worker_task
from workers.retry import RETRY_OPTIONS
from workers.webhooks import delivery_post

logger = logging.getLogger(__name__)


# Transient errors retry under the one policy; the number of attempts at the receiver is bounded by the
# delivery's own counter (ISC_WEBHOOK_MAX_ATTEMPTS), so Celery's retry count is not.
@worker_task(
    dispatch.WEBHOOK_DELIVER,
    bind=True,
    acks_late=True,
    soft_time_limit=120,
    time_limit=150,
    **{**RETRY_OPTIONS, "max_retries": None},
)
def webhook_deliver(self, delivery_id: int, attempt: int = 1) -> str:
    delivery = webhooks_services.delivery_claim(delivery_id=delivery_id, attempt=attempt)
    if delivery is None:
        if not self.request.is_eager and webhooks_services.delivery_attempt_in_flight(
            delivery_id=delivery_id, attempt=attempt
        ):
            # A message redelivered after its worker died, while the dead claim is still fresh: look again
            # once it is stale (a live worker has finished or been killed by the time limit by then).
            raise self.retry(countdown=webhooks_services.STALE_CLAIM_SECONDS + 5)
        return "skipped"
    started_at = timezone.now()
    result = delivery_post(delivery)
    delivery = webhooks_services.delivery_attempt_record(
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


@worker_task(dispatch.WEBHOOK_DELIVERIES_SWEEP, bind=True, acks_late=True, soft_time_limit=120, time_limit=150)
def webhook_deliveries_sweep(self) -> int:
    """Beat job: deliveries whose task message never reached the broker or was lost with it go out again."""
    queued = webhooks_services.deliveries_sweep(
        overdue_seconds=settings.ISC.webhook_sweep_overdue_seconds, limit=settings.ISC.sweep_limit
    )
    if queued:
        logger.info("webhook sweep: queued %s deliveries again", queued)
    return queued
