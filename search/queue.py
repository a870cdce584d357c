"""Hands work to the Celery workers by task name, so the site never imports the worker code.

Names are the contract between `search/` and `workers/`: `workers/tasks.py` registers tasks under
exactly these names. In eager mode (unit tests, the standalone DISC21 commands) the task runs in
process; the worker module is then imported through Celery's own autodiscovery.
"""

from __future__ import annotations

import logging

from celery import current_app

logger = logging.getLogger(__name__)

REFERENCE_INDEX = "workers.tasks.reference_index"
QUERY_SEARCH = "workers.tasks.query_search"
REFERENCES_PURGE = "workers.tasks.references_purge"
REINDEX_RUN = "workers.tasks.reindex_run"
ROWS_SWEEP = "workers.tasks.rows_sweep"
INDEX_RECONCILE = "workers.tasks.index_reconcile"

# One quick reconnect, then give up: a web request must not hang on a broker that is down. The row
# stays pending and the sweeper queues it once Redis is back.
PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0.0, "interval_step": 0.2, "interval_max": 0.2}
WEBHOOK_DELIVER = "workers.tasks.webhook_deliver"
WEBHOOK_DELIVERIES_SWEEP = "workers.tasks.webhook_deliveries_sweep"
INGEST_CHUNK = "workers.tasks.ingest_chunk"


def task_send(name: str, *args, **kwargs) -> bool:
    """Queues task `name`; returns False (and logs) when the broker cannot take it."""
    app = current_app._get_current_object()
    if app.conf.task_always_eager:
        app.loader.import_default_modules()
        app.tasks[name].apply(args=args, kwargs=kwargs, throw=app.conf.task_eager_propagates)
        return True
    try:
        # Explicit None time limits: Celery would otherwise copy the limits of a same-named task registered
        # in this process into the message; the worker that runs the task applies its own.
        app.send_task(
            name,
            args=args,
            kwargs=kwargs,
            retry=True,
            retry_policy=PUBLISH_RETRY_POLICY,
            time_limit=None,
            soft_time_limit=None,
        )
    except Exception as exc:  # kombu's OperationalError, redis' ConnectionError, OSError: the broker is down
        logger.warning(
            "could not queue %s%s: %s: %s; the sweeper will queue it later", name, args, type(exc).__name__, exc
        )
        return False
    return True


REFERENCE_VECTORS_PURGE = "workers.tasks.reference_vectors_purge"
REFERENCES_PURGE_EXPIRED = "workers.tasks.references_purge_expired"
