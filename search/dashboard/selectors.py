"""Reads for a team's dashboard: the queue, what was done per day and per moderator, quarantined
references, and per collection the precision of its threshold from the verdicts."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Count, F, Min
from django.db.models.functions import TruncDate
from django.utils import timezone

from search.collection.models import Collection, ReferenceImage
from search.core.models import AuditAction, AuditEvent
from search.core.score_text import score_text
from search.queries.models import Match
from search.review.models import PairVerdict, ReviewDecision
from search.teams.models import Team

DAYS = 14


PRECISION_TARGET = 0.9


PRECISION_MIN_VERDICTS = 5


@dataclass
class CollectionPrecision:
    collection: Collection
    verdicts: int
    precision_now: float | None
    curve: list[dict] = field(default_factory=list)  # {threshold, threshold_text, precision, recall}
    suggested_threshold: float | None = None
    # The lowest threshold with ≥ 90 % precision, before it is lowered to keep confirmed copies flagged.
    target_threshold: float | None = None
    confirmed_kept: bool = False  # the suggestion was lowered to the lowest confirmed copy's score
    precision_at_suggestion: float | None = None
    hides_unreviewed: int = 0  # unreviewed queue items the suggestion would take out of the queue


@dataclass
class ModeratorRow:
    username: str
    verdicts: int
    median_decision_seconds: float | None


@dataclass
class Dashboard:
    queue_depth: int
    oldest_unreviewed: timedelta | None
    days: list[str]
    matches_per_day: list[int]
    verdicts_per_day: list[int]
    moderators: list[ModeratorRow]
    quarantined: list[ReferenceImage]
    disabled: list[ReferenceImage]
    precision: list[CollectionPrecision]


def _unreviewed(team: Team):
    return Match.objects.filter(
        query__collection__team=team,
        review=ReviewDecision.UNREVIEWED,
        suppressed_reason="",
        reference__deleted_at__isnull=True,
        final_score__gte=F("query__collection__match_threshold"),
    )


def queue_depth(*, team: Team) -> int:
    """Items, as the queue shows them (re-posts of one picture against one reference count once)."""
    keys = {
        (leader or query, reference)
        for query, leader, reference in _unreviewed(team).values_list(
            "query_id", "query__near_duplicate_of_id", "reference_id"
        )
    }
    return len(keys)


def _per_day(rows, field_name: str, days: list) -> list[int]:
    counts = dict(rows.annotate(day=TruncDate(field_name)).values_list("day").annotate(n=Count("id")))
    return [counts.get(day, 0) for day in days]


def precision_of(collection: Collection) -> CollectionPrecision:
    scored = list(
        PairVerdict.objects.filter(collection_id=collection.id, final_score__isnull=False).values_list(
            "final_score", "decision"
        )
    )
    positives = sum(1 for _, decision in scored if decision == ReviewDecision.CONFIRMED)
    result = CollectionPrecision(collection=collection, verdicts=len(scored), precision_now=None)
    if not scored:
        return result
    result.precision_now = _precision_at(scored, collection.match_threshold)
    for threshold in sorted({score for score, _ in scored}, reverse=True):
        above = [decision for score, decision in scored if score >= threshold]
        true = sum(1 for decision in above if decision == ReviewDecision.CONFIRMED)
        result.curve.append(
            {
                "threshold": threshold,
                "threshold_text": score_text(threshold),
                "precision": round(true / len(above), 4),
                "recall": round(true / positives, 4) if positives else 0.0,
            }
        )
    if len(scored) >= PRECISION_MIN_VERDICTS and positives:
        _suggest(result, scored)
    return result


def _suggest(result: CollectionPrecision, scored: list[tuple[float, str]]) -> None:
    """The lowest verdict score whose precision is at least the target (ties included, exact scores so that
    the pair the threshold was read from stays above it), never above a confirmed copy's score."""
    good = [
        threshold
        for threshold in {score for score, _ in scored}
        if _meets_target(decision for score, decision in scored if score >= threshold)
    ]
    if not good:
        return
    result.target_threshold = min(good)
    # Verdicts keep the score they were given at; a match rescored since (a reindex) counts at its score now.
    confirmed_now = Match.objects.filter(
        query__collection=result.collection, review=ReviewDecision.CONFIRMED, reference__deleted_at__isnull=True
    ).aggregate(lowest=Min("final_score"))["lowest"]
    lowest_confirmed = min(
        [score for score, decision in scored if decision == ReviewDecision.CONFIRMED]
        + ([confirmed_now] if confirmed_now is not None else [])
    )
    result.suggested_threshold = min(result.target_threshold, lowest_confirmed)
    result.confirmed_kept = result.suggested_threshold < result.target_threshold
    result.precision_at_suggestion = _precision_at(scored, result.suggested_threshold)
    result.hides_unreviewed = unreviewed_hidden_count(
        collection=result.collection, threshold=result.suggested_threshold
    )


def _meets_target(decisions) -> bool:
    decisions = list(decisions)
    confirmed = sum(1 for decision in decisions if decision == ReviewDecision.CONFIRMED)
    # Integer form of confirmed / total >= 0.9: 9 of 10 is exactly 90 %, whatever the float rounding.
    return bool(decisions) and confirmed * 100 >= round(PRECISION_TARGET * 100) * len(decisions)


def unreviewed_hidden_count(*, collection: Collection, threshold: float) -> int:
    """Queue items of the collection (re-posts counted once) that a threshold of `threshold` would drop."""
    rows = _unreviewed(collection.team).filter(query__collection=collection, final_score__lt=threshold)
    return len(
        {
            (leader or query, reference)
            for query, leader, reference in rows.values_list("query_id", "query__near_duplicate_of_id", "reference_id")
        }
    )


def _precision_at(scored: list[tuple[float, str]], threshold: float) -> float | None:
    above = [decision for score, decision in scored if score >= threshold]
    if not above:
        return None
    return sum(1 for decision in above if decision == ReviewDecision.CONFIRMED) / len(above)


def moderator_rows(*, team: Team) -> list[ModeratorRow]:
    """Standing verdicts per moderator; decision time = verdict time − the time they opened (claimed) it."""
    by_user: dict[str, list] = {}
    for username, decided_at, claimed_at in PairVerdict.objects.filter(team=team, decided_by__isnull=False).values_list(
        "decided_by__username", "decided_at", "claimed_at"
    ):
        by_user.setdefault(username, []).append((decided_at - claimed_at).total_seconds() if claimed_at else None)
    rows = []
    for username, times in sorted(by_user.items()):
        timed = [seconds for seconds in times if seconds is not None]
        rows.append(ModeratorRow(username, len(times), statistics.median(timed) if timed else None))
    return rows


def team_dashboard(*, team: Team) -> Dashboard:
    now = timezone.now()
    today = timezone.localdate()
    days = [today - timedelta(days=offset) for offset in range(DAYS - 1, -1, -1)]
    since = now - timedelta(days=DAYS)
    oldest = _unreviewed(team).aggregate(oldest=Min("created_at"))["oldest"]
    flagged = Match.objects.filter(
        query__collection__team=team, created_at__gte=since, final_score__gte=F("query__collection__match_threshold")
    )
    verdicts = AuditEvent.objects.filter(team=team, action=AuditAction.MATCH_VERDICT, created_at__gte=since)
    references = ReferenceImage.objects.filter(collection__team=team, deleted_at__isnull=True).select_related(
        "collection"
    )
    return Dashboard(
        queue_depth=queue_depth(team=team),
        oldest_unreviewed=(now - oldest) if oldest else None,
        days=[day.isoformat() for day in days],
        matches_per_day=_per_day(flagged, "created_at", days),
        verdicts_per_day=_per_day(verdicts, "created_at", days),
        moderators=moderator_rows(team=team),
        quarantined=list(references.filter(quarantined_at__isnull=False)),
        disabled=list(references.filter(disabled_until__gt=now)),
        precision=[precision_of(collection) for collection in team.collections.order_by("name")],
    )
