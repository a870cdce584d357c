"""Writes on index versions and reindex jobs, shared by the site and the workers."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from search.collection.models import ImageStatus, ReferenceImage
from search.core import dispatch
from search.core.audit import audit_record
from search.core.claims import Liveness, claims_dead, stopped_answering
from search.core.models import AuditAction
from search.reindex.models import IndexVersion, ReindexJob
from search.reindex.selectors import Rollback, index_version_live_get, reindex_job_active

logger = logging.getLogger(__name__)


def index_version_live_ensure(
    *, version: str, descriptor_name: str, model_files: dict | None = None
) -> tuple[IndexVersion, bool]:
    """The live version, or `version` made live when there is none yet (a fresh installation).

    Returns the row and whether it was made live now (the caller then points the Milvus alias at it).
    """
    live = index_version_live_get()
    if live is not None:
        return live, False
    try:
        with transaction.atomic():
            row, _ = IndexVersion.objects.get_or_create(
                version=version, defaults={"descriptor_name": descriptor_name, "model_files": model_files or {}}
            )
            row.state = IndexVersion.State.LIVE
            row.live_since = timezone.now()
            row.save(update_fields=["state", "live_since"])
    except IntegrityError:
        # Another worker made its version live first; that one stands.
        return index_version_live_get(), False
    logger.info("no live index version yet: %s is live from now on", version)
    return row, True


def index_version_load_error_record(*, version: str, error: str) -> None:
    IndexVersion.objects.filter(version=version).exclude(load_error=error[:2000]).update(load_error=error[:2000])


def index_version_rollback(*, plan: Rollback) -> None:
    """Records the rollback in the database (the caller has filled the restored collection with the
    references added since, and moved the Milvus alias)."""
    with transaction.atomic():
        IndexVersion.objects.filter(version=plan.previous, state=IndexVersion.State.LIVE).update(
            state=IndexVersion.State.RETIRED
        )
        IndexVersion.objects.filter(version=plan.restored).update(
            state=IndexVersion.State.LIVE, live_since=timezone.now()
        )
        ReferenceImage.objects.filter(status=ImageStatus.INDEXED, bank__isnull=True).update(
            descriptor_version=plan.restored
        )


def index_version_dropped_mark(*, version: str) -> None:
    IndexVersion.objects.filter(version=version).exclude(state=IndexVersion.State.LIVE).update(
        state=IndexVersion.State.DROPPED
    )


def reindex_job_start(
    *, actor: AbstractBaseUser | None = None, batch_size: int | None = None, enqueue: bool = True
) -> tuple[ReindexJob, bool]:
    """Queues a reindex to the workers' descriptor version; one at a time, so a running job is returned
    instead of a second one. Returns the job and whether it is new. `enqueue=False`: the caller runs
    the batches itself (`manage.py reindex --here`)."""
    with transaction.atomic():
        active = reindex_job_active()
        if active is not None:
            return active, False
        live = index_version_live_get()
        job = ReindexJob.objects.create(
            total=ReferenceImage.objects.filter(bank__isnull=True).count(),
            batch_size=batch_size or settings.ISC.reindex_batch_size,
            source_version=live.version if live else "",
        )
        # Site-wide (every team's references), so its audit event has no team; the page is staff-only.
        audit_record(
            actor=actor,
            team=None,
            action=AuditAction.REINDEX_START,
            target=job,
            after={"total": job.total, "source_version": job.source_version},
        )
        if enqueue:
            transaction.on_commit(lambda: dispatch.task_send(dispatch.REINDEX_RUN, job.id, 0))
    return job, True


def reindex_job_begin(
    *, job_id: int, descriptor_version: str, descriptor_name: str, model_files: dict | None = None
) -> ReindexJob | None:
    """The first batch claims a queued job for the version its worker runs; None if someone else did."""
    now = timezone.now()
    live = index_version_live_get()
    with transaction.atomic():
        claimed = ReindexJob.objects.filter(id=job_id, state=ReindexJob.State.QUEUED).update(
            state=ReindexJob.State.RUNNING,
            descriptor_version=descriptor_version,
            descriptor_name=descriptor_name,
            source_version=live.version if live else "",
            started_at=now,
            heartbeat_at=now,
            rate_since=now,
            rate_since_done=0,
        )
        if not claimed:
            return None
        if live is None or live.version != descriptor_version:
            row, _ = IndexVersion.objects.get_or_create(
                version=descriptor_version, defaults={"descriptor_name": descriptor_name}
            )
            IndexVersion.objects.filter(id=row.id).update(
                state=IndexVersion.State.BUILDING, load_error="", model_files=model_files or {}
            )
        else:
            ReindexJob.objects.filter(id=job_id).update(
                note="The workers run the live version already: its collection is refreshed in place."
            )
    return ReindexJob.objects.get(id=job_id)


def reindex_job_heartbeat(*, job_id: int, worker: str = "") -> None:
    """A batch starts on `worker` (its Celery hostname): it holds the job until the batch is recorded."""
    ReindexJob.objects.filter(id=job_id, state=ReindexJob.State.RUNNING).update(
        heartbeat_at=timezone.now(), claimed_by=worker[:200]
    )


def reindex_batch_record(*, job_id: int, cursor_from: int, cursor_to: int, processed: int) -> bool:
    """Moves the cursor past one batch, unless another delivery of the same batch did so already."""
    remaining = ReferenceImage.objects.filter(id__gt=cursor_to, bank__isnull=True).count()
    advanced = ReindexJob.objects.filter(id=job_id, state=ReindexJob.State.RUNNING, cursor=cursor_from).update(
        cursor=cursor_to,
        done=F("done") + processed,
        # Uploads during the job raise the total: the cursor will reach them too.
        total=F("done") + processed + remaining,
        heartbeat_at=timezone.now(),
    )
    return advanced == 1


def reindex_version_switch(*, job_id: int) -> str | None:
    """Makes the job's version live (the caller has checked and flushed its collection and moved the
    alias); idempotent. Returns the version it replaced (None when the job refreshed the live one)."""
    with transaction.atomic():
        job = ReindexJob.objects.select_for_update().get(id=job_id)
        if job.state != ReindexJob.State.RUNNING:
            return None
        replaced = IndexVersion.objects.filter(state=IndexVersion.State.LIVE).exclude(version=job.descriptor_version)
        replaced.update(state=IndexVersion.State.RETIRED)
        row, _ = IndexVersion.objects.get_or_create(
            version=job.descriptor_version, defaults={"descriptor_name": job.descriptor_name}
        )
        if row.state != IndexVersion.State.LIVE:
            row.state = IndexVersion.State.LIVE
            row.live_since = timezone.now()
            row.load_error = ""
            row.save(update_fields=["state", "live_since", "load_error"])
        # The caller checked that the collection holds every one of them.
        ReferenceImage.objects.filter(status=ImageStatus.INDEXED, bank__isnull=True).update(
            descriptor_version=job.descriptor_version
        )
    if job.source_version and job.source_version != job.descriptor_version:
        return job.source_version
    return None


def reindex_job_finish(*, job_id: int, note: str = "") -> None:
    now = timezone.now()
    changes = {"note": note} if note else {}
    ReindexJob.objects.filter(id=job_id, state=ReindexJob.State.RUNNING).update(
        state=ReindexJob.State.DONE, finished_at=now, heartbeat_at=now, total=F("done"), **changes
    )


def reindex_job_fail(*, job_id: int, error: str) -> None:
    ReindexJob.objects.filter(id=job_id, state__in=ReindexJob.ACTIVE_STATES).update(
        state=ReindexJob.State.FAILED, error=error[:2000], finished_at=timezone.now()
    )
    # The half-built version stays on record as building no more; its collection is harmless.
    IndexVersion.objects.filter(
        state=IndexVersion.State.BUILDING,
        version__in=ReindexJob.objects.filter(id=job_id).values("descriptor_version"),
    ).exclude(
        version__in=ReindexJob.objects.filter(state__in=ReindexJob.ACTIVE_STATES).values("descriptor_version")
    ).update(state=IndexVersion.State.RETIRED)


def reindex_jobs_resume_stale(*, older_than: timedelta) -> int:
    """Re-queues the current batch of every job silent for longer than `older_than` (its worker died).

    Safe alongside a worker that is merely slow: the batch carries the cursor it expects, so whichever
    delivery moves the cursor first wins and the other does nothing.
    """
    now = timezone.now()
    deadline = now - older_than
    resumed = 0
    for job in ReindexJob.objects.filter(state__in=ReindexJob.ACTIVE_STATES):
        last_sign = job.heartbeat_at or job.created_at
        if last_sign > deadline:
            continue
        touched = ReindexJob.objects.filter(id=job.id, state=job.state, cursor=job.cursor).update(
            heartbeat_at=now, rate_since=now, rate_since_done=job.done, resumes=F("resumes") + 1
        )
        if not touched:
            continue
        logger.warning("reindex #%s silent since %s: resuming after reference %s", job.id, last_sign, job.cursor)
        dispatch.task_send(dispatch.REINDEX_RUN, job.id, job.cursor)
        resumed += 1
    return resumed


def reindex_jobs_requeue_dead(*, liveness: Liveness) -> int:
    """Re-queues, at once, the current batch of every running job whose worker is gone (search/core/claims.py);
    the page says so. Returns how many. A duplicate of a batch still in the queue is harmless (the cursor)."""
    now = timezone.now()
    resumed = 0
    dead = ReindexJob.objects.filter(claims_dead(liveness, claimed_at="heartbeat_at"), state=ReindexJob.State.RUNNING)
    for job in dead:
        notice = (
            f"Stalled at {timezone.localtime(now):%H:%M:%S}: {stopped_answering(job.claimed_by)} "
            f"after {job.done} of {job.total}; its batch was queued again."
        )
        touched = ReindexJob.objects.filter(
            id=job.id, state=ReindexJob.State.RUNNING, cursor=job.cursor, claimed_by=job.claimed_by
        ).update(
            claimed_by="",
            stall_notice=notice[:300],
            heartbeat_at=now,
            rate_since=now,
            rate_since_done=job.done,
            resumes=F("resumes") + 1,
        )
        if not touched:
            continue
        logger.warning(
            "reindex #%s: %s; resuming after reference %s", job.id, stopped_answering(job.claimed_by), job.cursor
        )
        dispatch.task_send(dispatch.REINDEX_RUN, job.id, job.cursor)
        resumed += 1
    return resumed
