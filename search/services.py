"""Writes: every change to collections, images, matches and reviews goes through here."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from copydetect.imaging import ImageFacts, ImageRejected, image_inspect
from search import events, media, queue
from search.audit import audit_record
from search.models import (
    AuditAction,
    Collection,
    ImageStatus,
    Match,
    QueryImage,
    ReferenceImage,
    ReindexJob,
    ReviewDecision,
    Team,
)
from search.permissions import MANAGE, UPLOAD, role_require
from search.uploads import Payload, Rejection, UploadLimits

logger = logging.getLogger(__name__)


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


def upload_limits() -> UploadLimits:
    isc = settings.ISC
    return UploadLimits(
        max_file_bytes=isc["MAX_UPLOAD_BYTES"],
        max_members=isc["MAX_ZIP_MEMBERS"],
        max_total_bytes=isc["MAX_ZIP_UNCOMPRESSED_BYTES"],
    )


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
    threshold = settings.ISC["DEFAULT_THRESHOLD"] if match_threshold is None else match_threshold
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
        queue.task_send(queue.REFERENCES_PURGE, reference_ids=reference_ids, files=files, collection_id=collection_id)

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
    return [Path(root) / team.slug for root in settings.ISC["IMPORT_ROOTS"]]


def _reference_images_store(*, collection: Collection, items: Iterable[Payload | Rejection]) -> UploadReport:
    report = UploadReport()
    for item in items:
        if isinstance(item, Rejection):
            report.rejected.append(item)
            continue
        try:
            facts = image_inspect(item.data, max_pixels=settings.ISC["MAX_IMAGE_PIXELS"])
        except ImageRejected as exc:
            report.rejected.append(Rejection(item.name, str(exc)))
            continue
        reference, created = _stored_image_create(ReferenceImage, collection=collection, payload=item, facts=facts)
        if created:
            report.created.append(reference)
        else:
            report.duplicates.append(item.name)
    return report


def query_image_add(*, actor: AbstractBaseUser, collection: Collection, payload: Payload) -> tuple[QueryImage, bool]:
    """Returns the query row and whether it is new; the same bytes again give the earlier query."""
    role_require(user=actor, team=collection.team_id, minimum=UPLOAD)
    facts = image_inspect(payload.data, max_pixels=settings.ISC["MAX_IMAGE_PIXELS"])
    query, created = _stored_image_create(QueryImage, collection=collection, payload=payload, facts=facts)
    if created:
        audit_record(
            actor=actor,
            team=collection.team,
            action=AuditAction.QUERY_UPLOAD,
            target=query,
            after={"name": query.original_name, "sha256": query.sha256},
        )
    return query, created


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
    queue.task_send(queue.REFERENCE_INDEX if isinstance(row, ReferenceImage) else queue.QUERY_SEARCH, row.id)


def stored_image_claim(*, model, image_id: int, descriptor_version: str) -> bool:
    """Marks a row as processing unless it is already done with this descriptor version.

    A conditional UPDATE, so two deliveries of the same task cannot both do the work twice
    for a row that is finished; a row left in 'processing' by a killed worker can be claimed again.
    """
    from django.db.models import F, Q

    done = Q(status=ImageStatus.INDEXED, descriptor_version=descriptor_version)
    claimed = (
        model.objects.filter(id=image_id)
        .exclude(done)
        .update(status=ImageStatus.PROCESSING, attempts=F("attempts") + 1, error="")
    )
    return claimed == 1


def reference_indexed_mark(*, reference_id: int, descriptor_version: str, features_path: str) -> None:
    ReferenceImage.objects.filter(id=reference_id).update(
        status=ImageStatus.INDEXED,
        descriptor_version=descriptor_version,
        local_features=features_path,
        processed_at=timezone.now(),
        error="",
    )


def stored_image_fail(*, model, image_id: int, error: str) -> None:
    model.objects.filter(id=image_id).update(status=ImageStatus.FAILED, error=error[:2000], processed_at=timezone.now())


@dataclass(frozen=True)
class MatchResult:
    reference_id: int
    descriptor_similarity: float
    verified: bool
    inliers: int
    verification_score: float
    keypoint_pairs: list
    final_score: float


def query_results_record(
    *,
    query_id: int,
    descriptor_version: str,
    results: Sequence[MatchResult],
    search_ms: int,
    query_descriptor: Sequence[float] | None = None,
) -> None:
    """Replaces the query's matches in one transaction, so a rerun leaves exactly one result set.

    Deleted and disabled references are left out; each row takes the team's verdict on its pair of pictures
    (search/verdicts.py), the allowlist and the reference's quarantine. A query with a match at or above the
    threshold emits "query.flagged" once committed.
    """
    from search import verdicts

    with transaction.atomic():
        query = QueryImage.objects.select_for_update().select_related("collection__team").get(id=query_id)
        now = timezone.now()
        live_ids = set(
            ReferenceImage.objects.filter(
                collection_id=query.collection_id,
                id__in=[r.reference_id for r in results],
                deleted_at__isnull=True,
            )
            .exclude(disabled_until__gt=now)
            .values_list("id", flat=True)
        )
        reviews = {
            m.reference_id: (m.review, m.reviewed_by_id, m.reviewed_at)
            for m in query.matches.exclude(review=ReviewDecision.UNREVIEWED)
        }
        if query_descriptor is not None:
            query.descriptor = verdicts.descriptor_pack(query_descriptor)
        if query.near_duplicate_of_id is None:
            query.near_duplicate_of = verdicts.near_duplicate_leader(query=query)
        query.matches.all().delete()
        kept = [r for r in results if r.reference_id in live_ids]
        rows = [_match_row(query, rank, result, descriptor_version, reviews) for rank, result in enumerate(kept, 1)]
        inherited = verdicts.match_rows_apply(query=query, rows=rows)
        Match.objects.bulk_create(rows)
        for row, verdict in inherited:
            audit_record(
                actor=None,
                team=query.collection.team,
                action=AuditAction.VERDICT_INHERIT,
                target=row,
                after={"review": row.review, "from_query_sha256": verdict.query_sha256, "rule": "near-identical"},
            )
        verdicts.quarantine_check(query=query, rows=rows)
        query.status = ImageStatus.INDEXED
        query.descriptor_version = descriptor_version
        query.search_ms = search_ms
        query.processed_at = now
        query.error = ""
        query.save(
            update_fields=[
                "status",
                "descriptor_version",
                "search_ms",
                "processed_at",
                "error",
                "descriptor",
                "near_duplicate_of",
            ]
        )
        threshold = query.collection.match_threshold
        flagged = [row for row in rows if verdicts.is_flagged(row, threshold)]
        if flagged:
            payload = {
                "query_id": query.id,
                "query_sha256": query.sha256,
                "collection_id": query.collection_id,
                "matches": [
                    {"match_id": row.id, "reference_id": row.reference_id, "final_score": row.final_score}
                    for row in flagged
                ],
            }
            team = query.collection.team
            transaction.on_commit(lambda: events.event_emit(team=team, name="query.flagged", payload=payload))


def _match_row(query: QueryImage, rank: int, result: MatchResult, version: str, reviews: dict) -> Match:
    review, reviewer, reviewed_at = reviews.get(result.reference_id, (ReviewDecision.UNREVIEWED, None, None))
    return Match(
        query=query,
        reference_id=result.reference_id,
        rank=rank,
        descriptor_similarity=result.descriptor_similarity,
        verified=result.verified,
        inliers=result.inliers,
        verification_score=result.verification_score,
        keypoint_pairs=result.keypoint_pairs,
        final_score=result.final_score,
        descriptor_version=version,
        review=review,
        reviewed_by_id=reviewer,
        reviewed_at=reviewed_at,
    )


def match_review(*, match: Match, reviewer: AbstractBaseUser, decision: str) -> Match:
    """A verdict (confirmed / rejected), or its undo (back to unreviewed); needs the moderator role.
    The verdict belongs to the pair of pictures (search/review.py)."""
    from search import review

    if decision not in ReviewDecision.values:
        raise ValueError(f"Unknown review decision {decision!r}.")
    if decision == ReviewDecision.UNREVIEWED:
        review.verdict_undo(actor=reviewer, match=match)
    else:
        review.verdict_set(actor=reviewer, match=match, decision=decision)
    match.refresh_from_db()
    return match


@transaction.atomic
def stored_image_retry(*, actor: AbstractBaseUser, image: ReferenceImage | QueryImage) -> None:
    """Puts a failed row back in the queue."""
    role_require(user=actor, team=image.collection.team_id, minimum=UPLOAD)
    before = {"status": image.status, "error": image.error}
    type(image).objects.filter(id=image.id, status=ImageStatus.FAILED).update(status=ImageStatus.PENDING, error="")
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


@transaction.atomic
def reindex_start(*, actor: AbstractBaseUser | None) -> ReindexJob:
    """Site-wide (every team's references), so its audit event has no team; the page is staff-only."""
    job = ReindexJob.objects.create(total=ReferenceImage.objects.count())
    audit_record(
        actor=actor,
        team=None,
        action=AuditAction.REINDEX_START,
        target=job,
        after={"total": job.total, "descriptor_version": job.descriptor_version},
    )

    transaction.on_commit(lambda: queue.task_send(queue.REINDEX_RUN, job.id))
    return job


def features_path_for(*, sha256: str) -> Path:
    return Path(settings.ISC["FEATURES_DIR"]) / sha256[:2] / f"{sha256}.npz"
