"""Reindex tasks: one short task per batch, chained, and the beat job that resumes stalled jobs."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from search.core import dispatch
from search.reindex import services as reindex_services
from workers.errors import TRANSIENT_ERRORS
from workers.registry import worker_task
from workers.reindex import ReindexRefused, reindex_step
from workers.retry import RETRY_OPTIONS, retries_exhausted

logger = logging.getLogger(__name__)


BATCH_SOFT_TIME_LIMIT = 240  # a batch of 32 took ~4.5 s on 2 busy CPU cores; far below the 1 h visibility timeout
BATCH_TIME_LIMIT = 300


@worker_task(
    dispatch.REINDEX_RUN,
    bind=True,
    acks_late=True,
    soft_time_limit=BATCH_SOFT_TIME_LIMIT,
    time_limit=BATCH_TIME_LIMIT,
    **RETRY_OPTIONS,
)
def reindex_run(self, job_id: int, cursor: int = 0) -> str:
    """One batch of job `job_id`, starting after reference `cursor`; queues the next one."""
    try:
        next_cursor = reindex_step(job_id=job_id, cursor=cursor, worker=self.request.hostname or "")
    except ReindexRefused as exc:
        reindex_services.reindex_job_fail(job_id=job_id, error=str(exc))
        return "failed"
    except SoftTimeLimitExceeded:
        # The cursor did not move: the sweeper resumes this batch (lower the job's batch_size if it recurs).
        logger.error("reindex #%s: batch after %s ran past %s s", job_id, cursor, BATCH_SOFT_TIME_LIMIT)
        return "stopped"
    except TRANSIENT_ERRORS as exc:
        if not retries_exhausted(self):
            logger.warning("reindex #%s: batch after %s failed (%s); retrying", job_id, cursor, exc)
            raise
        logger.exception("reindex #%s failed", job_id)
        reindex_services.reindex_job_fail(job_id=job_id, error=f"{type(exc).__name__}: {exc}")
        return "failed"
    except Exception as exc:
        logger.exception("reindex #%s failed", job_id)
        reindex_services.reindex_job_fail(job_id=job_id, error=f"{type(exc).__name__}: {exc}")
        return "failed"
    if next_cursor is None:
        return "finished-or-skipped"
    dispatch.task_send(dispatch.REINDEX_RUN, job_id, next_cursor)
    return "batch"


@worker_task(dispatch.REINDEX_RESUME_STALE, acks_late=True, soft_time_limit=60, time_limit=90)
def reindex_resume_stale() -> int:
    """Beat job: resumes every reindex whose worker has been silent for ISC_REINDEX_STALE_SECONDS."""
    older_than = timedelta(seconds=settings.ISC.reindex_stale_seconds)
    return reindex_services.reindex_jobs_resume_stale(older_than=older_than)
