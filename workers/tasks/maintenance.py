"""Beat jobs that keep rows, Milvus and the disk in line: the sweeper and the reconciliation."""

from __future__ import annotations

import dataclasses
import logging
from datetime import timedelta

import redis
from django.conf import settings
from django.utils import timezone

from search.collection.models import ReferenceImage
from search.core import dispatch, stored_images
from search.queries.models import QueryImage
from workers import claims  # importing it also registers the recovery when a worker starts
from workers.registry import worker_task

logger = logging.getLogger(__name__)


@worker_task(dispatch.ROWS_SWEEP, bind=True, acks_late=True, soft_time_limit=120, time_limit=150)
def rows_sweep(self) -> dict[str, int]:
    """Beat job: first re-queues the rows and jobs held by workers that no longer answer (workers/claims.py),
    then queues rows that would otherwise wait forever (see stored_images.stored_images_sweep)."""
    isc = settings.ISC
    broker_started_at = _broker_started_at(self.app.conf.broker_url)
    # A ping goes through the broker: when Redis does not answer, there is no one to ask.
    counts: dict[str, int] = {} if broker_started_at is None else claims.claims_recover_answering(self.app)
    for model in (ReferenceImage, QueryImage):
        report = stored_images.stored_images_sweep(
            model=model,
            grace_seconds=isc.queue_grace_seconds,
            stale_after_seconds=isc.stale_after_seconds,
            stale_pending_after_seconds=isc.stale_pending_after_seconds,
            broker_started_at=broker_started_at,
            limit=isc.sweep_limit,
        )
        name = model.__name__
        for kind in ("never_queued", "queued_before_broker_restart", "stale_pending", "stale_processing"):
            counts[f"{name}.{kind}"] = getattr(report, kind)
        if report.broker_down:
            logger.warning("sweep: the broker is down; %s rows queued before it stopped", report.queued)
            break
    if any(counts.values()):
        logger.info("sweep: re-queued %s", ", ".join(f"{key}={value}" for key, value in counts.items() if value))
    return counts


@worker_task(dispatch.INDEX_RECONCILE, bind=True, acks_late=True, soft_time_limit=3000, time_limit=3300)
def index_reconcile(self) -> dict[str, int]:
    """Beat job: compares the database with Milvus and the disk (see workers/reconcile.py)."""
    from workers import reconcile

    return dataclasses.asdict(reconcile.reconcile_run())


def _broker_started_at(broker_url: str):
    """When Redis last started (now minus its uptime, so no two clocks are compared), or None when unknown.

    A Redis restart without persistence loses every queued message: rows queued before it are re-queued
    at once instead of after the long pending deadline.
    """
    try:
        client = redis.Redis.from_url(broker_url, socket_connect_timeout=2, socket_timeout=2)
        try:
            uptime = int(client.info("server")["uptime_in_seconds"])
        finally:
            client.close()
    except (redis.exceptions.RedisError, OSError, KeyError, ValueError):
        return None
    return timezone.now() - timedelta(seconds=uptime + 1)
