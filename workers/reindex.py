"""Celery adapter of a reindex: one short task per batch, chained, then the swap.

Each `reindex_run(job_id, cursor)` embeds the references after `cursor` into the collection of this
worker's descriptor version, moves the job's cursor (only if it still reads `cursor`) and queues the
next batch. A batch takes seconds, far below the broker's visibility timeout; a worker killed mid-batch
leaves the cursor where it was and `reindex_resume_stale` (Celery beat) queues that batch again.
When no reference is left, the new collection is checked to hold every reference, flushed, the alias
moved and the live-version row switched; the replaced collection is dropped unless ISC_REINDEX_KEEP_OLD.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError

from copydetect import pipeline
from copydetect.descriptors import Descriptor
from copydetect.vector_store import MilvusException, VectorStore
from search import queue
from search import reindex as reindex_services
from search.models import ImageStatus, ReferenceImage, ReindexJob
from workers import runtime
from workers.images import images_readable

logger = logging.getLogger(__name__)

BATCH_SOFT_TIME_LIMIT = 240  # a batch of 32 took ~4.5 s on 2 busy CPU cores; far below the 1 h visibility timeout
BATCH_TIME_LIMIT = 300
CHECK_PAGE = 1000  # reference ids checked against the new collection per Milvus query before the swap
# Back-off 2, 4, … 60 s: 15 tries span about 11 minutes of Milvus or database downtime.
TRANSIENT_RETRIES = 15
TRANSIENT_ERRORS = (MilvusException, OperationalError, InterfaceError, ConnectionError, TimeoutError)


@shared_task(
    name="workers.tasks.reindex_run",
    bind=True,
    acks_late=True,
    max_retries=TRANSIENT_RETRIES,
    soft_time_limit=BATCH_SOFT_TIME_LIMIT,
    time_limit=BATCH_TIME_LIMIT,
)
def reindex_run(self, job_id: int, cursor: int = 0) -> str:
    """One batch of job `job_id`, starting after reference `cursor`; queues the next one."""
    try:
        next_cursor = reindex_step(job_id=job_id, cursor=cursor)
    except ReindexRefused as exc:
        reindex_services.reindex_job_fail(job_id=job_id, error=str(exc))
        return "failed"
    except SoftTimeLimitExceeded:
        # The cursor did not move: the sweeper resumes this batch (lower the job's batch_size if it recurs).
        logger.error("reindex #%s: batch after %s ran past %s s", job_id, cursor, BATCH_SOFT_TIME_LIMIT)
        return "stopped"
    except Exception as exc:
        transient = isinstance(exc, TRANSIENT_ERRORS)
        if not transient or self.request.is_eager or self.request.retries >= self.max_retries:
            logger.exception("reindex #%s failed", job_id)
            reindex_services.reindex_job_fail(job_id=job_id, error=f"{type(exc).__name__}: {exc}")
            return "failed"
        logger.warning("reindex #%s: batch after %s failed (%s); retrying", job_id, cursor, exc)
        raise self.retry(exc=exc, countdown=min(60, 2 ** (self.request.retries + 1))) from exc
    if next_cursor is None:
        return "finished-or-skipped"
    queue.task_send(queue.REINDEX_RUN, job_id, next_cursor)
    return "batch"


@shared_task(name="workers.tasks.reindex_resume_stale", acks_late=True, soft_time_limit=60, time_limit=90)
def reindex_resume_stale() -> int:
    """Beat job: resumes every reindex whose worker has been silent for ISC_REINDEX_STALE_SECONDS."""
    older_than = timedelta(seconds=settings.ISC["REINDEX_STALE_SECONDS"])
    return reindex_services.reindex_jobs_resume_stale(older_than=older_than)


class ReindexRefused(RuntimeError):
    """The job cannot go on with this worker (it runs another model than the one being built)."""


def reindex_step(*, job_id: int, cursor: int) -> int | None:
    """Does the batch after `cursor`; returns the cursor of the next batch, or None when there is none
    (the job finished now, was finished already, or another delivery of this batch got there first)."""
    job = ReindexJob.objects.filter(id=job_id).first()
    if job is None or job.state not in ReindexJob.ACTIVE_STATES or job.cursor != cursor:
        return None
    descriptor = runtime.descriptor_get()
    if job.state == ReindexJob.State.QUEUED:
        runtime.live_version_get()  # a fresh installation gets its live version before anything is replaced
        job = reindex_services.reindex_job_begin(
            job_id=job_id,
            descriptor_version=descriptor.version,
            descriptor_name=descriptor.name,
            model_files=runtime.descriptor_model_files(descriptor.name),
        )
        if job is None:
            return None
    elif job.descriptor_version != descriptor.version:
        raise ReindexRefused(
            f"This worker runs {descriptor.version}, but reindex #{job_id} builds {job.descriptor_version}: "
            "run it on workers with that model, or start a new reindex."
        )
    reindex_services.reindex_job_heartbeat(job_id=job_id)
    store = runtime.vector_store_get()
    store.collection_ensure(model_version=descriptor.version, dim=descriptor.dim, metric=descriptor.metric)
    batch = reindex_services.reindex_batch_references(job=job, cursor=cursor)
    if not batch:
        reindex_finish(job=job, descriptor=descriptor, store=store)
        return None
    _references_embed([reference for reference in batch if reference.status != ImageStatus.FAILED], descriptor, store)
    advanced = reindex_services.reindex_batch_record(
        job_id=job_id, cursor_from=cursor, cursor_to=batch[-1].id, processed=len(batch)
    )
    return batch[-1].id if advanced else None


def reindex_finish(*, job: ReindexJob, descriptor: Descriptor, store: VectorStore) -> None:
    """Swaps only once the new collection holds every reference that is not failed."""
    missing = references_missing(version=descriptor.version, store=store)
    if missing:
        # Rows committed behind the cursor (a slow upload transaction): embed them now.
        logger.info("reindex #%s: %d references behind the cursor, embedding them", job.id, len(missing))
        for start in range(0, len(missing), job.batch_size):
            _references_embed(missing[start : start + job.batch_size], descriptor, store)
        still = references_missing(version=descriptor.version, store=store)
        if still:
            raise RuntimeError(f"{len(still)} references are still missing from {descriptor.version}")
    store.collection_flush(model_version=descriptor.version)
    store.alias_point(alias=runtime.live_alias(), model_version=descriptor.version)
    replaced = reindex_services.reindex_version_switch(job_id=job.id)
    logger.info("reindex #%s: %s is live", job.id, descriptor.version)
    # Dropped before the job says done: a crash in between repeats this step, drop included.
    note = ""
    if replaced and not settings.ISC["REINDEX_KEEP_OLD"]:
        try:
            store.collection_drop(model_version=replaced)
        except ValueError as exc:  # another alias (e.g. one made by hand) still names it: leave it be
            note = f"The replaced version {replaced} was kept: {exc}."
            logger.warning("reindex #%s: %s", job.id, note)
        else:
            reindex_services.index_version_dropped_mark(version=replaced)
            logger.info("reindex #%s: dropped the replaced version %s", job.id, replaced)
    reindex_services.reindex_job_finish(job_id=job.id, note=note)


def references_missing(*, version: str, store: VectorStore) -> list[ReferenceImage]:
    """References (not failed) whose vector the version's collection lacks."""
    missing_ids: list[int] = []
    after = 0
    while True:
        page = reindex_services.reindex_references_to_check(after_id=after, limit=CHECK_PAGE)
        if not page:
            break
        ids = [reference_id for reference_id, _ in page]
        present = store.vectors_present(model_version=version, ids=ids)
        missing_ids += [reference_id for reference_id in ids if reference_id not in present]
        after = ids[-1]
    return list(ReferenceImage.objects.filter(id__in=missing_ids).order_by("id"))


@dataclass(frozen=True)
class RollbackOutcome:
    plan: reindex_services.Rollback
    filled: int  # references added after the swap, embedded into the restored version now


def index_rollback() -> RollbackOutcome:
    """Moves the live alias and record back to the version kept by the last reindex, after embedding
    into it the references uploaded since the swap (they went to the newer version only)."""
    plan = reindex_services.index_version_rollback_plan()
    store = runtime.vector_store_get()
    if not store.collection_exists(model_version=plan.restored):
        raise ValueError(f"The collection of {plan.restored} is gone from Milvus; it cannot be restored.")
    row = reindex_services.index_version_get(version=plan.restored)
    try:
        descriptor = runtime.descriptor_named(row.descriptor_name, row.model_files)
    except Exception as exc:
        raise ValueError(f"Cannot roll back to {plan.restored}: its model does not load here ({exc}).") from exc
    if descriptor.version != plan.restored:
        raise ValueError(
            f"Cannot roll back to {plan.restored}: its model files changed (they now give {descriptor.version})."
        )
    missing = references_missing(version=plan.restored, store=store)
    for start in range(0, len(missing), settings.ISC["REINDEX_BATCH_SIZE"]):
        _references_embed(missing[start : start + settings.ISC["REINDEX_BATCH_SIZE"]], descriptor, store)
    store.collection_flush(model_version=plan.restored)
    store.alias_point(alias=runtime.live_alias(), model_version=plan.restored)
    reindex_services.index_version_rollback(plan=plan)
    return RollbackOutcome(plan=plan, filled=len(missing))


def _references_embed(references: list[ReferenceImage], descriptor: Descriptor, store: VectorStore) -> None:
    readable = images_readable(references)
    pipeline.references_embed(
        images=[image for _, image in readable],
        reference_ids=[reference.id for reference, _ in readable],
        collection_ids=[reference.collection_id for reference, _ in readable],
        descriptor=descriptor,
        store=store,
    )
