"""Writes: every change to collections, images, matches and reviews goes through here."""

from __future__ import annotations

import hashlib
import logging
import secrets
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
from search import queue
from search.models import (
    ApiToken,
    Collection,
    ImageStatus,
    Match,
    QueryImage,
    ReferenceImage,
    ReindexJob,
    ReviewDecision,
)
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


def collection_create(
    *, owner: AbstractBaseUser, name: str, description: str = "", match_threshold: float | None = None
) -> Collection:
    threshold = settings.ISC["DEFAULT_THRESHOLD"] if match_threshold is None else match_threshold
    # A savepoint, so a caller can catch the IntegrityError of a taken name and carry on.
    with transaction.atomic():
        return Collection.objects.create(
            owner=owner, name=name.strip(), description=description, match_threshold=threshold
        )


def collection_update(*, collection: Collection, name: str, description: str, match_threshold: float) -> Collection:
    collection.name = name.strip()
    collection.description = description
    collection.match_threshold = match_threshold
    with transaction.atomic():
        collection.save(update_fields=["name", "description", "match_threshold"])
    return collection


def collection_delete(*, collection: Collection) -> None:
    reference_ids = list(collection.references.values_list("id", flat=True))
    files = [*collection.references.values_list("file", flat=True), *collection.queries.values_list("file", flat=True)]
    collection_id = collection.id
    collection.delete()

    def purge() -> None:
        queue.task_send(queue.REFERENCES_PURGE, reference_ids=reference_ids, files=files, collection_id=collection_id)

    transaction.on_commit(purge)


def reference_delete(*, reference: ReferenceImage) -> None:
    """Deletes the row (its matches go with it); its vector, file and unshared features go after commit."""
    reference_id, collection_id, name, sha256 = (
        reference.id,
        reference.collection_id,
        reference.file.name,
        reference.sha256,
    )
    reference.delete()
    # Local features are stored by content hash: another collection holding the same bytes still needs them.
    features_shared = ReferenceImage.objects.filter(sha256=sha256).exists()
    features = "" if features_shared else str(features_path_for(sha256=sha256))

    def purge() -> None:
        queue.task_send(
            queue.REFERENCE_PURGE, reference_id=reference_id, collection_id=collection_id, file=name, features=features
        )

    transaction.on_commit(purge)


def reference_images_add(*, collection: Collection, items: Iterable[Payload | Rejection]) -> UploadReport:
    """Stores each acceptable image once per collection and queues it for indexing."""
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


def query_image_add(*, collection: Collection, payload: Payload) -> tuple[QueryImage, bool]:
    """Returns the query row and whether it is new; the same bytes again give the earlier query."""
    facts = image_inspect(payload.data, max_pixels=settings.ISC["MAX_IMAGE_PIXELS"])
    return _stored_image_create(QueryImage, collection=collection, payload=payload, facts=facts)


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
    *, query_id: int, descriptor_version: str, results: Sequence[MatchResult], search_ms: int
) -> None:
    """Replaces the query's matches in one transaction, so a rerun leaves exactly one result set."""
    with transaction.atomic():
        query = QueryImage.objects.select_for_update().get(id=query_id)
        live_ids = set(
            ReferenceImage.objects.filter(
                collection_id=query.collection_id, id__in=[r.reference_id for r in results]
            ).values_list("id", flat=True)
        )
        reviews = {
            m.reference_id: (m.review, m.reviewed_by_id, m.reviewed_at)
            for m in query.matches.exclude(review=ReviewDecision.UNREVIEWED)
        }
        query.matches.all().delete()
        kept = [r for r in results if r.reference_id in live_ids]
        Match.objects.bulk_create(
            [_match_row(query, rank, result, descriptor_version, reviews) for rank, result in enumerate(kept, start=1)]
        )
        query.status = ImageStatus.INDEXED
        query.descriptor_version = descriptor_version
        query.search_ms = search_ms
        query.processed_at = timezone.now()
        query.error = ""
        query.save(update_fields=["status", "descriptor_version", "search_ms", "processed_at", "error"])


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
    if decision not in ReviewDecision.values:
        raise ValueError(f"Unknown review decision {decision!r}.")
    match.review = decision
    match.reviewed_by = reviewer
    match.reviewed_at = timezone.now() if decision != ReviewDecision.UNREVIEWED else None
    match.save(update_fields=["review", "reviewed_by", "reviewed_at"])
    return match


def stored_image_retry(*, image: ReferenceImage | QueryImage) -> None:
    """Puts a failed row back in the queue."""
    type(image).objects.filter(id=image.id, status=ImageStatus.FAILED).update(status=ImageStatus.PENDING, error="")
    image.refresh_from_db()
    transaction.on_commit(lambda: _task_queue(image))


def reindex_start() -> ReindexJob:
    job = ReindexJob.objects.create(total=ReferenceImage.objects.count())

    transaction.on_commit(lambda: queue.task_send(queue.REINDEX_RUN, job.id))
    return job


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
