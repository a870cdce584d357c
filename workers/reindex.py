"""The worker's half of a reindex: embed a batch into the version being built, finish with the swap, roll back."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.dispatch import Signal

from copydetect import pipeline
from copydetect.descriptors import Descriptor
from copydetect.vector_store import VectorStore
from search.collection.models import ImageStatus, ReferenceImage
from search.reindex import selectors as reindex_selectors
from search.reindex import services as reindex_services
from search.reindex.models import ReindexJob
from workers import runtime
from workers.images import images_readable

logger = logging.getLogger(__name__)


CHECK_PAGE = 1000  # reference ids checked against the new collection per Milvus query before the swap


# Sent in the worker process once a batch holds the job, before its work starts: for observers such as metrics,
# and for the fault tests, which hang a worker inside a chosen batch from here (tests/system/faults).
batch_started = Signal()


class ReindexRefused(RuntimeError):
    """The job cannot go on with this worker (it runs another model than the one being built)."""


def reindex_step(*, job_id: int, cursor: int, worker: str = "") -> int | None:
    """Does the batch after `cursor` on `worker` (its Celery hostname, recorded on the job); returns the cursor
    of the next batch, or None when there is none (the job finished now, was finished already, or another
    delivery of this batch got there first)."""
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
    reindex_services.reindex_job_heartbeat(job_id=job_id, worker=worker)
    batch_started.send(sender=ReindexJob, job_id=job_id, cursor=cursor)
    store = runtime.vector_store_get()
    store.collection_ensure(model_version=descriptor.version, dim=descriptor.dim, metric=descriptor.metric)
    batch = reindex_selectors.reindex_batch_references(job=job, cursor=cursor)
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
    if replaced and not settings.ISC.reindex_keep_old:
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
        page = reindex_selectors.reindex_references_to_check(after_id=after, limit=CHECK_PAGE)
        if not page:
            break
        ids = [reference_id for reference_id, _ in page]
        present = store.vectors_present(model_version=version, ids=ids)
        missing_ids += [reference_id for reference_id in ids if reference_id not in present]
        after = ids[-1]
    return list(ReferenceImage.objects.filter(id__in=missing_ids).order_by("id"))


@dataclass(frozen=True)
class RollbackOutcome:
    plan: reindex_selectors.Rollback
    filled: int  # references added after the swap, embedded into the restored version now


def index_rollback() -> RollbackOutcome:
    """Moves the live alias and record back to the version kept by the last reindex, after embedding
    into it the references uploaded since the swap (they went to the newer version only)."""
    plan = reindex_selectors.index_version_rollback_plan()
    store = runtime.vector_store_get()
    if not store.collection_exists(model_version=plan.restored):
        raise ValueError(f"The collection of {plan.restored} is gone from Milvus; it cannot be restored.")
    row = reindex_selectors.index_version_get(version=plan.restored)
    try:
        descriptor = runtime.descriptor_named(row.descriptor_name, row.model_files)
    except Exception as exc:
        raise ValueError(f"Cannot roll back to {plan.restored}: its model does not load here ({exc}).") from exc
    if descriptor.version != plan.restored:
        raise ValueError(
            f"Cannot roll back to {plan.restored}: its model files changed (they now give {descriptor.version})."
        )
    missing = references_missing(version=plan.restored, store=store)
    for start in range(0, len(missing), settings.ISC.reindex_batch_size):
        _references_embed(missing[start : start + settings.ISC.reindex_batch_size], descriptor, store)
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
