"""Reads about teams, members, the audit log and API keys, always for the user asking."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.shortcuts import get_object_or_404
from django.utils import timezone

from search.collection.models import Collection
from search.core.models import AuditEvent
from search.teams.models import ApiToken, Membership, Role, Team


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


def account_get(*, user: AbstractBaseUser, username: str) -> AbstractBaseUser | None:
    """An active account by username, for site staff (who may name any account as a new team's admin)."""
    if not user.is_staff:
        return None
    return get_user_model().objects.filter(username=username.strip(), is_active=True).first()
