"""Celery adapter of a reindex: re-embeds every reference with the current model beside the live index."""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from copydetect import pipeline
from search.models import ImageStatus, ReferenceImage, ReindexJob
from workers import runtime
from workers.images import images_readable

logger = logging.getLogger(__name__)


@shared_task(
    name="workers.tasks.reindex_run", bind=True, acks_late=True, soft_time_limit=6 * 3600, time_limit=6 * 3600 + 60
)
def reindex_run(self, job_id: int, batch_size: int = 32) -> str:
    """Re-embeds every reference with the current model into its own collection, then swaps the alias."""
    claimed = ReindexJob.objects.filter(id=job_id, state=ReindexJob.State.QUEUED).update(state=ReindexJob.State.RUNNING)
    if not claimed:
        return "skipped"
    descriptor = runtime.descriptor_get()
    store = runtime.vector_store_get()
    ReindexJob.objects.filter(id=job_id).update(
        descriptor_version=descriptor.version, total=ReferenceImage.objects.count()
    )
    try:
        done = 0
        for batch in _reference_batches(batch_size):
            readable = images_readable(batch)
            pipeline.references_embed(
                images=[image for _, image in readable],
                reference_ids=[ref.id for ref, _ in readable],
                collection_ids=[ref.collection_id for ref, _ in readable],
                descriptor=descriptor,
                store=store,
            )
            ReferenceImage.objects.filter(id__in=[ref.id for ref, _ in readable]).update(
                status=ImageStatus.INDEXED, descriptor_version=descriptor.version, processed_at=timezone.now()
            )
            done += len(batch)
            ReindexJob.objects.filter(id=job_id).update(done=done)
        store.collection_ensure(model_version=descriptor.version, dim=descriptor.dim, metric=descriptor.metric)
        store.collection_flush(model_version=descriptor.version)
        store.alias_point(alias=runtime.live_alias(descriptor.name), model_version=descriptor.version)
        ReindexJob.objects.filter(id=job_id).update(state=ReindexJob.State.DONE, finished_at=timezone.now())
        return "done"
    except Exception as exc:
        logger.exception("reindex %s failed", job_id)
        ReindexJob.objects.filter(id=job_id).update(
            state=ReindexJob.State.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000], finished_at=timezone.now()
        )
        return "failed"


def _reference_batches(batch_size: int):
    last_id = 0
    while True:
        batch = list(ReferenceImage.objects.filter(id__gt=last_id).order_by("id")[:batch_size])
        if not batch:
            return
        last_id = batch[-1].id
        yield batch
