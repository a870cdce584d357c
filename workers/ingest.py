"""The worker's half of bulk ingest: a process pool kept for the worker's lifetime, and a chunk's run through it."""

from __future__ import annotations

import atexit
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.dispatch import Signal

from copydetect.imaging import image_decode
from copydetect.ingest import STAGES, IngestItem, IngestPool, WorkerSpec
from copydetect.vector_store import VectorStore
from search.ingest import services as ingest_services
from search.ingest.items import ingest_items_read
from search.ingest.models import IngestJob
from workers import runtime

_pool = None

# Sent in the worker process once a chunk holds the job, before its work starts: for observers such as metrics,
# and for the fault tests, which hang a worker inside a chosen chunk from here (tests/system/faults).
chunk_started = Signal()


def pool_get():
    global _pool
    spec = worker_spec_get(vit_model=runtime.vit_model_for_descriptor())
    if _pool is not None and (_pool.spec != spec or _pool.processes != settings.ISC.ingest_processes):
        pool_close()
    if _pool is None:
        _pool = ingest_pool_create(vit_model=spec.vit_model)
    return _pool


@atexit.register
def pool_close() -> None:
    global _pool
    if _pool is not None:
        _pool.close()
        _pool = None


@dataclass
class ChunkReport:
    job_id: int
    cursor: int  # where the chunk started
    next_cursor: int
    finished: bool
    items: int = 0
    created: int = 0
    duplicates: int = 0
    failed: int = 0
    seconds: dict[str, float] = field(default_factory=dict)  # per stage; pool stages are core-seconds


def worker_spec_get(*, vit_model: str | None) -> WorkerSpec:
    """What the decode processes build their engines from; `vit_model` is resolved by the caller (the
    worker's runtime), so this module reads settings only."""
    isc = settings.ISC
    return WorkerSpec(
        descriptor_name=isc.descriptor,
        vit_model=vit_model,
        fusion_dir=isc.fusion_dir,
        device=isc.device,
        features_dir=isc.features_dir,
        max_pixels=isc.max_image_pixels,
        max_file_bytes=isc.max_upload_bytes,
        batch_size=isc.ingest_batch_size,
    )


def ingest_pool_create(*, vit_model: str | None) -> IngestPool:
    return IngestPool(worker_spec_get(vit_model=vit_model), processes=settings.ISC.ingest_processes)


def ingest_chunk_run(
    *,
    job_id: int,
    cursor: int,
    pool: IngestPool,
    store: VectorStore,
    descriptor,
    targets: Sequence | None = None,
    chunk_size: int | None = None,
    worker: str = "",
) -> ChunkReport | None:
    """Works through the items at `cursor`; None when the job is not at that cursor (a stale or
    duplicate message) or is not active. `descriptor` is the model the pool processes embed with
    (their own copy of it): its version goes on the rows, as an upload's worker does. The vectors go
    to every version of `targets` (default: `descriptor`'s alone; workers pass every index version); a
    target other than `descriptor` embeds the chunk's images here, in this process (only while a reindex
    builds a new version). `worker`: the Celery hostname that holds the job while the chunk runs."""
    chunk_size = chunk_size or settings.ISC.ingest_chunk
    job = ingest_services.ingest_chunk_open(job_id=job_id, cursor=cursor, worker=worker)
    if job is None:
        return None
    chunk_started.send(sender=IngestJob, job_id=job_id, cursor=cursor)
    started = time.perf_counter()
    raw_items = ingest_items_read(job, start=cursor, count=chunk_size)
    items = [
        IngestItem(position=raw["position"], name=raw["name"], path=raw["path"], member=raw.get("member"))
        for raw in raw_items
    ]
    extras = {raw["position"]: (raw.get("external_id"), raw.get("metadata")) for raw in raw_items}
    result = pool.run(items)
    seconds = {stage: result.seconds.get(stage, 0.0) for stage in STAGES}

    mark = time.perf_counter()
    good = [o for o in result.outcomes if not o.error]
    rows_by_sha, duplicates = ingest_services.ingest_rows_store(
        job=job, outcomes=good, extras=extras, version=descriptor.version
    )
    seconds["store"] = time.perf_counter() - mark

    mark = time.perf_counter()
    firsts = {}
    for outcome in good:
        firsts.setdefault(outcome.sha256, outcome)
    fresh = [(outcome, rows_by_sha[sha]) for sha, outcome in firsts.items() if sha in rows_by_sha]
    if fresh:
        _vectors_write(
            store=store, descriptor=descriptor, targets=targets, fresh=fresh, collection_id=job.collection_id
        )
    seconds["insert"] = time.perf_counter() - mark

    failures = [
        ingest_services.ItemFailure(position=o.position, name=o.name, reason=o.error)
        for o in result.outcomes
        if o.error
    ]
    advanced, finished = ingest_services.ingest_chunk_record(
        job_id=job_id,
        cursor=cursor,
        items=len(items),
        indexed_ids=[row_id for _, row_id in fresh],
        descriptor_version=descriptor.version,
        duplicates=duplicates,
        failures=failures,
        busy_seconds=time.perf_counter() - started,
    )
    if not advanced:
        return None
    return ChunkReport(
        job_id=job_id,
        cursor=cursor,
        next_cursor=cursor + len(items),
        finished=finished,
        items=len(items),
        created=len(fresh),
        duplicates=duplicates,
        failed=len(failures),
        seconds=seconds,
    )


def _vectors_write(*, store: VectorStore, descriptor, targets, fresh: list, collection_id: int) -> None:
    targets = [descriptor] if targets is None else targets
    ids = [row_id for _, row_id in fresh]
    # Distinct versions: the live one and the one being built may be the same model.
    by_version = {target.version: target for target in targets} or {descriptor.version: descriptor}
    for version, target in by_version.items():
        if version == descriptor.version:
            vectors = [outcome.vector for outcome, _ in fresh]
        else:
            max_pixels = settings.ISC.max_image_pixels
            images = [image_decode(outcome.data, max_pixels=max_pixels).image for outcome, _ in fresh]
            vectors = target.embed(images, batch_size=settings.ISC.ingest_batch_size)
        store.collection_ensure(model_version=version, dim=target.dim, metric=target.metric)
        store.vectors_upsert(
            model_version=version, ids=ids, vectors=list(vectors), collection_ids=[collection_id] * len(fresh)
        )


def ingest_job_run(
    *, job: IngestJob, pool: IngestPool, store: VectorStore, descriptor, targets=None, on_chunk=None
) -> IngestJob:
    """Runs every remaining chunk of `job` in this process (the command, the benchmark)."""
    cursor = job.cursor
    while True:
        report = ingest_chunk_run(
            job_id=job.id, cursor=cursor, pool=pool, store=store, descriptor=descriptor, targets=targets
        )
        if report is None:
            break
        if on_chunk:
            on_chunk(report)
        if report.finished:
            break
        cursor = report.next_cursor
    return ingest_services.ingest_job_complete(job_id=job.id)
