"""Reads of the review queue: items (a match and its near-identical re-posts against one reference), their
counts, neighbours and history; and the team's allowlist."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import CharField, Count, F, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Concat, Left
from django.shortcuts import get_object_or_404
from django.utils import timezone

from search.core.models import AuditEvent
from search.queries import selectors as queries_selectors
from search.queries.models import Match, QueryImage
from search.review.models import AllowlistEntry, PairVerdict, ReviewDecision
from search.review.services import claim_expiry
from search.teams import selectors as teams_selectors
from search.teams.models import Team
from search.teams.selectors import team_ids_of

STATES = ("unreviewed", "confirmed", "rejected", "suppressed")


ORDERS = {"score": "highest score first", "oldest": "oldest first"}


# Items are grouped in Python; a queue deeper than this shows its first rows (the dashboard has the depth).
ROWS_MAX = 5000


@dataclass(frozen=True)
class QueueFilter:
    state: str = "unreviewed"
    order: str = "score"
    collection_id: int | None = None
    score_min: float | None = None
    score_max: float | None = None
    since: date | None = None
    until: date | None = None

    def querystring(self) -> str:
        from urllib.parse import urlencode

        values = {
            "state": self.state,
            "order": self.order,
            "collection": self.collection_id or "",
            "score_min": "" if self.score_min is None else self.score_min,
            "score_max": "" if self.score_max is None else self.score_max,
            "since": self.since or "",
            "until": self.until or "",
        }
        return urlencode({key: value for key, value in values.items() if value != ""})


def queue_filter_parse(params) -> QueueFilter:
    def number(name: str) -> float | None:
        try:
            return float(params.get(name, ""))
        except ValueError:
            return None

    def day(name: str) -> date | None:
        try:
            return date.fromisoformat(params.get(name, ""))
        except ValueError:
            return None

    collection = params.get("collection", "")
    return QueueFilter(
        state=params.get("state") if params.get("state") in STATES else "unreviewed",
        order=params.get("order") if params.get("order") in ORDERS else "score",
        collection_id=int(collection) if collection.isdigit() else None,
        score_min=number("score_min"),
        score_max=number("score_max"),
        since=day("since"),
        until=day("until"),
    )


@dataclass
class ReviewItem:
    """What a moderator decides on once: the strongest row and the re-posts grouped with it."""

    match: Match
    members: list[Match] = field(default_factory=list)

    @property
    def key(self) -> tuple[int, int]:
        return group_key(self.match)

    @property
    def reposts(self) -> list[Match]:
        return [member for member in self.members if member.id != self.match.id]

    def claimed_by_other(self, user: AbstractBaseUser) -> bool:
        match = self.match
        return bool(
            match.claimed_by_id
            and match.claimed_by_id != user.pk
            and match.claimed_at
            and match.claimed_at >= timezone.now() - claim_expiry()
        )


def group_key(match: Match) -> tuple[int, int]:
    return (match.query.near_duplicate_of_id or match.query_id, match.reference_id)


def _rows(*, user: AbstractBaseUser, filters: QueueFilter):
    rows = Match.objects.filter(
        query__collection__team__in=teams_selectors.team_ids_of(user), reference__deleted_at__isnull=True
    )
    if filters.state == "suppressed":
        rows = rows.exclude(suppressed_reason="")
    elif filters.state == "unreviewed":
        # Candidates at or above their collection's threshold; allowlisted / quarantined ones are apart.
        rows = rows.filter(
            review=ReviewDecision.UNREVIEWED,
            suppressed_reason="",
            final_score__gte=F("query__collection__match_threshold"),
        )
    else:
        # Every verdict shows, including a copy confirmed from below the threshold on the query page.
        rows = rows.filter(review=filters.state)
    if filters.collection_id:
        rows = rows.filter(query__collection_id=filters.collection_id)
    if filters.score_min is not None:
        rows = rows.filter(final_score__gte=filters.score_min)
    if filters.score_max is not None:
        rows = rows.filter(final_score__lte=filters.score_max)
    zone = timezone.get_current_timezone()
    if filters.since:
        rows = rows.filter(created_at__gte=datetime.combine(filters.since, time.min, tzinfo=zone))
    if filters.until:
        rows = rows.filter(created_at__lte=datetime.combine(filters.until, time.max, tzinfo=zone))
    ordering = ["-final_score", "created_at", "id"] if filters.order == "score" else ["created_at", "id"]
    return rows.select_related("query__collection__team", "reference__bank", "reviewed_by", "claimed_by").order_by(
        *ordering
    )


def review_items(*, user: AbstractBaseUser, filters: QueueFilter = QueueFilter()) -> list[ReviewItem]:
    """The queue in the chosen order; each item led by its strongest (or oldest) row."""
    items: dict[tuple[int, int], ReviewItem] = {}
    for row in _rows(user=user, filters=filters)[:ROWS_MAX]:
        key = group_key(row)
        if key not in items:
            items[key] = ReviewItem(match=row)
        items[key].members.append(row)
    return list(items.values())


def review_item_counts(*, user: AbstractBaseUser, filters: QueueFilter = QueueFilter()) -> dict[str, int]:
    counts = {}
    for state in STATES:
        keys = set()
        for query_id, leader_id, reference_id in _rows(
            user=user, filters=QueueFilter(**{**filters.__dict__, "state": state})
        ).values_list("query_id", "query__near_duplicate_of_id", "reference_id")[:ROWS_MAX]:
            keys.add((leader_id or query_id, reference_id))
        counts[state] = len(keys)
    return counts


def review_item_get(*, user: AbstractBaseUser, match_id: int) -> ReviewItem:
    """The item `match_id` belongs to, whatever its state; 404 outside the user's teams."""
    from search.review.services import group_members

    match = queries_selectors.match_get(user=user, match_id=match_id)
    members = sorted(group_members(match), key=lambda row: (-row.final_score, row.id))
    return ReviewItem(match=match, members=members)


def neighbours(
    *, user: AbstractBaseUser, filters: QueueFilter, match: Match
) -> tuple[ReviewItem | None, ReviewItem | None]:
    """The items before and after `match`'s in the filtered queue, skipping those another moderator holds.
    When the item has left the queue (just decided), 'next' is the first one still in it."""
    items = review_items(user=user, filters=filters)
    keys = [item.key for item in items]
    key = group_key(match)
    free = [item for item in items if not item.claimed_by_other(user)]
    if key not in keys:
        return None, (free[0] if free else None)
    position = keys.index(key)
    before = [item for item in items[:position] if not item.claimed_by_other(user)]
    after = [item for item in items[position + 1 :] if not item.claimed_by_other(user)]
    return (before[-1] if before else None), (after[0] if after else None)


def match_history(*, item: ReviewItem) -> list[AuditEvent]:
    """Everything the audit log holds about the item's rows (verdicts, undos, inherited verdicts, allowlist)."""
    ids = [member.id for member in item.members]
    return list(
        AuditEvent.objects.filter(target_type="search.match", target_id__in=ids).order_by("-created_at", "-id")[:50]
    )


def last_verdict(*, user: AbstractBaseUser) -> PairVerdict | None:
    """The verdict 'undo' would take back."""
    return (
        PairVerdict.objects.filter(decided_by_id=user.pk, match__isnull=False)
        .select_related("match__query", "match__reference")
        .first()
    )


def matches_of(*, user: AbstractBaseUser, match_ids: list[int]) -> list[Match]:
    """The given matches that belong to the user's teams (others are silently left out), in the given order."""
    found = Match.objects.filter(id__in=match_ids, query__collection__team__in=teams_selectors.team_ids_of(user))
    by_id = {match.id: match for match in found.select_related("query__collection__team", "reference__bank")}
    return [by_id[match_id] for match_id in dict.fromkeys(match_ids) if match_id in by_id]


def allowlist_list(*, user: AbstractBaseUser, team: Team) -> QuerySet[AllowlistEntry]:
    """The team's benign pictures, newest first, each with one of the team's queries that holds those bytes
    (`query_id`, for its thumbnail) and how many matches show its reason now (`suppressed`; the picture and
    its near-identical re-posts; see verdicts.allowlist_reason)."""
    queries = QueryImage.objects.filter(collection__team=OuterRef("team"), sha256=OuterRef("sha256")).order_by("id")
    suppressed = (
        Match.objects.filter(query__collection__team=OuterRef("team"), suppressed_reason=OuterRef("shown_reason"))
        .order_by()
        .values("query__collection__team")
        .annotate(count=Count("id"))
        .values("count")
    )
    return (
        AllowlistEntry.objects.filter(team=team, team__in=team_ids_of(user))
        .select_related("reference", "created_by")
        .annotate(shown_reason=Left(Concat(Value("Allowlisted: "), "reason", output_field=CharField()), 300))
        .annotate(query_id=Subquery(queries.values("id")[:1]), suppressed=Subquery(suppressed))
        .order_by("-created_at", "-id")
    )


def allowlist_entry_get(*, user: AbstractBaseUser, team: Team, entry_id: int) -> AllowlistEntry:
    return get_object_or_404(
        AllowlistEntry.objects.select_related("team"), id=entry_id, team=team, team__in=team_ids_of(user)
    )
