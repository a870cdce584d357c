"""The life of a reference or query row while the workers process it: stored and queued, claimed,
released after a transient error, failed with a reason, swept when its message was lost, retried."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.utils import timezone

from copydetect.imaging import ImageFacts
from search.collection.models import Collection, ImageStatus, ReferenceImage
from search.core import dispatch
from search.core.audit import audit_record
from search.core.claims import Liveness, claims_dead, stopped_answering
from search.core.models import AuditAction
from search.core.permissions import UPLOAD, role_require
from search.core.uploads import Payload
from search.queries.models import QueryImage

logger = logging.getLogger(__name__)


def _stored_image_create(model, *, collection: Collection, payload: Payload, facts: ImageFacts):
    existing = model.objects.filter(collection=collection, sha256=facts.sha256).first()
    if existing:
        return existing, False
    folder = "references" if model is ReferenceImage else "queries"
    stored_name = default_storage.save(
        f"{folder}/{facts.sha256[:2]}/{facts.sha256}.{facts.extension}", ContentFile(payload.data)
    )
    try:
        with transaction.atomic():
            row = model.objects.create(
                collection=collection,
                file=stored_name,
                original_name=payload.name[:300],
                sha256=facts.sha256,
                width=facts.width,
                height=facts.height,
            )
            transaction.on_commit(lambda: _task_queue(row))
    except IntegrityError:
        # A concurrent upload of the same bytes won the race; keep its row, drop our copy.
        default_storage.delete(stored_name)
        return model.objects.get(collection=collection, sha256=facts.sha256), False
    except Exception:
        default_storage.delete(stored_name)
        raise
    return row, True


def _task_queue(row: ReferenceImage | QueryImage) -> None:
    stored_image_queue(model=type(row), image_id=row.id)


def stored_image_queue(*, model, image_id: int) -> bool:
    """Hands the row to the broker; when Redis is down the row stays pending with no `queued_at`,
    which the sweeper picks up once the broker answers again. Returns whether it was queued."""
    task = dispatch.REFERENCE_INDEX if model is ReferenceImage else dispatch.QUERY_SEARCH
    if not dispatch.task_send(task, image_id):
        return False
    model.objects.filter(id=image_id).update(queued_at=timezone.now())
    return True


class Claim(StrEnum):
    CLAIMED = "claimed"
    SKIPPED = "skipped"  # done with this version, failed, or deleted: nothing to do
    GAVE_UP = "gave_up"  # claimed max_attempts times without the worker reporting back


WORKER_DIED = "The worker died while processing this image"


def stored_image_claim(
    *, model, image_id: int, descriptor_version: str, max_attempts: int | None = None, worker: str = ""
) -> Claim:
    """Marks a row as processing unless it is done with this descriptor version, failed, or gone.

    A conditional UPDATE, so two deliveries of the same task cannot both do the work twice for a
    finished row; a row left in 'processing' by a killed worker can be claimed again, until it has
    been claimed `max_attempts` times without an outcome: then it is failed (a poison image). `worker` (the
    Celery hostname) is recorded, so that the claim is re-queued as soon as that worker stops answering.
    """
    max_attempts = settings.ISC.max_attempts if max_attempts is None else max_attempts
    due = model.objects.filter(id=image_id).exclude(
        Q(status=ImageStatus.INDEXED, descriptor_version=descriptor_version) | Q(status=ImageStatus.FAILED)
    )
    claimed = due.filter(attempts__lt=max_attempts).update(
        status=ImageStatus.PROCESSING,
        attempts=F("attempts") + 1,
        error="",
        claimed_at=timezone.now(),
        claimed_by=worker[:200],
    )
    if claimed:
        return Claim.CLAIMED
    if not due.exists():
        return Claim.SKIPPED
    attempts = due.values_list("attempts", flat=True).first()
    logger.error("%s %s: claimed %s times without an outcome; failing it", model.__name__, image_id, attempts)
    stored_image_fail(
        model=model, image_id=image_id, error=f"{WORKER_DIED} ({attempts} attempts); it was not tried again."
    )
    return Claim.GAVE_UP


def stored_image_release(*, model, image_id: int, notice: str) -> None:
    """Back to pending after a transient error, with the reason shown on the page.

    The claim ended with an outcome, so it does not count towards `MAX_ATTEMPTS`; the retry the
    worker has just published counts as the row's latest hand-over to the broker.
    """
    model.objects.filter(id=image_id, status__in=[ImageStatus.PENDING, ImageStatus.PROCESSING]).update(
        status=ImageStatus.PENDING,
        notice=notice[:300],
        attempts=Greatest(F("attempts") - 1, 0),
        queued_at=timezone.now(),
    )


def stored_image_fail(*, model, image_id: int, error: str, only_waiting: bool = False) -> None:
    """Fails the row with a reason for the page; `only_waiting` leaves rows already done or failed alone."""
    rows = model.objects.filter(id=image_id)
    if only_waiting:
        rows = rows.filter(status__in=[ImageStatus.PENDING, ImageStatus.PROCESSING])
    rows.update(status=ImageStatus.FAILED, error=error[:2000], notice="", processed_at=timezone.now())


@dataclass(frozen=True)
class SweepReport:
    never_queued: int = 0
    queued_before_broker_restart: int = 0
    stale_pending: int = 0
    stale_processing: int = 0
    broker_down: bool = False

    @property
    def queued(self) -> int:
        return self.never_queued + self.queued_before_broker_restart + self.stale_pending + self.stale_processing


def stored_images_sweep(
    *,
    model,
    grace_seconds: float,
    stale_after_seconds: float,
    stale_pending_after_seconds: float | None = None,
    broker_started_at: datetime | None = None,
    limit: int = 1000,
) -> SweepReport:
    """Queues rows that would otherwise wait forever: never handed to the broker (it was down), queued
    before the broker last restarted (the message may have died with it), pending past a long deadline
    (the message was lost some other way), or processing past the deadline (the worker died).

    Queueing a row twice is harmless: the claim skips a finished row.
    """
    now = timezone.now()
    grace, stale = now - timedelta(seconds=grace_seconds), now - timedelta(seconds=stale_after_seconds)
    pending_after = stale_after_seconds if stale_pending_after_seconds is None else stale_pending_after_seconds
    kinds = {
        "never_queued": Q(status=ImageStatus.PENDING, queued_at__isnull=True, created_at__lt=grace),
        "queued_before_broker_restart": (
            Q(status=ImageStatus.PENDING, queued_at__lt=broker_started_at)
            if broker_started_at is not None
            else Q(pk__in=[])
        ),
        "stale_pending": Q(status=ImageStatus.PENDING, queued_at__lt=now - timedelta(seconds=pending_after)),
        "stale_processing": Q(status=ImageStatus.PROCESSING, claimed_at__lt=stale)
        & (Q(queued_at__isnull=True) | Q(queued_at__lt=stale)),
    }
    counts = dict.fromkeys(kinds, 0)
    budget = limit
    for kind, condition in kinds.items():
        for image_id in model.objects.filter(condition).order_by("id").values_list("id", flat=True)[:budget]:
            if not stored_image_queue(model=model, image_id=image_id):
                # The broker is down: stop here, every row stays as it is for the next sweep.
                return SweepReport(**counts, broker_down=True)
            counts[kind] += 1
            budget -= 1
        if budget <= 0:
            break
    return SweepReport(**counts)


def stored_images_requeue_dead(*, model, liveness: Liveness, limit: int = 1000) -> tuple[int, bool]:
    """Queues again, at once, the rows held by a worker that is gone (search/core/claims.py). Each goes back
    to pending with the reason on its page; the claim still counts as an attempt, so an image that kills its
    worker every time is failed after ISC_MAX_ATTEMPTS. Returns (rows queued, whether the broker was down)."""
    held = (
        model.objects.filter(claims_dead(liveness, claimed_at="claimed_at"), status=ImageStatus.PROCESSING)
        .order_by("id")
        .values_list("id", "claimed_by")[:limit]
    )
    queued = 0
    for image_id, worker in list(held):
        # Conditional: a worker that answers late and finishes the row meanwhile keeps its outcome.
        taken = model.objects.filter(
            id=image_id, status=ImageStatus.PROCESSING, claimed_by=worker
        ).update(
            status=ImageStatus.PENDING,
            claimed_by="",
            queued_at=None,  # until the broker takes it: the sweeper's never-queued rule is the fallback
            notice=f"The {stopped_answering(worker)}; queued again."[:300],
        )
        if not taken:
            continue
        logger.warning("%s %s: %s; queued again", model.__name__, image_id, stopped_answering(worker))
        if not stored_image_queue(model=model, image_id=image_id):
            return queued, True
        queued += 1
    return queued, False


@transaction.atomic
def stored_image_retry(*, actor: AbstractBaseUser, image: ReferenceImage | QueryImage) -> None:
    """Puts a row that is not done (failed, or waiting for too long) back in the queue, with a fresh
    attempt count."""
    role_require(user=actor, team=image.collection.team_id, minimum=UPLOAD)
    before = {"status": image.status, "error": image.error}
    type(image).objects.filter(id=image.id).exclude(status=ImageStatus.INDEXED).update(
        status=ImageStatus.PENDING, error="", notice="", attempts=0, queued_at=None
    )
    image.refresh_from_db()
    audit_record(
        actor=actor,
        team=image.collection.team,
        action=AuditAction.IMAGE_RETRY,
        target=image,
        before=before,
        after={"status": image.status},
    )
    transaction.on_commit(lambda: _task_queue(image))


def features_path_for(*, sha256: str) -> Path:
    return Path(settings.ISC.features_dir) / sha256[:2] / f"{sha256}.npz"
