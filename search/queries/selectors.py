"""Reads of queries and their matches, always for the user asking."""

from __future__ import annotations

from dataclasses import dataclass
from time import monotonic, sleep

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, F, Q, QuerySet
from django.shortcuts import get_object_or_404

from search.collection.models import Collection, ImageStatus
from search.queries.models import Match, QueryImage
from search.teams.selectors import team_ids_of


def query_list(*, collection: Collection) -> QuerySet[QueryImage]:
    return collection.queries.annotate(
        copies=Count("matches", filter=Q(matches__final_score__gte=F("collection__match_threshold")))
    )


def query_get(*, user: AbstractBaseUser, query_id: int) -> QueryImage:
    return get_object_or_404(
        QueryImage.objects.select_related("collection__team"), id=query_id, collection__team__in=team_ids_of(user)
    )


def match_get(*, user: AbstractBaseUser, match_id: int) -> Match:
    return get_object_or_404(
        Match.objects.select_related("query__collection__team"),
        id=match_id,
        query__collection__team__in=team_ids_of(user),
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
    matches = (
        query.matches.filter(reference__deleted_at__isnull=True)
        .select_related("reference__bank")
        .order_by("rank")[:limit]
    )
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


def match_list(*, query: QueryImage) -> QuerySet[Match]:
    """The query's matches by rank, without those of deleted references (as on the result page)."""
    return (
        query.matches.filter(reference__deleted_at__isnull=True)
        .select_related("reference__bank", "query__collection")
        .order_by("rank", "id")
    )


QUERY_FINISHED = (ImageStatus.INDEXED, ImageStatus.FAILED)


def query_wait(*, query: QueryImage, seconds: float, poll_seconds: float = 0.2) -> QueryImage:
    """Re-reads the query until its search has finished or `seconds` have passed; returns it either way."""
    deadline = monotonic() + seconds
    while query.status not in QUERY_FINISHED:
        remaining = deadline - monotonic()
        if remaining <= 0:
            break
        sleep(min(poll_seconds, remaining))
        query.refresh_from_db()
    return query
