"""Hands work to the Celery workers by task name, so the site never imports the worker code.

The names below are every task the site, beat and the workers send: the contract between `search/` and
`workers/`. A name is the path of the task's module and function (`workers.tasks.<module>.<function>`).
`LEGACY_NAMES` keeps the names of the release before, which workers still register: messages queued
before an upgrade, or sent by a site not yet upgraded, run on upgraded workers. Upgrade workers first;
while workers of the previous release still run, `ISC_TASK_NAMES=legacy` makes the site send the names
they know.

In eager mode (unit tests, the standalone DISC21 commands) the task runs in process; the worker modules
are then imported through Celery's own `imports` setting.
"""

from __future__ import annotations

import logging

from celery import current_app
from django.conf import settings

logger = logging.getLogger(__name__)

REFERENCE_INDEX = "workers.tasks.references.reference_index"
REFERENCE_VECTORS_PURGE = "workers.tasks.references.reference_vectors_purge"
REFERENCES_PURGE = "workers.tasks.references.references_purge"
REFERENCES_PURGE_EXPIRED = "workers.tasks.references.references_purge_expired"
QUERY_SEARCH = "workers.tasks.queries.query_search"
ROWS_SWEEP = "workers.tasks.maintenance.rows_sweep"
INDEX_RECONCILE = "workers.tasks.maintenance.index_reconcile"
REINDEX_RUN = "workers.tasks.reindex.reindex_run"
REINDEX_RESUME_STALE = "workers.tasks.reindex.reindex_resume_stale"
INGEST_CHUNK = "workers.tasks.ingest.ingest_chunk"
INGEST_RESUME_STALE = "workers.tasks.ingest.ingest_resume_stale"
WEBHOOK_DELIVER = "workers.tasks.webhooks.webhook_deliver"
WEBHOOK_DELIVERIES_SWEEP = "workers.tasks.webhooks.webhook_deliveries_sweep"
BANK_IMPORT_RUN = "workers.tasks.banks.bank_import_run"
EXCHANGES_FETCH_DUE = "workers.tasks.exchanges.exchanges_fetch_due"
EXCHANGE_FETCH = "workers.tasks.exchanges.exchange_fetch"
LOOKBACK_RUN = "workers.tasks.lookback.lookback_run"
LOOKBACK_RESUME_STALE = "workers.tasks.lookback.lookback_resume_stale"

TASK_NAMES = (
    REFERENCE_INDEX,
    REFERENCE_VECTORS_PURGE,
    REFERENCES_PURGE,
    REFERENCES_PURGE_EXPIRED,
    QUERY_SEARCH,
    ROWS_SWEEP,
    INDEX_RECONCILE,
    REINDEX_RUN,
    REINDEX_RESUME_STALE,
    INGEST_CHUNK,
    INGEST_RESUME_STALE,
    WEBHOOK_DELIVER,
    WEBHOOK_DELIVERIES_SWEEP,
    BANK_IMPORT_RUN,
    EXCHANGES_FETCH_DUE,
    EXCHANGE_FETCH,
    LOOKBACK_RUN,
    LOOKBACK_RESUME_STALE,
)
# Tasks new since the previous release: it has no name for them, so they keep theirs in legacy mode too
# (a job queued then waits until upgraded workers take it).
NEW_TASK_NAMES = (BANK_IMPORT_RUN, EXCHANGES_FETCH_DUE, EXCHANGE_FETCH, LOOKBACK_RUN, LOOKBACK_RESUME_STALE)
# Queues. A person waits on a query: it has a queue of its own, consumed by a worker that takes nothing else
# (scripts/run_stack.py, docker-compose.yml), so it never waits behind a bulk batch. Indexing references
# needs the descriptor model too; everything else (ingest chunks, reindex batches, beat jobs) is `default`.
QUERIES_QUEUE = "queries"
GPU_QUEUE = "gpu"
DEFAULT_QUEUE = "default"
QUEUES = (QUERIES_QUEUE, GPU_QUEUE, DEFAULT_QUEUE)
TASK_QUEUES = {QUERY_SEARCH: QUERIES_QUEUE, REFERENCE_INDEX: GPU_QUEUE}

# Modules that define the tasks (Celery's `imports`: a worker and an eager run import exactly these).
TASK_MODULES = tuple(sorted({name.rsplit(".", 1)[0] for name in TASK_NAMES}))

# The previous release's name of each task -> today's name.
LEGACY_NAMES = {
    "workers.tasks.reference_index": REFERENCE_INDEX,
    "workers.tasks.reference_vectors_purge": REFERENCE_VECTORS_PURGE,
    "workers.tasks.references_purge": REFERENCES_PURGE,
    "workers.tasks.references_purge_expired": REFERENCES_PURGE_EXPIRED,
    "workers.tasks.query_search": QUERY_SEARCH,
    "workers.tasks.rows_sweep": ROWS_SWEEP,
    "workers.tasks.index_reconcile": INDEX_RECONCILE,
    "workers.tasks.reindex_run": REINDEX_RUN,
    "workers.tasks.reindex_resume_stale": REINDEX_RESUME_STALE,
    "workers.tasks.ingest_chunk": INGEST_CHUNK,
    "workers.tasks.ingest_resume_stale": INGEST_RESUME_STALE,
    "workers.tasks.webhook_deliver": WEBHOOK_DELIVER,
    "workers.tasks.webhook_deliveries_sweep": WEBHOOK_DELIVERIES_SWEEP,
}
_CURRENT_TO_LEGACY = {current: legacy for legacy, current in LEGACY_NAMES.items()}


def legacy_names_of(name: str) -> list[str]:
    """The older names a worker also registers task `name` under."""
    return [legacy for legacy, current in LEGACY_NAMES.items() if current == name]


def task_name_on_wire(name: str, *, mode: str) -> str:
    """The name a message carries: today's (`mode` "current"), or the previous release's ("legacy")."""
    if mode == "legacy":
        return _CURRENT_TO_LEGACY.get(name, name)
    return name


def wire_name(name: str) -> str:
    return task_name_on_wire(name, mode=settings.ISC.task_names)


# One quick reconnect, then give up: a web request must not hang on a broker that is down. The row
# stays pending and the sweeper queues it once Redis is back.
PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0.0, "interval_step": 0.2, "interval_max": 0.2}


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
            wire_name(name),
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
