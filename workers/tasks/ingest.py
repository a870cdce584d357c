"""Bulk-ingest tasks: one per chunk, each queueing the next, and the stale-job sweep."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from search.core import dispatch
from search.ingest import services as ingest_services
from workers import ingest as workers_ingest
from workers import runtime
from workers.errors import TRANSIENT_ERRORS
from workers.registry import worker_task
from workers.retry import RETRY_OPTIONS, retries_exhausted

logger = logging.getLogger(__name__)


# Well under the broker's visibility timeout (1 h), so a slow chunk is never handed out twice.
CHUNK_SOFT_LIMIT_SECONDS = 600
CHUNK_HARD_LIMIT_SECONDS = 660


@worker_task(
    dispatch.INGEST_CHUNK,
    bind=True,
    acks_late=True,
    soft_time_limit=CHUNK_SOFT_LIMIT_SECONDS,
    time_limit=CHUNK_HARD_LIMIT_SECONDS,
    **RETRY_OPTIONS,
)
def ingest_chunk(self, job_id: int, cursor: int = 0) -> str:
    try:
        report = workers_ingest.ingest_chunk_run(
            job_id=job_id,
            cursor=cursor,
            pool=workers_ingest.pool_get(),
            store=runtime.vector_store_get(),
            descriptor=runtime.descriptor_get(),
            targets=runtime.index_descriptors_get(),  # the live version, and the one a reindex builds
            worker=self.request.hostname or "",
        )
    except SoftTimeLimitExceeded:
        # The pool may still be busy with the abandoned chunk: start afresh next time.
        workers_ingest.pool_close()
        ingest_services.ingest_job_fail(
            job_id=job_id, error="A chunk took too long and was stopped; resume the job to go on."
        )
        return "failed"
    except TRANSIENT_ERRORS as exc:
        if not retries_exhausted(self):
            logger.warning("ingest job %s at %s: %s; retrying", job_id, cursor, exc)
            raise
        logger.exception("ingest job %s failed at item %s", job_id, cursor)
        ingest_services.ingest_job_fail(job_id=job_id, error=f"{type(exc).__name__}: {exc}")
        return "failed"
    except Exception as exc:
        logger.exception("ingest job %s failed at item %s", job_id, cursor)
        ingest_services.ingest_job_fail(job_id=job_id, error=f"{type(exc).__name__}: {exc}")
        return "failed"
    if report is None:
        return "skipped"
    if not report.finished:
        dispatch.task_send(dispatch.INGEST_CHUNK, job_id, report.next_cursor)
        return "chunk"
    return "done"


@worker_task(dispatch.INGEST_RESUME_STALE)
def ingest_resume_stale() -> list[int]:
    return ingest_services.ingest_jobs_resume_stale(older_than=timedelta(seconds=settings.ISC.ingest_stale_seconds))
