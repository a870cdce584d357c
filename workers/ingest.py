"""Celery adapter of bulk ingest: one task per chunk, each queueing the next, plus the stale-job sweep.

The chunk's files are decoded, featured and embedded by a pool of processes this worker process
keeps for its lifetime (built on the first chunk), so a job costs the pool's start-up once.
"""

from __future__ import annotations

import atexit
import logging
from datetime import timedelta

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from search import ingest, queue
from workers import runtime

logger = logging.getLogger(__name__)

# Well under the broker's visibility timeout (1 h), so a slow chunk is never handed out twice.
CHUNK_SOFT_LIMIT_SECONDS = 600
CHUNK_HARD_LIMIT_SECONDS = 660

_pool = None


def pool_get():
    global _pool
    spec = ingest.worker_spec_get(vit_model=runtime.vit_model_for_descriptor())
    if _pool is not None and (_pool.spec != spec or _pool.processes != settings.ISC["INGEST_PROCESSES"]):
        pool_close()
    if _pool is None:
        _pool = ingest.ingest_pool_create(vit_model=spec.vit_model)
    return _pool


@atexit.register
def pool_close() -> None:
    global _pool
    if _pool is not None:
        _pool.close()
        _pool = None


@shared_task(
    name="workers.tasks.ingest_chunk",
    bind=True,
    acks_late=True,
    max_retries=5,
    soft_time_limit=CHUNK_SOFT_LIMIT_SECONDS,
    time_limit=CHUNK_HARD_LIMIT_SECONDS,
)
def ingest_chunk(self, job_id: int, cursor: int = 0) -> str:
    try:
        report = ingest.ingest_chunk_run(
            job_id=job_id,
            cursor=cursor,
            pool=pool_get(),
            store=runtime.vector_store_get(),
            descriptor=runtime.descriptor_get(),
            targets=runtime.index_descriptors_get(),  # the live version, and the one a reindex builds
        )
    except SoftTimeLimitExceeded:
        # The pool may still be busy with the abandoned chunk: start afresh next time.
        pool_close()
        ingest.ingest_job_fail(job_id=job_id, error="A chunk took too long and was stopped; resume the job to go on.")
        return "failed"
    except Exception as exc:
        if self.request.retries < self.max_retries and not self.request.is_eager:
            logger.warning("ingest job %s at %s: %s; retrying", job_id, cursor, exc)
            raise self.retry(exc=exc, countdown=2 ** (self.request.retries + 1)) from exc
        logger.exception("ingest job %s failed at item %s", job_id, cursor)
        ingest.ingest_job_fail(job_id=job_id, error=f"{type(exc).__name__}: {exc}")
        return "failed"
    if report is None:
        return "skipped"
    if not report.finished:
        queue.task_send(queue.INGEST_CHUNK, job_id, report.next_cursor)
        return "chunk"
    return "done"


@shared_task(name="workers.tasks.ingest_resume_stale")
def ingest_resume_stale() -> list[int]:
    return ingest.ingest_jobs_resume_stale(older_than=timedelta(seconds=settings.ISC["INGEST_STALE_SECONDS"]))
