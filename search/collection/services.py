"""Writes on collections and their reference images: create, settings, delete; add references; soft
delete, restore, purge, disable and release single references."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from copydetect.imaging import ImageRejected, image_inspect
from search.collection.models import Collection, ImageStatus, ReferenceImage
from search.core import dispatch, media
from search.core.audit import audit_record
from search.core.models import AuditAction
from search.core.permissions import MANAGE, REVIEW, UPLOAD, role_require
from search.core.stored_images import _stored_image_create, features_path_for
from search.core.uploads import Payload, Rejection
from search.lookback.services import lookback_references_indexed
from search.queries.models import QueryImage
from search.teams.models import Team


@dataclass
class UploadReport:
    created: list[ReferenceImage] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def summary(self) -> str:
        parts = [f"{len(self.created)} added"]
        if self.duplicates:
            parts.append(f"{len(self.duplicates)} already in the collection")
        if self.rejected:
            parts.append(f"{len(self.rejected)} rejected")
        return ", ".join(parts)


@transaction.atomic
def collection_create(
    *,
    actor: AbstractBaseUser,
    team: Team,
    name: str,
    description: str = "",
    match_threshold: float | None = None,
) -> Collection:
    role_require(user=actor, team=team, minimum=MANAGE)
    threshold = settings.ISC.default_threshold if match_threshold is None else match_threshold
    collection = Collection.objects.create(
        team=team, created_by=actor, name=name.strip(), description=description, match_threshold=threshold
    )
    audit_record(
        actor=actor, team=team, action=AuditAction.COLLECTION_CREATE, target=collection, after=_settings_of(collection)
    )
    return collection


def _settings_of(collection: Collection) -> dict:
    return {
        "name": collection.name,
        "description": collection.description,
        "match_threshold": collection.match_threshold,
    }


@transaction.atomic
def collection_update(
    *, actor: AbstractBaseUser, collection: Collection, name: str, description: str, match_threshold: float
) -> Collection:
    """Settings and threshold; a threshold change is its own audit event (dashboards and the review queue
    read it), the other fields one 'settings changed' event."""
    role_require(user=actor, team=collection.team_id, minimum=MANAGE)
    before = _settings_of(Collection.objects.select_for_update().get(id=collection.id))
    collection.name = name.strip()
    collection.description = description
    collection.match_threshold = match_threshold
    collection.save(update_fields=["name", "description", "match_threshold"])
    after = _settings_of(collection)
    if before["match_threshold"] != after["match_threshold"]:
        audit_record(
            actor=actor,
            team=collection.team,
            action=AuditAction.THRESHOLD_CHANGE,
            target=collection,
            before={"match_threshold": before["match_threshold"]},
            after={"match_threshold": after["match_threshold"]},
        )
    changed = [key for key in ("name", "description") if before[key] != after[key]]
    if changed:
        audit_record(
            actor=actor,
            team=collection.team,
            action=AuditAction.COLLECTION_UPDATE,
            target=collection,
            before={key: before[key] for key in changed},
            after={key: after[key] for key in changed},
        )
    return collection


@transaction.atomic
def collection_delete(*, actor: AbstractBaseUser, collection: Collection) -> None:
    role_require(user=actor, team=collection.team_id, minimum=MANAGE)
    reference_ids = list(collection.references.values_list("id", flat=True))
    files = [*collection.references.values_list("file", flat=True), *collection.queries.values_list("file", flat=True)]
    collection_id = collection.id
    audit_record(
        actor=actor,
        team=collection.team,
        action=AuditAction.COLLECTION_DELETE,
        target=collection,
        before={
            **_settings_of(collection),
            "references": len(reference_ids),
            "queries": collection.queries.count(),
        },
    )
    hashes = {
        *collection.references.values_list("sha256", flat=True),
        *collection.queries.values_list("sha256", flat=True),
    }
    collection.delete()
    # Thumbnails and previews are shared by content; only those no other collection still shows go.
    still_used = {
        *ReferenceImage.objects.filter(sha256__in=hashes).values_list("sha256", flat=True),
        *QueryImage.objects.filter(sha256__in=hashes).values_list("sha256", flat=True),
    }

    def purge() -> None:
        media.derived_purge(sha256s=sorted(hashes - still_used))
        dispatch.task_send(
            dispatch.REFERENCES_PURGE, reference_ids=reference_ids, files=files, collection_id=collection_id
        )

    transaction.on_commit(purge)


AUDITED_IDS_MAX = 1000


def reference_images_add(
    *, actor: AbstractBaseUser, collection: Collection, items: Iterable[Payload | Rejection], source: str = "files"
) -> UploadReport:
    """Stores each acceptable image once per collection and queues it for indexing.

    Uploads (files, zip) need the uploader role; importing a server folder ('folder') needs the admin role.
    """
    role_require(user=actor, team=collection.team_id, minimum=MANAGE if source == "folder" else UPLOAD)
    report = _reference_images_store(collection=collection, items=items)
    audit_record(
        actor=actor,
        team=collection.team,
        action=AuditAction.REFERENCES_IMPORT if source == "folder" else AuditAction.REFERENCES_UPLOAD,
        target=collection,
        after={
            "source": source,
            "created": len(report.created),
            "duplicates": len(report.duplicates),
            "rejected": len(report.rejected),
            "reference_ids": [reference.id for reference in report.created[:AUDITED_IDS_MAX]],
        },
    )
    return report


def team_import_root(*, team: Team) -> list[Path]:
    """Where a team's admins may import server folders from: <root>/<team slug>/ under each ISC_IMPORT_ROOTS."""
    return [Path(root) / team.slug for root in settings.ISC.import_roots]


def _reference_images_store(*, collection: Collection, items: Iterable[Payload | Rejection]) -> UploadReport:
    report = UploadReport()
    for item in items:
        if isinstance(item, Rejection):
            report.rejected.append(item)
            continue
        try:
            facts = image_inspect(item.data, max_pixels=settings.ISC.max_image_pixels)
        except ImageRejected as exc:
            report.rejected.append(Rejection(item.name, str(exc), exc.code))
            continue
        reference, created = _stored_image_create(ReferenceImage, collection=collection, payload=item, facts=facts)
        if created:
            report.created.append(reference)
        else:
            report.duplicates.append(item.name)
    return report


def reference_indexed_mark(
    *,
    reference_id: int,
    descriptor_version: str,
    features_path: str,
    pdq: str = "",
    pdq_quality: int | None = None,
    md5: str = "",
) -> None:
    signals = {"pdq": pdq, "pdq_quality": pdq_quality, "md5": md5} if pdq or md5 else {}
    ReferenceImage.objects.filter(id=reference_id).update(
        **signals,
        status=ImageStatus.INDEXED,
        descriptor_version=descriptor_version,
        local_features=features_path,
        processed_at=timezone.now(),
        error="",
        notice="",
        attempts=0,
    )
    lookback_references_indexed(reference_ids=[reference_id])


def grace_period() -> timedelta:
    return timedelta(days=settings.ISC.reference_delete_grace_days)


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
        dispatch.task_send(
            dispatch.REFERENCE_VECTORS_PURGE, reference_ids=[reference_id], files=files, features=features
        )

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
