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
INGEST_CHUNK = "workers.tasks.ingest_chunk"


def task_send(name: str, *args, **kwargs) -> None:
    app = current_app._get_current_object()
    if app.conf.task_always_eager:
        app.loader.import_default_modules()
        app.tasks[name].apply(args=args, kwargs=kwargs, throw=app.conf.task_eager_propagates)
        return
    app.send_task(name, args=args, kwargs=kwargs)
