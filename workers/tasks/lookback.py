"""Look-back tasks: run a job (resumable from its last finished batch), and the beat job that resumes
jobs whose worker died."""

from __future__ import annotations

import logging

from search.core import dispatch
from search.lookback import services as lookback_services
from workers.errors import TRANSIENT_ERRORS
from workers.lookback import lookback_job_run
from workers.registry import worker_task
from workers.retry import RETRY_OPTIONS, retries_exhausted

logger = logging.getLogger(__name__)


@worker_task(dispatch.LOOKBACK_RUN, bind=True, acks_late=True, soft_time_limit=600, time_limit=660, **RETRY_OPTIONS)
def lookback_run(self, job_id: int) -> str:
    job = lookback_services.lookback_claim(job_id=job_id)
    if job is None:
        return "skipped"
    try:
        lookback_job_run(job)
    except Exception as error:
        if isinstance(error, TRANSIENT_ERRORS) and not retries_exhausted(self):
            lookback_services.lookback_requeue(job=job)
            raise  # retried under the one policy; the job resumes after its last finished batch
        lookback_services.lookback_finish(job=job, error=f"{type(error).__name__}: {error}")
        logger.warning("look-back %s failed: %s", job_id, error)
        return "failed"
    return "done"


@worker_task(dispatch.LOOKBACK_RESUME_STALE, bind=True, acks_late=True, soft_time_limit=60, time_limit=90)
def lookback_resume_stale(self) -> int:
    ids = lookback_services.lookback_stale_ids()
    for job_id in ids:
        dispatch.task_send(dispatch.LOOKBACK_RUN, job_id)
    return len(ids)
