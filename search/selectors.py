"""Reads: what the pages show, always scoped to the user asking."""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, F, Q, QuerySet
from django.shortcuts import get_object_or_404

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


def collection_list(*, user: AbstractBaseUser) -> QuerySet[Collection]:
    return Collection.objects.filter(owner=user).annotate(
        reference_count=Count("references", distinct=True),
        query_count=Count("queries", distinct=True),
    )


def collection_get(*, user: AbstractBaseUser, collection_id: int) -> Collection:
    return get_object_or_404(Collection, id=collection_id, owner=user)


@dataclass(frozen=True)
class Progress:
    total: int
    indexed: int
    pending: int
    processing: int
    failed: int

    @property
    def finished(self) -> bool:
        return self.pending == 0 and self.processing == 0

    @property
    def percent(self) -> int:
        return 100 if self.total == 0 else round(100 * (self.indexed + self.failed) / self.total)


def reference_progress(*, collection: Collection) -> Progress:
    counts = dict(collection.references.values_list("status").annotate(n=Count("id")))
    return Progress(
        total=sum(counts.values()),
        indexed=counts.get(ImageStatus.INDEXED, 0),
        pending=counts.get(ImageStatus.PENDING, 0),
        processing=counts.get(ImageStatus.PROCESSING, 0),
        failed=counts.get(ImageStatus.FAILED, 0),
    )


def reference_list(*, collection: Collection, status: str | None = None) -> QuerySet[ReferenceImage]:
    references = collection.references.all()
    return references.filter(status=status) if status else references


def reference_find(*, collection: Collection, sha256: str) -> ReferenceImage | None:
    """The collection's reference holding exactly these bytes, if any."""
    return collection.references.filter(sha256=sha256).first()


def query_list(*, collection: Collection) -> QuerySet[QueryImage]:
    return collection.queries.annotate(
        copies=Count("matches", filter=Q(matches__final_score__gte=F("collection__match_threshold")))
    )


def collection_choices(*, user: AbstractBaseUser) -> QuerySet[Collection]:
    """The collections a user may pick from in a form (the evaluation page), by name."""
    return Collection.objects.filter(owner=user).order_by("name")


def query_get(*, user: AbstractBaseUser, query_id: int) -> QueryImage:
    return get_object_or_404(QueryImage.objects.select_related("collection"), id=query_id, collection__owner=user)


def reference_get(*, user: AbstractBaseUser, reference_id: int) -> ReferenceImage:
    return get_object_or_404(
        ReferenceImage.objects.select_related("collection"), id=reference_id, collection__owner=user
    )


def match_get(*, user: AbstractBaseUser, match_id: int) -> Match:
    return get_object_or_404(
        Match.objects.select_related("query__collection"), id=match_id, query__collection__owner=user
    )


@dataclass(frozen=True)
class MatchView:
    """A match with the geometry of its side-by-side picture (query left, reference right)."""

    match: Match
    is_copy: bool
    query_width: float
    reference_width: float
    height: float
    gap: float
    lines: list[tuple[float, float, float, float]]

    @property
    def total_width(self) -> float:
        return self.query_width + self.gap + self.reference_width

    @property
    def reference_x(self) -> float:
        return self.query_width + self.gap


PICTURE_HEIGHT = 260.0
PICTURE_GAP = 24.0


def match_views(*, query: QueryImage, limit: int = 10) -> list[MatchView]:
    threshold = query.collection.match_threshold
    matches = query.matches.select_related("reference").order_by("rank")[:limit]
    return [_match_view(query, match, threshold) for match in matches]


def _match_view(query: QueryImage, match: Match, threshold: float) -> MatchView:
    reference = match.reference
    query_width = PICTURE_HEIGHT * query.width / max(query.height, 1)
    reference_width = PICTURE_HEIGHT * reference.width / max(reference.height, 1)
    reference_x = query_width + PICTURE_GAP
    lines = [
        (qx * query_width, qy * PICTURE_HEIGHT, reference_x + rx * reference_width, ry * PICTURE_HEIGHT)
        for qx, qy, rx, ry in match.keypoint_pairs
    ]
    return MatchView(
        match=match,
        is_copy=match.final_score >= threshold,
        query_width=query_width,
        reference_width=reference_width,
        height=PICTURE_HEIGHT,
        gap=PICTURE_GAP,
        lines=lines,
    )


def review_queue(*, user: AbstractBaseUser, decision: str = ReviewDecision.UNREVIEWED) -> QuerySet[Match]:
    """Matches at or above their collection's threshold, strongest first."""
    return (
        Match.objects.filter(
            query__collection__owner=user,
            final_score__gte=F("query__collection__match_threshold"),
            review=decision,
        )
        .select_related("query", "reference", "query__collection")
        .order_by("-final_score", "-created_at")
    )


def review_counts(*, user: AbstractBaseUser) -> dict[str, int]:
    rows = (
        Match.objects.filter(query__collection__owner=user, final_score__gte=F("query__collection__match_threshold"))
        .values_list("review")
        .annotate(n=Count("id"))
    )
    counts = {decision: 0 for decision in ReviewDecision.values}
    counts.update(dict(rows))
    return counts


def reindex_job_latest() -> ReindexJob | None:
    return ReindexJob.objects.first()


def reindex_job_list(*, user: AbstractBaseUser) -> QuerySet[ReindexJob]:
    """Reindex jobs re-embed every collection; anyone signed in may follow them, only staff start them."""
    return ReindexJob.objects.all()


def reindex_job_get(*, user: AbstractBaseUser, job_id: int) -> ReindexJob:
    return get_object_or_404(reindex_job_list(user=user), id=job_id)


def match_list(*, query: QueryImage) -> QuerySet[Match]:
    return query.matches.select_related("reference", "query__collection").order_by("rank", "id")


QUERY_FINISHED = (ImageStatus.INDEXED, ImageStatus.FAILED)


def query_wait(*, query: QueryImage, seconds: float, poll_seconds: float = 0.2) -> QueryImage:
    """Re-reads the query until its search has finished or `seconds` have passed; returns it either way."""
    deadline = time.monotonic() + seconds
    while query.status not in QUERY_FINISHED:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        time.sleep(min(poll_seconds, remaining))
        query.refresh_from_db()
    return query


def api_token_list(*, user: AbstractBaseUser) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user)


def api_token_get(*, user: AbstractBaseUser, token_id: int) -> ApiToken:
    return get_object_or_404(ApiToken, id=token_id, user=user)


def api_token_authenticate(*, key_hash: str) -> ApiToken | None:
    """The active token with this key hash, with its user, or None (unknown, revoked, or user inactive)."""
    return (
        ApiToken.objects.select_related("user")
        .filter(key_hash=key_hash, revoked_at__isnull=True, user__is_active=True)
        .first()
    )
