"""Re-queues the work of workers that are gone, as soon as that is known: when a worker starts, and at every
sweep. Which rows and jobs a dead worker held is search/core/claims.py's business; here is who answers.

Only a worker's main process answers a ping, and it answers while a prefork child runs a task; a worker
whose main process was killed (kill -9, a lost machine) does not, and neither does an old claim under the
name of a worker that has just started again.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from celery.signals import worker_ready
from django.db import connections
from django.utils import timezone

from search.collection.models import ReferenceImage
from search.core import stored_images
from search.core.claims import Liveness
from search.ingest import services as ingest_services
from search.queries.models import QueryImage
from search.reindex import services as reindex_services

logger = logging.getLogger(__name__)

# Long enough for a busy worker's main process to answer, short enough for a sweep.
PING_TIMEOUT_SECONDS = 2.0

# Imported by the worker's main process while it starts, before it takes any task: claims under this
# worker's name from before are its previous life's.
STARTED_AT = datetime.now(UTC)


def workers_answering(app, *, timeout: float = PING_TIMEOUT_SECONDS) -> frozenset[str] | None:
    """Hostnames of the workers that answer a ping; None when the broker cannot be asked."""
    try:
        replies = app.control.ping(timeout=timeout) or []
    except Exception as exc:  # kombu's OperationalError, redis' ConnectionError, OSError: the broker is down
        logger.warning("could not ping the workers: %s: %s", type(exc).__name__, exc)
        return None
    return frozenset(name for reply in replies for name in reply)


def claims_recover(*, liveness: Liveness, limit: int = 1000) -> dict[str, int]:
    """Re-queues every row and job held by a worker that `liveness` says is gone; counts by kind."""
    counts = {}
    for model in (ReferenceImage, QueryImage):
        queued, broker_down = stored_images.stored_images_requeue_dead(model=model, liveness=liveness, limit=limit)
        counts[f"{model.__name__}.worker_gone"] = queued
        if broker_down:
            return counts
    counts["ReindexJob.worker_gone"] = reindex_services.reindex_jobs_requeue_dead(liveness=liveness)
    counts["IngestJob.worker_gone"] = len(ingest_services.ingest_jobs_requeue_dead(liveness=liveness))
    if any(counts.values()):
        logger.warning(
            "workers gone: re-queued %s", ", ".join(f"{key}={value}" for key, value in counts.items() if value)
        )
    return counts


def claims_recover_answering(app) -> dict[str, int]:
    """The sweep's part: work held by workers that do not answer now. Nothing when no worker answers at all
    (the sweep itself runs on a worker, so that says the ping, not every worker, failed)."""
    answering = workers_answering(app)
    if not answering:
        return {}
    return claims_recover(liveness=Liveness(answering=answering, checked_at=timezone.now()))


@worker_ready.connect
def _claims_recover_on_start(sender=None, **_kwargs) -> None:
    # A thread: the worker's own consumer must run (and answer pings) while this waits for the replies.
    hostname = getattr(sender, "hostname", "") or ""
    app = getattr(sender, "app", None)
    if not hostname or app is None:
        return
    threading.Thread(
        target=_recover_after_start, args=(app, hostname), name="claims-recover-on-start", daemon=True
    ).start()


def _recover_after_start(app, hostname: str) -> None:
    try:
        answering = workers_answering(app)
        liveness = Liveness(
            # This worker answers even if its consumer was not listening yet; None: only its own earlier
            # claims are known to be dead (the broker could not be asked about the others).
            answering=None if answering is None else answering | {hostname},
            checked_at=timezone.now(),
            restarted=hostname,
            restarted_at=STARTED_AT,
        )
        counts = claims_recover(liveness=liveness)
        logger.info("worker %s started: %s", hostname, counts)
    except Exception:
        logger.exception("recovering the claims of gone workers failed; the sweeper tries again")
    finally:
        connections.close_all()
