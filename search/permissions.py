"""Who may do what in a team. Selectors answer 404 for other teams' objects; services then check the role
and answer 403 (PermissionDenied) when it is too low."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied

from search.models import Membership, Role, Team

# What each action needs; the views, services and templates read the same table.
UPLOAD = Role.UPLOADER
REVIEW = Role.MODERATOR
MANAGE = Role.ADMIN


def membership_of(*, user: AbstractBaseUser, team: Team | int) -> Membership | None:
    if not user.is_authenticated:
        return None
    team_id = team if isinstance(team, int) else team.id
    return Membership.objects.filter(user=user, team_id=team_id).select_related("team").first()


def role_require(*, user: AbstractBaseUser | None, team: Team | int, minimum: Role) -> Membership:
    """The user's membership of `team` if their role is `minimum` or higher; PermissionDenied otherwise."""
    membership = membership_of(user=user, team=team) if user is not None else None
    if membership is None:
        raise PermissionDenied("You are not a member of this team.")
    if not membership.at_least(minimum):
        raise PermissionDenied(f"This needs the {Role(minimum).label.lower()} role or higher in {membership.team}.")
    return membership
