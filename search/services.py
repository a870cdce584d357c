"""Writes: every change to collections, images, matches and reviews goes through here."""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
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

from copydetect.imaging import ImageFacts, ImageRejected, image_inspect
from search import media, queue
from search.audit import audit_record
from search.events import event_emit
from search.models import (
    ApiToken,
    AuditAction,
    Collection,
    ImageStatus,
    Match,
    QueryImage,
    ReferenceImage,
    ReviewDecision,
    Team,
)
from search.permissions import MANAGE, UPLOAD, role_require
from search.uploads import Payload, Rejection, UploadLimits
from search.webhook_payloads import query_flagged_payload

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
            report.rejected.append(Rejection(item.name, str(exc), exc.code))
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
    stored_image_queue(model=type(row), image_id=row.id)


def stored_image_queue(*, model, image_id: int) -> bool:
    """Hands the row to the broker; when Redis is down the row stays pending with no `queued_at`,
    which the sweeper picks up once the broker answers again. Returns whether it was queued."""
    task = queue.REFERENCE_INDEX if model is ReferenceImage else queue.QUERY_SEARCH
    if not queue.task_send(task, image_id):
        return False
    model.objects.filter(id=image_id).update(queued_at=timezone.now())
    return True


class Claim(StrEnum):
    CLAIMED = "claimed"
    SKIPPED = "skipped"  # done with this version, failed, or deleted: nothing to do
    GAVE_UP = "gave_up"  # claimed max_attempts times without the worker reporting back


WORKER_DIED = "The worker died while processing this image"


def stored_image_claim(*, model, image_id: int, descriptor_version: str, max_attempts: int | None = None) -> Claim:
    """Marks a row as processing unless it is done with this descriptor version, failed, or gone.

    A conditional UPDATE, so two deliveries of the same task cannot both do the work twice for a
    finished row; a row left in 'processing' by a killed worker can be claimed again, until it has
    been claimed `max_attempts` times without an outcome: then it is failed (a poison image).
    """
    max_attempts = settings.ISC["MAX_ATTEMPTS"] if max_attempts is None else max_attempts
    due = model.objects.filter(id=image_id).exclude(
        Q(status=ImageStatus.INDEXED, descriptor_version=descriptor_version) | Q(status=ImageStatus.FAILED)
    )
    claimed = due.filter(attempts__lt=max_attempts).update(
        status=ImageStatus.PROCESSING, attempts=F("attempts") + 1, error="", claimed_at=timezone.now()
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


def reference_indexed_mark(*, reference_id: int, descriptor_version: str, features_path: str) -> None:
    ReferenceImage.objects.filter(id=reference_id).update(
        status=ImageStatus.INDEXED,
        descriptor_version=descriptor_version,
        local_features=features_path,
        processed_at=timezone.now(),
        error="",
        notice="",
        attempts=0,
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
    leader_candidate_ids: Sequence[int] | None = None,
) -> bool:
    """Replaces the query's matches in one transaction, so a rerun leaves exactly one result set, and
    returns whether the query leads its group of re-posts (has no earlier near-identical twin).

    `leader_candidate_ids`: the earlier queries the re-post index proposes as its twin (None: every
    earlier query of the collection is compared; search/verdicts.py).

    Deleted and disabled references are left out; each row takes the team's verdict on its pair of pictures
    (search/verdicts.py), the allowlist and the reference's quarantine. A query with a match at or above the
    threshold emits "query.flagged" once committed, unless every flagged reference was already flagged by the
    run before (a retry or a re-run with the same outcome tells the receivers nothing new).
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
        threshold = query.collection.match_threshold
        previous = list(query.matches.all())
        reviews = {
            m.reference_id: (m.review, m.reviewed_by_id, m.reviewed_at)
            for m in previous
            if m.review != ReviewDecision.UNREVIEWED
        }
        flagged_before = {m.reference_id for m in previous if verdicts.is_flagged(m, threshold)}
        if query_descriptor is not None:
            query.descriptor = verdicts.descriptor_pack(query_descriptor)
        if query.near_duplicate_of_id is None:
            query.near_duplicate_of = verdicts.near_duplicate_leader(query=query, candidate_ids=leader_candidate_ids)
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
        query.notice = ""
        query.attempts = 0
        query.save(
            update_fields=[
                "status",
                "descriptor_version",
                "search_ms",
                "processed_at",
                "error",
                "notice",
                "attempts",
                "descriptor",
                "near_duplicate_of",
            ]
        )
        flagged = {row.reference_id for row in rows if verdicts.is_flagged(row, threshold)}
        if flagged - flagged_before:
            # Recorded in this transaction (one webhook delivery per endpoint), sent once it commits.
            event_emit(team=query.collection.team, name="query.flagged", payload=query_flagged_payload(query=query))
    return query.near_duplicate_of_id is None


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


API_TOKEN_PREFIX_LENGTH = 8


def api_token_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_token_create(*, user: AbstractBaseUser, name: str) -> tuple[ApiToken, str]:
    """Returns the token row and its key; the key is not stored and cannot be shown again."""
    key = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name.strip() or "API token", prefix=key[:API_TOKEN_PREFIX_LENGTH], key_hash=api_token_hash(key)
    )
    return token, key


def api_token_revoke(*, token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def api_token_used(*, token: ApiToken) -> None:
    """Records the last use, at most once a minute per token, so busy clients do not write on every call."""
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() >= 60:
        ApiToken.objects.filter(id=token.id).update(last_used_at=now)
        token.last_used_at = now


def features_path_for(*, sha256: str) -> Path:
    return Path(settings.ISC["FEATURES_DIR"]) / sha256[:2] / f"{sha256}.npz"
