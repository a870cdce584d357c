"""Bulk ingest: jobs that add a zip, a folder or a CSV manifest of images to a collection in chunks.

A job lists its items once (into a JSON-lines file beside the archive), then advances by chunks of
ISC_INGEST_CHUNK items. Each chunk is decoded and described in a process pool
(`copydetect.ingest.IngestPool`), stored as rows, upserted into Milvus, and committed together with
the job's cursor. Re-running a chunk is harmless: rows are unique by (collection, sha256), the rows
a killed run left half-done are adopted rather than counted as duplicates, Milvus upserts by id,
and the counters only move with the cursor, in one conditional update.
"""

from __future__ import annotations

import array
import csv
import io
import itertools
import json
import logging
import os
import time
import uuid
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from copydetect.imaging import image_decode
from copydetect.ingest import STAGES, IngestItem, IngestPool, ItemOutcome, WorkerSpec
from copydetect.vector_store import VectorStore
from search import queue, services
from search.audit import audit_record
from search.models import AuditAction, Collection, ImageStatus, IngestError, IngestJob, ReferenceImage
from search.permissions import MANAGE, UPLOAD, role_require
from search.uploads import IMAGE_SUFFIXES, UploadError, _zip_member_rejection, folder_resolve

logger = logging.getLogger(__name__)

MANIFEST_COLUMNS = ("path", "external_id", "metadata")
MANIFEST_ERRORS_SHOWN = 20


class ManifestError(ValueError):
    """The manifest cannot be used as it is; the message names the bad lines."""


@dataclass(frozen=True)
class ManifestEntry:
    line: int
    path: str
    external_id: str | None = None
    metadata: dict | None = None


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


# ---------------------------------------------------------------- manifests


def manifest_parse(text: str, *, base_dir: Path) -> list[ManifestEntry]:
    """Rows of a CSV manifest: `path` (relative to `base_dir` unless absolute), optional `external_id`
    and `metadata` (a JSON object). Every bad row is reported, with its line number."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    columns = [name.strip() for name in (reader.fieldnames or [])]
    if "path" not in columns:
        raise ManifestError(
            "The manifest needs a header row with a 'path' column (optional: external_id, metadata); "
            f"found {', '.join(columns) or 'no header'}."
        )
    unknown = sorted(set(columns) - set(MANIFEST_COLUMNS))
    if unknown:
        raise ManifestError(
            f"Unknown manifest column(s): {', '.join(unknown)}; allowed: {', '.join(MANIFEST_COLUMNS)}."
        )
    entries, problems = [], []
    for row in reader:
        line = reader.line_num
        row = {(key or "").strip(): value for key, value in row.items()}
        if "" in row:  # csv puts extra fields under the key None
            problems.append(f"line {line}: more fields than columns")
            continue
        path = (row.get("path") or "").strip()
        if not path:
            problems.append(f"line {line}: empty path")
            continue
        external_id = (row.get("external_id") or "").strip() or None
        if external_id and len(external_id) > 200:
            problems.append(f"line {line}: external_id longer than 200 characters")
            continue
        metadata, problem = _metadata_parse(row.get("metadata"))
        if problem:
            problems.append(f"line {line}: {problem}")
            continue
        resolved = Path(path).expanduser()
        if not resolved.is_absolute():
            resolved = base_dir / resolved
        entries.append(ManifestEntry(line=line, path=str(resolved), external_id=external_id, metadata=metadata))
    if problems:
        shown = "; ".join(problems[:MANIFEST_ERRORS_SHOWN])
        more = f"; … and {len(problems) - MANIFEST_ERRORS_SHOWN} more" if len(problems) > MANIFEST_ERRORS_SHOWN else ""
        raise ManifestError(f"{len(problems)} bad row(s) in the manifest: {shown}{more}.")
    if not entries:
        raise ManifestError("The manifest lists no images.")
    return entries


def _metadata_parse(raw: str | None) -> tuple[dict | None, str]:
    raw = (raw or "").strip()
    if not raw:
        return None, ""
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        return None, f"metadata is not valid JSON ({exc.msg} at character {exc.pos})"
    if not isinstance(value, dict):
        return None, 'metadata must be a JSON object, e.g. {"source": "scan"}'
    return value, ""


# ---------------------------------------------------------------- starting jobs


def ingest_dir() -> Path:
    folder = Path(settings.ISC["INGEST_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def ingest_role_needed(source_kind: str):
    """An uploaded zip needs the uploader role; reading server paths (a folder, a manifest) needs the admin."""
    return UPLOAD if source_kind == IngestJob.Source.ZIP else MANAGE


def ingest_job_create(
    *,
    actor: AbstractBaseUser,
    collection: Collection,
    source_kind: str,
    source_path: str,
    source_name: str = "",
    via: str = "site",
    enqueue: bool = True,
) -> IngestJob:
    """Creates the job row and records its start in the team's audit log; with `enqueue` the workers
    pick it up once the transaction commits. `actor` needs the role of `ingest_role_needed`."""
    if source_kind not in IngestJob.Source.values:
        raise ValueError(f"Unknown ingest source {source_kind!r}.")
    role_require(user=actor, team=collection.team_id, minimum=ingest_role_needed(source_kind))
    with transaction.atomic():
        job = IngestJob.objects.create(
            collection=collection,
            created_by=actor,
            source_kind=source_kind,
            source_path=source_path,
            source_name=source_name[:300] or Path(source_path).name,
        )
        audit_record(
            actor=actor,
            team=collection.team,
            action=AuditAction.INGEST_START,
            target=job,
            after={"ingest_job_id": job.id, "source": source_kind, "source_name": job.source_name, "via": via},
        )
        if enqueue:
            transaction.on_commit(lambda: queue.task_send(queue.INGEST_CHUNK, job.id, 0))
    return job


def ingest_zip_upload(*, actor: AbstractBaseUser, collection: Collection, uploaded) -> IngestJob:
    """Stores an uploaded zip under INGEST_DIR (streamed, never read into memory) and queues its job.

    Only the archive's directory is read here, so a broken or oversized zip is refused at once
    while the members are left to the workers.
    """
    role_require(user=actor, team=collection.team_id, minimum=UPLOAD)  # before a byte is written
    target = ingest_dir() / f"upload-{uuid.uuid4().hex}.zip"
    with open(target, "wb") as handle:
        for piece in uploaded.chunks():
            handle.write(piece)
    try:
        zip_directory_check(target)
    except UploadError:
        target.unlink(missing_ok=True)
        raise
    return ingest_job_create(
        actor=actor,
        collection=collection,
        source_kind=IngestJob.Source.ZIP,
        source_path=str(target),
        source_name=Path(uploaded.name).name,
    )


def ingest_folder_start(*, actor: AbstractBaseUser, collection: Collection, folder: str) -> IngestJob:
    """A server folder, from the site: team admins only, and only from under the team's own import root."""
    role_require(user=actor, team=collection.team_id, minimum=MANAGE)  # before the path is even looked at
    resolved = folder_resolve(Path(folder), allowed_roots=services.team_import_root(team=collection.team))
    return ingest_job_create(
        actor=actor,
        collection=collection,
        source_kind=IngestJob.Source.FOLDER,
        source_path=str(resolved),
        source_name=str(resolved),
    )


def zip_directory_check(path: Path) -> list[zipfile.ZipInfo]:
    try:
        with zipfile.ZipFile(path) as bundle:
            members = [info for info in bundle.infolist() if not info.is_dir()]
    except (zipfile.BadZipFile, OSError):
        raise UploadError("The file is not a readable zip archive.") from None
    if not members:
        raise UploadError("The zip archive is empty.")
    limit = settings.ISC["INGEST_MAX_FILES"]
    if len(members) > limit:
        raise UploadError(f"The zip archive holds {len(members):,} files, more than the limit of {limit:,}.")
    return members


def source_kind_guess(path: Path) -> str:
    if path.is_dir():
        return IngestJob.Source.FOLDER
    if path.suffix.lower() == ".csv":
        return IngestJob.Source.MANIFEST
    if zipfile.is_zipfile(path):
        return IngestJob.Source.ZIP
    raise UploadError(f"{path} is neither a folder, a zip archive nor a .csv manifest.")


# ---------------------------------------------------------------- listing a job's items


def items_path(job: IngestJob) -> Path:
    return ingest_dir() / f"job-{job.id}-items.jsonl"


def ingest_items_prepare(job: IngestJob) -> None:
    """Lists the job's items once (a file of one JSON object per line), records the entries refused
    while listing, and sets `total`. Written to a temporary name and renamed, so a crash while
    listing leaves no half list behind."""
    entries, rejections = _source_list(job)
    target = items_path(job)
    suffix = f".{uuid.uuid4().hex}.tmp"
    temporary, temporary_index = target.with_name(target.name + suffix), target.with_name(target.name + ".idx" + suffix)
    # Beside the list, the byte offset of each line (8 bytes each), so a chunk seeks to its cursor
    # instead of reading the list from the start: a million-file job stays linear.
    offsets = array.array("Q")
    with open(temporary, "wb") as handle:
        for position, entry in enumerate(entries):
            offsets.append(handle.tell())
            handle.write((json.dumps({"position": position, **entry}, ensure_ascii=False) + "\n").encode())
    with open(temporary_index, "wb") as handle:
        offsets.tofile(handle)
    os.replace(temporary_index, _index_path(target))
    os.replace(temporary, target)  # last: its presence means the listing is complete
    with transaction.atomic():
        IngestError.objects.filter(job=job, position__lt=0).delete()
        IngestError.objects.bulk_create(
            [
                IngestError(job=job, position=-(i + 1), name=name[:1000], reason=reason)
                for i, (name, reason) in enumerate(rejections)
            ]
        )
        IngestJob.objects.filter(id=job.id).update(total=len(entries), failed=len(rejections))


def _source_list(job: IngestJob) -> tuple[list[dict], list[tuple[str, str]]]:
    limits = services.upload_limits()
    source = Path(job.source_path)
    if job.source_kind == IngestJob.Source.ZIP:
        entries, rejections = [], []
        for info in zip_directory_check(source):
            rejection = _zip_member_rejection(info, limits=limits)
            if rejection:
                rejections.append((rejection.name, rejection.reason))
            else:
                entries.append({"name": info.filename, "path": str(source), "member": info.filename})
        return entries, rejections
    if job.source_kind == IngestJob.Source.FOLDER:
        return _folder_list(source)
    if job.source_kind == IngestJob.Source.MANIFEST:
        try:
            text = source.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ManifestError(f"The manifest cannot be read ({exc}).") from None
        parsed = manifest_parse(text, base_dir=source.parent)
        return [
            {"name": entry.path, "path": entry.path, "external_id": entry.external_id, "metadata": entry.metadata}
            for entry in parsed
        ], []
    raise ValueError(f"Unknown ingest source {job.source_kind!r}.")


def _folder_list(folder: Path) -> tuple[list[dict], list[tuple[str, str]]]:
    if not folder.is_dir():
        raise UploadError(f"{folder} is not a folder on the server.")
    root = folder.resolve()
    entries, rejections = [], []
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
        name = str(path.relative_to(folder))
        if path.is_symlink() and root not in path.resolve().parents:
            rejections.append((name, "Symbolic link leading outside the folder; skipped."))
        elif path.is_file():
            entries.append({"name": name, "path": str(path)})
    limit = settings.ISC["INGEST_MAX_FILES"]
    if len(entries) > limit:
        raise UploadError(f"The folder holds {len(entries):,} images, more than the limit of {limit:,}.")
    if not entries and not rejections:
        raise UploadError(f"No image files ({', '.join(sorted(IMAGE_SUFFIXES))}) were found in {folder}.")
    return entries, rejections


def ingest_items_read(job: IngestJob, *, start: int, count: int) -> list[dict]:
    target = items_path(job)
    with open(_index_path(target), "rb") as index:
        index.seek(8 * start)
        first = index.read(8)
    if len(first) < 8:
        return []
    with open(target, "rb") as handle:
        handle.seek(array.array("Q", first)[0])
        return [json.loads(line) for line in itertools.islice(handle, count)]


def _index_path(items: Path) -> Path:
    return items.with_name(items.name + ".idx")


# ---------------------------------------------------------------- running chunks


def worker_spec_get(*, vit_model: str | None) -> WorkerSpec:
    """What the decode processes build their engines from; `vit_model` is resolved by the caller (the
    worker's runtime), so this module reads settings only."""
    isc = settings.ISC
    return WorkerSpec(
        descriptor_name=isc["DESCRIPTOR"],
        vit_model=vit_model,
        fusion_dir=isc["FUSION_DIR"],
        device=isc["DEVICE"],
        features_dir=isc["FEATURES_DIR"],
        max_pixels=isc["MAX_IMAGE_PIXELS"],
        max_file_bytes=isc["MAX_UPLOAD_BYTES"],
        batch_size=isc["INGEST_BATCH_SIZE"],
    )


def ingest_pool_create(*, vit_model: str | None) -> IngestPool:
    return IngestPool(worker_spec_get(vit_model=vit_model), processes=settings.ISC["INGEST_PROCESSES"])


def ingest_job_claim(*, job_id: int) -> bool:
    """QUEUED → RUNNING, then lists the items unless they are listed already (a run killed while
    listing just lists again). False when the job is not running; a source that cannot be listed
    fails the job, with the reason."""
    now = timezone.now()
    IngestJob.objects.filter(id=job_id, state=IngestJob.State.QUEUED).update(
        state=IngestJob.State.RUNNING, started_at=now, heartbeat_at=now
    )
    job = IngestJob.objects.get(id=job_id)
    if job.state != IngestJob.State.RUNNING:
        return False
    if items_path(job).exists():
        return True
    try:
        ingest_items_prepare(job)
    except (UploadError, ManifestError) as exc:
        ingest_job_fail(job_id=job_id, error=str(exc))
        return False
    return True


def ingest_job_fail(*, job_id: int, error: str) -> None:
    IngestJob.objects.filter(id=job_id).update(
        state=IngestJob.State.FAILED, error=error[:2000], finished_at=timezone.now()
    )


def ingest_chunk_run(
    *,
    job_id: int,
    cursor: int,
    pool: IngestPool,
    store: VectorStore,
    descriptor,
    targets: Sequence | None = None,
    chunk_size: int | None = None,
) -> ChunkReport | None:
    """Works through the items at `cursor`; None when the job is not at that cursor (a stale or
    duplicate message) or is not active. `descriptor` is the model the pool processes embed with
    (their own copy of it): its version goes on the rows, as an upload's worker does. The vectors go
    to every version of `targets` (default: `descriptor`'s alone; workers pass every index version); a target other than `descriptor`
    embeds the chunk's images here, in this process (only while a reindex builds a new version)."""
    chunk_size = chunk_size or settings.ISC["INGEST_CHUNK"]
    job = IngestJob.objects.filter(id=job_id).first()
    if job is None or job.state not in IngestJob.ACTIVE_STATES or job.cursor != cursor:
        return None
    if (job.state == IngestJob.State.QUEUED or not items_path(job).exists()) and not ingest_job_claim(job_id=job_id):
        return None
    job.refresh_from_db()
    started = time.perf_counter()
    IngestJob.objects.filter(id=job_id).update(heartbeat_at=timezone.now())
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
    rows_by_sha, duplicates = _rows_store(job=job, outcomes=good, extras=extras, version=descriptor.version)
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

    errors = [o for o in result.outcomes if o.error]
    next_cursor = cursor + len(items)
    finished = next_cursor >= job.total
    busy = time.perf_counter() - started
    with transaction.atomic():
        now = timezone.now()
        advanced = IngestJob.objects.filter(id=job_id, cursor=cursor, state=IngestJob.State.RUNNING).update(
            cursor=next_cursor,
            done=F("done") + len(items),
            created=F("created") + len(fresh),
            skipped_duplicates=F("skipped_duplicates") + duplicates,
            failed=F("failed") + len(errors),
            busy_seconds=F("busy_seconds") + busy,
            heartbeat_at=now,
            **({"state": IngestJob.State.DONE, "finished_at": now} if finished else {}),
        )
        if advanced:
            # What services.reference_indexed_mark leaves on an uploaded row, so the sweeper, the
            # reconciler and the pages cannot tell the two apart.
            ReferenceImage.objects.filter(id__in=[row_id for _, row_id in fresh]).update(
                status=ImageStatus.INDEXED,
                descriptor_version=descriptor.version,
                processed_at=now,
                error="",
                notice="",
                attempts=0,
            )
            IngestError.objects.bulk_create(
                [IngestError(job_id=job_id, position=o.position, name=o.name[:1000], reason=o.error) for o in errors],
                ignore_conflicts=True,
            )
            if finished:
                _finish_record(job_id=job_id)
    if not advanced:
        return None
    return ChunkReport(
        job_id=job_id,
        cursor=cursor,
        next_cursor=next_cursor,
        finished=finished,
        items=len(items),
        created=len(fresh),
        duplicates=duplicates,
        failed=len(errors),
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
            max_pixels = settings.ISC["MAX_IMAGE_PIXELS"]
            images = [image_decode(outcome.data, max_pixels=max_pixels).image for outcome, _ in fresh]
            vectors = target.embed(images, batch_size=settings.ISC["INGEST_BATCH_SIZE"])
        store.collection_ensure(model_version=version, dim=target.dim, metric=target.metric)
        store.vectors_upsert(
            model_version=version, ids=ids, vectors=list(vectors), collection_ids=[collection_id] * len(fresh)
        )


def _finish_record(*, job_id: int) -> None:
    """The end of a job in its team's audit log, with its counts (by the system: no one clicked)."""
    job = IngestJob.objects.select_related("collection__team").get(id=job_id)
    audit_record(
        actor=None,
        team=job.collection.team,
        action=AuditAction.INGEST_FINISH,
        target=job,
        after={
            "ingest_job_id": job.id,
            "total": job.total,
            "created": job.created,
            "duplicates": job.skipped_duplicates,
            "failed": job.failed,
        },
    )


def _rows_store(
    *, job: IngestJob, outcomes: list[ItemOutcome], extras: dict, version: str
) -> tuple[dict[str, int], int]:
    """Rows for the chunk's new images: {sha256: row id} of those this job owns, and how many were
    duplicates (already in the collection, or repeated within the job)."""
    shas = {o.sha256 for o in outcomes}
    existing = {
        sha: (row_id, owner, status)
        for sha, row_id, owner, status in ReferenceImage.objects.filter(
            collection_id=job.collection_id, sha256__in=shas
        ).values_list("sha256", "id", "ingest_job_id", "status")
    }
    adopted, new, duplicates, seen = {}, [], 0, set()
    for outcome in outcomes:
        if outcome.sha256 in seen:
            duplicates += 1
            continue
        seen.add(outcome.sha256)
        found = existing.get(outcome.sha256)
        if found is None:
            new.append(outcome)
        elif found[1] == job.id and found[2] == ImageStatus.PROCESSING:
            adopted[outcome.sha256] = found[0]  # left half-done by an earlier run of this chunk
        else:
            duplicates += 1
    rows = []
    for outcome in new:
        external_id, metadata = extras.get(outcome.position, (None, None))
        rows.append(
            ReferenceImage(
                collection_id=job.collection_id,
                file=_file_store(outcome),
                original_name=outcome.name[:300],
                sha256=outcome.sha256,
                width=outcome.width,
                height=outcome.height,
                status=ImageStatus.PROCESSING,
                descriptor_version=version,
                local_features=outcome.features_path,
                external_id=external_id,
                metadata=metadata,
                ingest_job_id=job.id,
                attempts=1,
            )
        )
    # A concurrent upload of the same bytes may win a row: ignore the conflict, then see who owns what.
    ReferenceImage.objects.bulk_create(rows, ignore_conflicts=True)
    created = dict(
        ReferenceImage.objects.filter(
            collection_id=job.collection_id, sha256__in=[o.sha256 for o in new], ingest_job_id=job.id
        ).values_list("sha256", "id")
    )
    duplicates += len(new) - len(created)
    return {**adopted, **created}, duplicates


def _file_store(outcome: ItemOutcome) -> str:
    # Content-addressed: a re-run finds the file it wrote before instead of writing a second copy.
    name = f"references/{outcome.sha256[:2]}/{outcome.sha256}.{outcome.extension}"
    if default_storage.exists(name):
        return name
    return default_storage.save(name, ContentFile(outcome.data))


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
    job.refresh_from_db()
    if job.state == IngestJob.State.RUNNING and job.cursor >= job.total:
        with transaction.atomic():
            if IngestJob.objects.filter(id=job.id, state=IngestJob.State.RUNNING).update(
                state=IngestJob.State.DONE, finished_at=timezone.now()
            ):
                _finish_record(job_id=job.id)
        job.refresh_from_db()
    return job


# ---------------------------------------------------------------- resuming


def ingest_job_resume(*, job: IngestJob, enqueue: bool = True) -> IngestJob:
    """Puts a failed or stalled job back to work from its cursor (what it did stays done)."""
    state = IngestJob.State.RUNNING if items_path(job).exists() else IngestJob.State.QUEUED
    IngestJob.objects.filter(id=job.id).update(state=state, error="", finished_at=None, heartbeat_at=timezone.now())
    job.refresh_from_db()
    if enqueue:
        transaction.on_commit(lambda: queue.task_send(queue.INGEST_CHUNK, job.id, job.cursor))
    return job


def ingest_jobs_resume_stale(*, older_than: timedelta) -> list[int]:
    """Re-queues the chunk of every active job that has shown no sign of life for `older_than`
    (its worker was killed, or its message was lost); returns their ids. The heartbeat is moved
    forward in the same conditional update, so two sweepers never both re-queue a job."""
    cutoff = timezone.now() - older_than
    resumed = []
    stale = IngestJob.objects.annotate(seen=Coalesce("heartbeat_at", "created_at")).filter(
        state__in=IngestJob.ACTIVE_STATES, seen__lt=cutoff
    )
    for job_id, cursor in stale.values_list("id", "cursor"):
        touched = (
            IngestJob.objects.annotate(seen=Coalesce("heartbeat_at", "created_at"))
            .filter(id=job_id, cursor=cursor, seen__lt=cutoff)
            .update(heartbeat_at=timezone.now())
        )
        if touched:
            logger.warning("ingest job %s stalled at item %s; re-queued", job_id, cursor)
            queue.task_send(queue.INGEST_CHUNK, job_id, cursor)
            resumed.append(job_id)
    return resumed
