"""Celery adapters: take ids, claim the row, call the pipeline, record the outcome.

Every task is safe to run twice: claims are conditional updates, Milvus writes are upserts and a
query's matches are replaced in one transaction.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_process_init
from django.conf import settings
from django.core.files.storage import default_storage

from copydetect import pipeline
from copydetect.verification import LocalFeatures, local_features_extract, local_features_load, local_features_save
from search import services
from search.models import ImageStatus, QueryImage, ReferenceImage
from workers import runtime
from workers.images import PERMANENT_ERRORS, image_open

logger = logging.getLogger(__name__)

TASK_OPTIONS = dict(bind=True, acks_late=True, max_retries=3, soft_time_limit=300, time_limit=360)


@worker_process_init.connect
def _engines_warm(**_kwargs) -> None:
    # The first query should not pay for loading the model.
    if settings.ISC.get("WARM_UP", True):
        try:
            runtime.descriptor_get()
        except Exception:  # a broken model shows up as a failed row, with its message, on first use
            logger.exception("descriptor warm-up failed")


@shared_task(**TASK_OPTIONS)
def reference_index(self, reference_id: int) -> str:
    descriptor = runtime.descriptor_get()
    if not services.stored_image_claim(
        model=ReferenceImage, image_id=reference_id, descriptor_version=descriptor.version
    ):
        return "skipped"
    try:
        reference = ReferenceImage.objects.get(id=reference_id)
        image = image_open(reference)
        features_path = services.features_path_for(sha256=reference.sha256)
        pipeline.reference_index(
            image=image,
            reference_id=reference.id,
            collection_id=reference.collection_id,
            descriptor=descriptor,
            store=runtime.vector_store_get(),
            features_path=features_path,
        )
        services.reference_indexed_mark(
            reference_id=reference.id, descriptor_version=descriptor.version, features_path=str(features_path)
        )
        return "indexed"
    except Exception as exc:
        _failure_handle(self, exc, model=ReferenceImage, image_id=reference_id)
        return "failed"


@shared_task(**TASK_OPTIONS)
def query_search(self, query_id: int) -> str:
    descriptor = runtime.descriptor_get()
    if not services.stored_image_claim(model=QueryImage, image_id=query_id, descriptor_version=descriptor.version):
        return "skipped"
    started = time.perf_counter()
    whole_image: list = []
    try:
        query = QueryImage.objects.get(id=query_id)
        candidates = pipeline.query_search(
            image=image_open(query),
            collection_id=query.collection_id,
            descriptor=descriptor,
            store=runtime.vector_store_get(),
            reference_features=_reference_features,
            settings=runtime.search_settings_get(),
            descriptor_sink=whole_image.append,
        )
        services.query_results_record(
            query_id=query_id,
            descriptor_version=descriptor.version,
            query_descriptor=whole_image[0] if whole_image else None,
            results=[_match_result(candidate) for candidate in candidates],
            search_ms=round((time.perf_counter() - started) * 1000),
        )
        return "searched"
    except Exception as exc:
        _failure_handle(self, exc, model=QueryImage, image_id=query_id)
        return "failed"


@shared_task(bind=True, acks_late=True, max_retries=3)
def references_purge(self, *, reference_ids: list[int], files: list[str], collection_id: int) -> None:
    """Removes what a deleted collection left outside the database: vectors and files."""
    descriptor = runtime.descriptor_get()
    store = runtime.vector_store_get()
    try:
        if store.collection_exists(model_version=descriptor.version):
            store.collection_vectors_delete(model_version=descriptor.version, collection_id=collection_id)
    except Exception as exc:
        raise self.retry(exc=exc, countdown=2**self.request.retries) from exc
    for name in files:
        default_storage.delete(name)


def _reference_features(reference_id: int) -> LocalFeatures | None:
    reference = ReferenceImage.objects.filter(id=reference_id).first()
    if reference is None:
        return None
    path = (
        Path(reference.local_features)
        if reference.local_features
        else services.features_path_for(sha256=reference.sha256)
    )
    if path.exists():
        return local_features_load(path)
    # Features can be missing after a reindex from another machine: rebuild them once.
    try:
        features = local_features_extract(image_open(reference))
    except PERMANENT_ERRORS:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    local_features_save(features, path)
    return features


def _match_result(candidate: pipeline.Candidate) -> services.MatchResult:
    # The two dataclasses carry the same fields; one belongs to the engines, the other to the site.
    return services.MatchResult(**dataclasses.asdict(candidate))


def _failure_handle(task, exc: Exception, *, model, image_id: int) -> None:
    if isinstance(exc, SoftTimeLimitExceeded):
        services.stored_image_fail(model=model, image_id=image_id, error="Processing took too long and was stopped.")
        return
    if isinstance(exc, PERMANENT_ERRORS):
        services.stored_image_fail(model=model, image_id=image_id, error=str(exc))
        return
    if task.request.retries < task.max_retries and not task.request.is_eager:
        logger.warning("%s %s: %s; retrying", model.__name__, image_id, exc)
        model.objects.filter(id=image_id).update(status=ImageStatus.PENDING, error=f"Retrying after: {exc}"[:2000])
        raise task.retry(exc=exc, countdown=2 ** (task.request.retries + 1))
    logger.exception("%s %s failed", model.__name__, image_id)
    services.stored_image_fail(model=model, image_id=image_id, error=f"{type(exc).__name__}: {exc}")


# Registers the reindex tasks: Celery's autodiscovery imports only this module.
from workers import reindex  # noqa: E402,F401


@shared_task(bind=True, acks_late=True, max_retries=3)
def reference_vectors_purge(self, *, reference_ids: list[int], files: list[str]) -> None:
    """Removes what purged (soft-deleted, past the grace period) references left: vectors and files."""
    descriptor = runtime.descriptor_get()
    store = runtime.vector_store_get()
    try:
        if store.collection_exists(model_version=descriptor.version):
            store.vectors_delete(model_version=descriptor.version, ids=reference_ids)
    except Exception as exc:
        raise self.retry(exc=exc, countdown=2**self.request.retries) from exc
    for name in files:
        default_storage.delete(name)
