"""Reads: what the pages show, always scoped to the user asking."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from time import monotonic, sleep

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import CharField, Count, F, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Concat, Left
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from search.models import (
    AllowlistEntry,
    ApiToken,
    AuditEvent,
    Collection,
    ImageStatus,
    Match,
    Membership,
    QueryImage,
    ReferenceImage,
    ReindexJob,
    ReviewDecision,
    Role,
    Team,
)


def team_ids_of(user: AbstractBaseUser) -> QuerySet:
    """The teams whose data `user` may see (a subquery, so each scoped read stays one SQL statement)."""
    return Membership.objects.filter(user_id=user.pk).values("team_id")


def team_list(*, user: AbstractBaseUser) -> QuerySet[Team]:
    """The user's teams, each with `role` (the user's) and `member_count`."""
    role = Membership.objects.filter(team=OuterRef("pk"), user_id=user.pk).values("role")[:1]
    return Team.objects.filter(id__in=team_ids_of(user)).annotate(
        role=Subquery(role), member_count=Count("memberships", distinct=True)
    )


def team_ids_with_role(*, user: AbstractBaseUser, minimum: Role) -> set[int]:
    """Ids of the user's teams where their role is `minimum` or higher (for showing or hiding actions)."""
    rows = Membership.objects.filter(user_id=user.pk).values_list("team_id", "role")
    return {team_id for team_id, role in rows if Role(role).at_least(minimum)}


def team_admin_list(*, user: AbstractBaseUser) -> QuerySet[Team]:
    return Team.objects.filter(memberships__user_id=user.pk, memberships__role=Role.ADMIN)


def team_get(*, user: AbstractBaseUser, slug: str) -> tuple[Team, Membership]:
    """The team and the user's membership of it; 404 for a team the user is not in."""
    membership = get_object_or_404(Membership.objects.select_related("team"), team__slug=slug, user_id=user.pk)
    return membership.team, membership


def membership_list(*, team: Team) -> QuerySet[Membership]:
    return team.memberships.select_related("user").order_by("user__username")


def membership_get(*, team: Team, membership_id: int) -> Membership:
    return get_object_or_404(Membership.objects.select_related("user", "team"), id=membership_id, team=team)


def membership_for(*, user: AbstractBaseUser, collection: Collection) -> Membership:
    """The user's membership of the collection's team (the collection was fetched through the user)."""
    return Membership.objects.select_related("team").get(user_id=user.pk, team_id=collection.team_id)


def collection_list(*, user: AbstractBaseUser) -> QuerySet[Collection]:
    return (
        Collection.objects.filter(team__in=team_ids_of(user))
        .select_related("team")
        .annotate(
            reference_count=Count("references", distinct=True),
            query_count=Count("queries", distinct=True),
        )
    )


def collection_get(*, user: AbstractBaseUser, collection_id: int) -> Collection:
    return get_object_or_404(Collection.objects.select_related("team"), id=collection_id, team__in=team_ids_of(user))


@dataclass(frozen=True)
class Progress:
    total: int
    indexed: int
    pending: int
    processing: int
    failed: int
    # Why waiting rows wait, when a dependency is down ("Search backend unavailable, retrying ...").
    notice: str = ""

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
        notice=collection.references.filter(status=ImageStatus.PENDING)
        .exclude(notice="")
        .values_list("notice", flat=True)
        .first()
        or "",
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
    return Collection.objects.filter(team__in=team_ids_of(user)).order_by("name")


def query_get(*, user: AbstractBaseUser, query_id: int) -> QueryImage:
    return get_object_or_404(
        QueryImage.objects.select_related("collection__team"), id=query_id, collection__team__in=team_ids_of(user)
    )


def reference_get(*, user: AbstractBaseUser, reference_id: int) -> ReferenceImage:
    return get_object_or_404(
        ReferenceImage.objects.select_related("collection__team"),
        id=reference_id,
        collection__team__in=team_ids_of(user),
    )


def stored_image_get(*, user: AbstractBaseUser, kind: str, image_id: int) -> ReferenceImage | QueryImage:
    """A reference ('reference') or query ('query') image of one of the user's teams; 404 otherwise."""
    if kind == "query":
        return query_get(user=user, query_id=image_id)
    if kind == "reference":
        return reference_get(user=user, reference_id=image_id)
    raise Http404("Unknown image kind.")


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
        query.matches.filter(reference__deleted_at__isnull=True).select_related("reference").order_by("rank")[:limit]
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


def review_queue(*, user: AbstractBaseUser, decision: str = ReviewDecision.UNREVIEWED) -> QuerySet[Match]:
    """Matches at or above their collection's threshold, strongest first."""
    return (
        Match.objects.filter(
            query__collection__team__in=team_ids_of(user),
            final_score__gte=F("query__collection__match_threshold"),
            review=decision,
        )
        .select_related("query", "reference", "query__collection")
        .order_by("-final_score", "-created_at")
    )


def review_counts(*, user: AbstractBaseUser) -> dict[str, int]:
    rows = (
        Match.objects.filter(
            query__collection__team__in=team_ids_of(user),
            final_score__gte=F("query__collection__match_threshold"),
        )
        .values_list("review")
        .annotate(n=Count("id"))
    )
    counts = {decision: 0 for decision in ReviewDecision.values}
    counts.update(dict(rows))
    return counts


@dataclass(frozen=True)
class AuditFilter:
    action: str = ""
    actor_id: int | None = None
    collection_id: int | None = None
    since: date | None = None
    until: date | None = None  # inclusive: the whole day


def audit_event_list(*, team: Team, filters: AuditFilter = AuditFilter()) -> QuerySet[AuditEvent]:
    """The team's audit log, newest first. Callers check that the user is the team's admin."""
    events = AuditEvent.objects.filter(team=team)
    if filters.action:
        events = events.filter(action=filters.action)
    if filters.actor_id:
        events = events.filter(actor_id=filters.actor_id)
    if filters.collection_id:
        events = events.filter(collection_id=filters.collection_id)
    zone = timezone.get_current_timezone()
    if filters.since:
        events = events.filter(created_at__gte=datetime.combine(filters.since, time.min, tzinfo=zone))
    if filters.until:
        events = events.filter(created_at__lte=datetime.combine(filters.until, time.max, tzinfo=zone))
    return events.order_by("-created_at", "-id")


def reindex_job_list(*, user: AbstractBaseUser) -> QuerySet[ReindexJob]:
    """Reindex jobs re-embed every collection; anyone signed in may follow them, only staff start them."""
    return ReindexJob.objects.all()


def reindex_job_get(*, user: AbstractBaseUser, job_id: int) -> ReindexJob:
    return get_object_or_404(reindex_job_list(user=user), id=job_id)


def match_list(*, query: QueryImage) -> QuerySet[Match]:
    """The query's matches by rank, without those of deleted references (as on the result page)."""
    return (
        query.matches.filter(reference__deleted_at__isnull=True)
        .select_related("reference", "query__collection")
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
