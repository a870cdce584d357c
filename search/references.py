"""Writes on single references: soft delete and restore, the purge after the grace period, disabling with
an expiry, and an admin's decision on a quarantined reference."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from search import media, queue
from search.audit import audit_record
from search.models import AuditAction, QueryImage, ReferenceImage
from search.permissions import MANAGE, REVIEW, role_require
from search.services import features_path_for


def grace_period() -> timedelta:
    return timedelta(days=settings.ISC["REFERENCE_DELETE_GRACE_DAYS"])


@transaction.atomic
def reference_delete(*, actor: AbstractBaseUser, reference: ReferenceImage) -> None:
    """Out of every result and queue at once; restorable until the grace period ends (moderator role)."""
    role_require(user=actor, team=reference.collection.team_id, minimum=REVIEW)
    if reference.deleted_at is not None:
        return
    reference.deleted_at, reference.deleted_by = timezone.now(), actor
    reference.save(update_fields=["deleted_at", "deleted_by"])
    audit_record(
        actor=actor,
        team=reference.collection.team,
        action=AuditAction.REFERENCE_DELETE,
        target=reference,
        after={"deleted_at": reference.deleted_at, "purge_after": reference.deleted_at + grace_period()},
    )


@transaction.atomic
def reference_restore(*, actor: AbstractBaseUser, reference: ReferenceImage) -> bool:
    """False once the grace period is over (the purge may already have run)."""
    role_require(user=actor, team=reference.collection.team_id, minimum=REVIEW)
    if reference.deleted_at is None or reference.deleted_at < timezone.now() - grace_period():
        return False
    before = {"deleted_at": reference.deleted_at}
    reference.deleted_at, reference.deleted_by = None, None
    reference.save(update_fields=["deleted_at", "deleted_by"])
    audit_record(
        actor=actor,
        team=reference.collection.team,
        action=AuditAction.REFERENCE_RESTORE,
        target=reference,
        before=before,
        after={"deleted_at": None},
    )
    return True


def references_purge_expired(*, now: datetime | None = None) -> int:
    """Removes the references deleted longer ago than the grace period: rows now, then (a task) their vectors
    and the files no other row uses. Run by `manage.py references_purge`."""
    cutoff = (now or timezone.now()) - grace_period()
    expired = list(ReferenceImage.objects.filter(deleted_at__lt=cutoff).select_related("collection__team"))
    for reference in expired:
        _reference_purge(reference)
    return len(expired)


@transaction.atomic
def _reference_purge(reference: ReferenceImage) -> None:
    audit_record(
        actor=None,
        team=reference.collection.team,
        action=AuditAction.REFERENCE_PURGE,
        target=reference,
        before={"sha256": reference.sha256, "deleted_at": reference.deleted_at},
    )
    reference_id, sha256, name = reference.id, reference.sha256, reference.file.name
    reference.delete()
    # Local features are stored by content hash: another reference holding the same bytes still needs them.
    features_used = ReferenceImage.objects.filter(sha256=sha256).exists()
    still_used = features_used or QueryImage.objects.filter(sha256=sha256).exists()
    files = [] if still_used else [name]
    features = [] if features_used else [str(features_path_for(sha256=sha256))]

    def purge() -> None:
        if not still_used:
            media.derived_purge(sha256s=[sha256])
        queue.task_send(queue.REFERENCE_VECTORS_PURGE, reference_ids=[reference_id], files=files, features=features)

    transaction.on_commit(purge)


@transaction.atomic
def reference_disable(*, actor: AbstractBaseUser, reference: ReferenceImage, until: datetime | None) -> None:
    """No new matches until `until` (None: enable again). Also an admin's way to settle a quarantine."""
    role_require(user=actor, team=reference.collection.team_id, minimum=MANAGE)
    before = {"disabled_until": reference.disabled_until, "quarantined_at": reference.quarantined_at}
    reference.disabled_until = until
    fields = ["disabled_until"]
    if reference.quarantined_at is not None:
        reference.quarantined_at, reference.quarantine_released_on = None, timezone.now().date()
        fields += ["quarantined_at", "quarantine_released_on"]
    reference.save(update_fields=fields)
    audit_record(
        actor=actor,
        team=reference.collection.team,
        action=AuditAction.REFERENCE_DISABLE,
        target=reference,
        before=before,
        after={"disabled_until": until},
    )


@transaction.atomic
def reference_release(*, actor: AbstractBaseUser, reference: ReferenceImage) -> None:
    """An admin decides a quarantined reference is fine: matching resumes (not re-quarantined today)."""
    role_require(user=actor, team=reference.collection.team_id, minimum=MANAGE)
    before = {"quarantined_at": reference.quarantined_at}
    reference.quarantined_at, reference.quarantine_released_on = None, timezone.now().date()
    reference.save(update_fields=["quarantined_at", "quarantine_released_on"])
    audit_record(
        actor=actor,
        team=reference.collection.team,
        action=AuditAction.REFERENCE_RELEASE,
        target=reference,
        before=before,
        after={"quarantined_at": None},
    )
