"""Celery adapters: take ids, claim the row, call the pipeline, record the outcome.

Every task is safe to run twice: claims are conditional updates, Milvus writes are upserts and a
query's matches are replaced in one transaction.

Lifecycle of a row (see docs in README "Jobs that never get stuck"):
- transient errors (Milvus, Redis, database unavailable) retry through Celery's autoretry with
  exponential back-off and jitter; meanwhile the row is pending with a plain notice;
- permanent errors (unreadable image, missing file, row gone) fail the row at once with the reason;
- a worker that dies on a row (kill -9, segfault, hard time limit) is seen by the next claim or by
  Celery's failure signal; after ISC["MAX_ATTEMPTS"] claims without an outcome the row is failed;
- the beat job `rows_sweep` re-queues rows whose message was never sent or was lost.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import redis
from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import task_failure, worker_process_init
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import DatabaseError
from django.utils import timezone

from copydetect import pipeline
from copydetect.descriptors import Descriptor
from copydetect.reposts import repost_key
from copydetect.verification import LocalFeatures, local_features_extract, local_features_load, local_features_save
from search import queue, services
from search.models import QueryImage, ReferenceImage
from workers import learned_features, reposts, runtime
from workers.errors import TRANSIENT_ERRORS, failure_message, gave_up_message, notice_for, retry_count
from workers.images import PERMANENT_ERRORS, image_open

logger = logging.getLogger(__name__)

RETRY_OPTIONS = dict(
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=True,
    retry_backoff_max=settings.ISC["RETRY_BACKOFF_MAX"],
    retry_jitter=True,
    max_retries=retry_count(
        backoff_max=settings.ISC["RETRY_BACKOFF_MAX"], retry_for_seconds=settings.ISC["RETRY_FOR_SECONDS"]
    ),
)
TASK_OPTIONS = dict(
    bind=True,
    acks_late=True,
    soft_time_limit=settings.ROW_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.ROW_TASK_TIME_LIMIT,
    **RETRY_OPTIONS,
)
# Task name -> the model whose row id is the task's first argument.
ROW_TASKS = {queue.REFERENCE_INDEX: ReferenceImage, queue.QUERY_SEARCH: QueryImage}


@worker_process_init.connect
def _engines_warm(**_kwargs) -> None:
    # The first query should not pay for loading the model.
    if settings.ISC.get("WARM_UP", True):
        try:
            runtime.descriptor_get()
        except Exception:  # a broken model shows up as a failed row, with its message, on first use
            logger.exception("descriptor warm-up failed")


@shared_task(name=queue.REFERENCE_INDEX, **TASK_OPTIONS)
def reference_index(self, reference_id: int) -> str:
    def work(descriptor: Descriptor) -> str:
        reference = ReferenceImage.objects.get(id=reference_id)
        image = image_open(reference)
        features_path = services.features_path_for(sha256=reference.sha256)
        learned = runtime.learned_verifier_get()
        for target in runtime.index_descriptors_get():  # the live version, and ours when a reindex builds it
            pipeline.reference_index(
                image=image,
                reference_id=reference.id,
                collection_id=reference.collection_id,
                descriptor=target,
                store=runtime.vector_store_get(),
                features_path=features_path,
                learned=learned,
                learned_features_path=(
                    learned_features.learned_features_path(sha256=reference.sha256, learned=learned)
                    if learned
                    else None
                ),
            )
        services.reference_indexed_mark(
            reference_id=reference.id, descriptor_version=descriptor.version, features_path=str(features_path)
        )
        return "indexed"

    return _row_run(self, ReferenceImage, reference_id, work)


@shared_task(name=queue.QUERY_SEARCH, **TASK_OPTIONS)
def query_search(self, query_id: int) -> str:
    def work(descriptor: Descriptor) -> str:
        started = time.perf_counter()
        whole_image: list = []
        query = QueryImage.objects.get(id=query_id)
        candidates = pipeline.query_search(
            image=image_open(query),
            collection_id=query.collection_id,
            descriptor=descriptor,
            store=runtime.vector_store_get(),
            reference_features=_reference_features,
            settings=runtime.search_settings_get(descriptor.name),
            learned=runtime.learned_verifier_get(),
            learned_reference_features=learned_features.reference_learned_features,
            descriptor_sink=whole_image.append,
        )
        vector = whole_image[0] if whole_image else None
        store = runtime.vector_store_get()
        twins = None
        if vector is not None:
            twins = reposts.repost_candidates_find(
                store=store, descriptor_version=descriptor.version, vector=vector, collection_id=query.collection_id
            )
        leads = services.query_results_record(
            query_id=query_id,
            descriptor_version=descriptor.version,
            query_descriptor=vector,
            results=[_match_result(candidate) for candidate in candidates],
            search_ms=round((time.perf_counter() - started) * 1000),
            leader_candidate_ids=twins,
        )
        if leads and vector is not None:
            reposts.repost_leader_add(
                store=store,
                descriptor_version=descriptor.version,
                query_id=query_id,
                vector=vector,
                collection_id=query.collection_id,
            )
        return "searched"

    # The live version's model, not necessarily the worker's own (a reindex may be building that).
    return _row_run(self, QueryImage, query_id, work, descriptor_get=runtime.search_descriptor_get)


@shared_task(name=queue.REFERENCES_PURGE, bind=True, acks_late=True, **RETRY_OPTIONS)
def references_purge(self, *, reference_ids: list[int], files: list[str], collection_id: int) -> None:
    """Removes what a deleted collection left outside the database: vectors and files."""
    store = runtime.vector_store_get()
    # Every version that still receives writes: the live one, and the one a reindex is building.
    for version in {descriptor.version for descriptor in runtime.index_descriptors_get()}:
        for key in (version, repost_key(version)):  # its references, and its queries' re-post index
            if store.collection_exists(model_version=key):
                store.collection_vectors_delete(model_version=key, collection_id=collection_id)
    for name in files:
        default_storage.delete(name)


@shared_task(name=queue.ROWS_SWEEP, bind=True, acks_late=True, soft_time_limit=120, time_limit=150)
def rows_sweep(self) -> dict[str, int]:
    """Beat job: queues rows that would otherwise wait forever (see services.stored_images_sweep)."""
    isc = settings.ISC
    counts: dict[str, int] = {}
    broker_started_at = _broker_started_at(self.app.conf.broker_url)
    for model in (ReferenceImage, QueryImage):
        report = services.stored_images_sweep(
            model=model,
            grace_seconds=isc["QUEUE_GRACE_SECONDS"],
            stale_after_seconds=isc["STALE_AFTER_SECONDS"],
            stale_pending_after_seconds=isc["STALE_PENDING_AFTER_SECONDS"],
            broker_started_at=broker_started_at,
            limit=isc["SWEEP_LIMIT"],
        )
        name = model.__name__
        for kind in ("never_queued", "queued_before_broker_restart", "stale_pending", "stale_processing"):
            counts[f"{name}.{kind}"] = getattr(report, kind)
        if report.broker_down:
            logger.warning("sweep: the broker is down; %s rows queued before it stopped", report.queued)
            break
    if any(counts.values()):
        logger.info("sweep: re-queued %s", ", ".join(f"{key}={value}" for key, value in counts.items() if value))
    return counts


@shared_task(name=queue.INDEX_RECONCILE, bind=True, acks_late=True, soft_time_limit=3000, time_limit=3300)
def index_reconcile(self) -> dict[str, int]:
    """Beat job: compares the database with Milvus and the disk (see workers/reconcile.py)."""
    from workers import reconcile

    return dataclasses.asdict(reconcile.reconcile_run())


def _broker_started_at(broker_url: str):
    """When Redis last started (now minus its uptime, so no two clocks are compared), or None when unknown.

    A Redis restart without persistence loses every queued message: rows queued before it are re-queued
    at once instead of after the long pending deadline.
    """
    try:
        client = redis.Redis.from_url(broker_url, socket_connect_timeout=2, socket_timeout=2)
        try:
            uptime = int(client.info("server")["uptime_in_seconds"])
        finally:
            client.close()
    except (redis.exceptions.RedisError, OSError, KeyError, ValueError):
        return None
    return timezone.now() - timedelta(seconds=uptime + 1)


def _row_run(
    task, model, image_id: int, work: Callable[[Descriptor], str], *, descriptor_get=runtime.descriptor_get
) -> str:
    """Claims the row, runs `work`, and turns every way it can end into a row state."""
    descriptor = descriptor_get()
    claim = services.stored_image_claim(model=model, image_id=image_id, descriptor_version=descriptor.version)
    if claim != services.Claim.CLAIMED:
        return str(claim)
    _fault_injection_check(model, image_id)
    try:
        return _in_process_retrying(task, work, descriptor)
    except TRANSIENT_ERRORS as exc:
        return _transient_handle(task, exc, model=model, image_id=image_id)
    except SoftTimeLimitExceeded:
        services.stored_image_fail(model=model, image_id=image_id, error="Processing took too long and was stopped.")
        return "failed"
    except PERMANENT_ERRORS as exc:
        services.stored_image_fail(model=model, image_id=image_id, error=str(exc))
        return "failed"
    except Exception as exc:
        logger.exception("%s %s failed", model.__name__, image_id)
        services.stored_image_fail(model=model, image_id=image_id, error=f"{type(exc).__name__}: {exc}")
        return "failed"


# Eager (in-process) runs, such as the DISC21 track commands, cannot hand a retry back to Celery: they
# wait and try again here instead, a few times, before the row fails like a worker's would.
IN_PROCESS_RETRY_PAUSES = (1.0, 2.0, 4.0, 8.0)


def _in_process_retrying(task, work: Callable[[Descriptor], str], descriptor: Descriptor) -> str:
    if not task.request.is_eager:
        return work(descriptor)
    for pause in IN_PROCESS_RETRY_PAUSES:
        try:
            return work(descriptor)
        except TRANSIENT_ERRORS as exc:
            logger.warning("in-process run: %s; trying again in %.0f s", exc, pause)
            time.sleep(pause)
    return work(descriptor)


def _transient_handle(task, exc: BaseException, *, model, image_id: int) -> str:
    """Shows why the row waits and re-raises, so that Celery's autoretry schedules the next try;
    fails the row once the retries are used up (or at once when running eagerly, in-process)."""
    retries = task.request.retries
    if task.request.is_eager or retries >= task.max_retries:
        logger.error("%s %s: %s; giving up after %s retries", model.__name__, image_id, exc, retries, exc_info=exc)
        _row_update_safely(
            services.stored_image_fail, model=model, image_id=image_id, error=gave_up_message(exc, retries=retries)
        )
        if task.request.is_eager:
            return "failed"
        raise exc
    logger.warning(
        "%s %s: %s: %s; retry %s of %s",
        model.__name__,
        image_id,
        type(exc).__name__,
        exc,
        retries + 1,
        task.max_retries,
    )
    _row_update_safely(services.stored_image_release, model=model, image_id=image_id, notice=notice_for(exc))
    raise exc


def _row_update_safely(update: Callable[..., None], **kwargs) -> None:
    # The database may be what is down; the retry (or the sweeper) still comes.
    try:
        update(**kwargs)
    except DatabaseError as exc:
        logger.warning("could not record the row's state: %s", exc)


def _fault_injection_check(model, image_id: int) -> None:
    """TEST-ONLY seam (settings.ISC["FAULT_EXIT_SHA256"] / ["FAULT_HANG_SHA256"], empty in production):
    for one chosen image the worker process exits on the spot, as a decoder crash on a poison image
    would, or hangs until its hard time limit kills it."""
    poison, hang = settings.ISC["FAULT_EXIT_SHA256"], settings.ISC.get("FAULT_HANG_SHA256", "")
    if poison and model.objects.filter(id=image_id, sha256=poison).exists():
        logger.error("fault injection: exiting on %s %s", model.__name__, image_id)
        os._exit(70)
    if hang and model.objects.filter(id=image_id, sha256=hang).exists():
        logger.error("fault injection: hanging on %s %s", model.__name__, image_id)
        time.sleep(24 * 3600)


@task_failure.connect
def _row_task_failed(sender=None, exception=None, args=None, **_kwargs) -> None:
    """Celery's failure signal, also sent by the worker's main process on a hard time limit and on a
    lost worker it does not requeue: the row is failed instead of staying 'processing' forever."""
    model = ROW_TASKS.get(getattr(sender, "name", ""))
    if model is None or not args:
        return
    message = failure_message(exception, time_limit=settings.ROW_TASK_TIME_LIMIT)
    _row_update_safely(services.stored_image_fail, model=model, image_id=int(args[0]), error=message, only_waiting=True)


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


@shared_task(name=queue.REFERENCE_VECTORS_PURGE, bind=True, acks_late=True, **RETRY_OPTIONS)
def reference_vectors_purge(self, *, reference_ids: list[int], files: list[str], features: list[str] = ()) -> None:
    """Removes what purged (soft-deleted, past the grace period) references left: vectors, files and local
    features (absolute paths; `features` is absent from messages queued before it existed)."""
    store = runtime.vector_store_get()
    # Every version that still receives writes: the live one, and the one a reindex is building.
    for version in {descriptor.version for descriptor in runtime.index_descriptors_get()}:
        if store.collection_exists(model_version=version):
            store.vectors_delete(model_version=version, ids=reference_ids)
    for name in files:
        default_storage.delete(name)
    for path in features:
        Path(path).unlink(missing_ok=True)


@shared_task(name=queue.REFERENCES_PURGE_EXPIRED, bind=True, acks_late=True, soft_time_limit=600, time_limit=660)
def references_purge_expired(self) -> int:
    """Beat job: purges references soft-deleted longer ago than the grace period (rows now, vectors and
    files through reference_vectors_purge)."""
    from search.references import references_purge_expired as purge

    return purge()


# Registers the reindex, webhook and bulk-ingest tasks: Celery's autodiscovery imports only this module.
from workers import ingest, reindex, webhooks  # noqa: E402,F401
