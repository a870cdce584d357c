"""Bulk ingest jobs: started from a zip, a folder or a CSV manifest, claimed, advanced chunk by chunk,
failed with a reason, resumed."""

from __future__ import annotations

import logging
import uuid
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from copydetect.ingest import ItemOutcome
from search.collection import services
from search.collection.models import Collection, ImageStatus, ReferenceImage
from search.core import dispatch
from search.core.audit import audit_record
from search.core.claims import Liveness, claims_dead, stopped_answering
from search.core.models import AuditAction
from search.core.permissions import MANAGE, UPLOAD, role_require
from search.core.uploads import UploadError, folder_resolve
from search.ingest.items import ingest_dir, ingest_items_prepare, items_path, zip_directory_check
from search.ingest.manifest import ManifestError
from search.ingest.models import IngestError, IngestJob
from search.lookback.services import lookback_references_indexed

logger = logging.getLogger(__name__)


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
            transaction.on_commit(lambda: dispatch.task_send(dispatch.INGEST_CHUNK, job.id, 0))
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


def source_kind_guess(path: Path) -> str:
    if path.is_dir():
        return IngestJob.Source.FOLDER
    if path.suffix.lower() == ".csv":
        return IngestJob.Source.MANIFEST
    if zipfile.is_zipfile(path):
        return IngestJob.Source.ZIP
    raise UploadError(f"{path} is neither a folder, a zip archive nor a .csv manifest.")


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


def ingest_job_finish_record(*, job_id: int) -> None:
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


def ingest_rows_store(
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
                pdq=outcome.pdq,
                pdq_quality=outcome.pdq_quality,
                md5=outcome.md5,
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


def ingest_chunk_open(*, job_id: int, cursor: int, worker: str = "") -> IngestJob | None:
    """The job, ready for the chunk at `cursor` (claimed and listed), or None when the message is stale or
    duplicate (the job is elsewhere or done) or the job cannot go on (it is failed, with the reason).
    `worker` (the Celery hostname) holds the job until the chunk is recorded."""
    job = IngestJob.objects.filter(id=job_id).first()
    if job is None or job.state not in IngestJob.ACTIVE_STATES or job.cursor != cursor:
        return None
    if (job.state == IngestJob.State.QUEUED or not items_path(job).exists()) and not ingest_job_claim(job_id=job_id):
        return None
    job.refresh_from_db()
    IngestJob.objects.filter(id=job_id).update(heartbeat_at=timezone.now(), claimed_by=worker[:200])
    return job


@dataclass(frozen=True)
class ItemFailure:
    position: int
    name: str
    reason: str


def ingest_chunk_record(
    *,
    job_id: int,
    cursor: int,
    items: int,
    indexed_ids: Sequence[int],
    descriptor_version: str,
    duplicates: int,
    failures: Sequence[ItemFailure],
    busy_seconds: float,
) -> tuple[bool, bool]:
    """Moves the job's cursor past the chunk with its counts, marks its new rows indexed and lists its failed
    files, in one transaction; only if the cursor still reads `cursor`, so a chunk that ran twice counts
    once. Returns (advanced, finished)."""
    with transaction.atomic():
        job = IngestJob.objects.get(id=job_id)
        next_cursor = cursor + items
        finished = next_cursor >= job.total
        now = timezone.now()
        advanced = IngestJob.objects.filter(id=job_id, cursor=cursor, state=IngestJob.State.RUNNING).update(
            cursor=next_cursor,
            done=F("done") + items,
            created=F("created") + len(indexed_ids),
            skipped_duplicates=F("skipped_duplicates") + duplicates,
            failed=F("failed") + len(failures),
            busy_seconds=F("busy_seconds") + busy_seconds,
            heartbeat_at=now,
            **({"state": IngestJob.State.DONE, "finished_at": now} if finished else {}),
        )
        if advanced:
            # What an uploaded row's worker leaves (collection.services.reference_indexed_mark), so the
            # sweeper, the reconciler and the pages cannot tell the two apart.
            ReferenceImage.objects.filter(id__in=list(indexed_ids)).update(
                status=ImageStatus.INDEXED,
                descriptor_version=descriptor_version,
                processed_at=now,
                error="",
                notice="",
                attempts=0,
            )
            lookback_references_indexed(reference_ids=list(indexed_ids))
            IngestError.objects.bulk_create(
                [
                    IngestError(job_id=job_id, position=f.position, name=f.name[:1000], reason=f.reason)
                    for f in failures
                ],
                ignore_conflicts=True,
            )
            if finished:
                ingest_job_finish_record(job_id=job_id)
    return bool(advanced), finished


def ingest_job_complete(*, job_id: int) -> IngestJob:
    """Closes a running job whose cursor reached its end (a run in one process, after its last chunk)."""
    job = IngestJob.objects.get(id=job_id)
    if job.state == IngestJob.State.RUNNING and job.cursor >= job.total:
        with transaction.atomic():
            if IngestJob.objects.filter(id=job.id, state=IngestJob.State.RUNNING).update(
                state=IngestJob.State.DONE, finished_at=timezone.now()
            ):
                ingest_job_finish_record(job_id=job.id)
        job.refresh_from_db()
    return job


def ingest_job_resume(*, job: IngestJob, enqueue: bool = True) -> IngestJob:
    """Puts a failed or stalled job back to work from its cursor (what it did stays done)."""
    state = IngestJob.State.RUNNING if items_path(job).exists() else IngestJob.State.QUEUED
    IngestJob.objects.filter(id=job.id).update(state=state, error="", finished_at=None, heartbeat_at=timezone.now())
    job.refresh_from_db()
    if enqueue:
        transaction.on_commit(lambda: dispatch.task_send(dispatch.INGEST_CHUNK, job.id, job.cursor))
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
            dispatch.task_send(dispatch.INGEST_CHUNK, job_id, cursor)
            resumed.append(job_id)
    return resumed


def ingest_jobs_requeue_dead(*, liveness: Liveness) -> list[int]:
    """Re-queues, at once, the current chunk of every running job whose worker is gone (search/core/claims.py);
    the page says so. Rows the dead chunk left half-done are adopted by the new run of the chunk
    (ingest_rows_store). Returns the jobs' ids."""
    now = timezone.now()
    resumed = []
    dead = IngestJob.objects.filter(claims_dead(liveness, claimed_at="heartbeat_at"), state=IngestJob.State.RUNNING)
    for job_id, cursor, worker, total in dead.values_list("id", "cursor", "claimed_by", "total"):
        notice = (
            f"Stalled at {timezone.localtime(now):%H:%M:%S}: {stopped_answering(worker)} "
            f"at file {cursor} of {total}; its chunk was queued again."
        )
        touched = IngestJob.objects.filter(
            id=job_id, state=IngestJob.State.RUNNING, cursor=cursor, claimed_by=worker
        ).update(claimed_by="", stall_notice=notice[:300], heartbeat_at=now)
        if touched:
            logger.warning("ingest job %s: %s at item %s; re-queued", job_id, stopped_answering(worker), cursor)
            dispatch.task_send(dispatch.INGEST_CHUNK, job_id, cursor)
            resumed.append(job_id)
    return resumed
