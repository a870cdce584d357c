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
    query_height: float = 0.0
    reference_height: float = 0.0

    @property
    def total_width(self) -> float:
        return self.query_width + self.gap + self.reference_width

    @property
    def reference_x(self) -> float:
        return self.query_width + self.gap

    @property
    def wide(self) -> bool:
        """A banner kept MIN_PICTURE_HEIGHT tall: drawn at its own size in a box that scrolls sideways,
        rather than shrunk with the rest to the page's width (where it would be a sliver again)."""
        return max(self.query_width, self.reference_width) > MAX_PICTURE_WIDTH + 0.5


PICTURE_HEIGHT = 260.0


PICTURE_GAP = 24.0


# A picture is drawn PICTURE_HEIGHT tall unless that makes it wider than MAX_PICTURE_WIDTH; a banner then
# gets the height that fits that width, but never under MIN_PICTURE_HEIGHT (its box scrolls sideways).
MAX_PICTURE_WIDTH = 4 * PICTURE_HEIGHT


MIN_PICTURE_HEIGHT = 64.0


def match_views(*, query: QueryImage, limit: int = 10) -> list[MatchView]:
    threshold = query.collection.match_threshold
    matches = (
        query.matches.filter(reference__deleted_at__isnull=True)
        .select_related("reference__bank")
        .order_by("rank")[:limit]
    )
    return [_match_view(query, match, threshold) for match in matches]


def picture_size(width: int, height: int) -> tuple[float, float]:
    """Drawn width and height of a picture of `width` × `height` pixels, in its true proportions."""
    aspect = max(width, 1) / max(height, 1)
    drawn_height = PICTURE_HEIGHT
    if drawn_height * aspect > MAX_PICTURE_WIDTH:
        drawn_height = max(MIN_PICTURE_HEIGHT, MAX_PICTURE_WIDTH / aspect)
    return drawn_height * aspect, drawn_height


def _match_view(query: QueryImage, match: Match, threshold: float) -> MatchView:
    reference = match.reference
    query_width, query_height = picture_size(query.width, query.height)
    reference_width, reference_height = picture_size(reference.width, reference.height)
    reference_x = query_width + PICTURE_GAP
    lines = [
        (qx * query_width, qy * query_height, reference_x + rx * reference_width, ry * reference_height)
        for qx, qy, rx, ry in match.keypoint_pairs
    ]
    return MatchView(
        match=match,
        is_copy=match.final_score >= threshold,
        query_width=query_width,
        reference_width=reference_width,
        height=max(query_height, reference_height),
        gap=PICTURE_GAP,
        lines=lines,
        query_height=query_height,
        reference_height=reference_height,
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
