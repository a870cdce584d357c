"""Who may do what in a team. Selectors answer 404 for other teams' objects; services then check the role."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied

from search.teams.models import Membership, Role, Team

# What each action needs; the views, services and templates read the same table.
UPLOAD = Role.UPLOADER


REVIEW = Role.MODERATOR


MANAGE = Role.ADMIN


class RoleRequired(PermissionDenied):
    """A role too low (or no membership at all: `role` is None), with what was needed, for callers that
    answer in a machine-readable way (the API); pages show its message."""

    def __init__(self, message: str, *, team: Team | None, minimum: Role, role: Role | None) -> None:
        super().__init__(message)
        self.team, self.minimum, self.role = team, Role(minimum), role


def membership_of(*, user: AbstractBaseUser, team: Team | int) -> Membership | None:
    if not user.is_authenticated:
        return None
    team_id = team if isinstance(team, int) else team.id
    return Membership.objects.filter(user=user, team_id=team_id).select_related("team").first()


def role_require(*, user: AbstractBaseUser | None, team: Team | int, minimum: Role) -> Membership:
    """The user's membership of `team` if their role is `minimum` or higher; RoleRequired (a
    PermissionDenied) otherwise."""
    membership = membership_of(user=user, team=team) if user is not None else None
    if membership is None:
        raise RoleRequired("You are not a member of this team.", team=None, minimum=minimum, role=None)
    if not membership.at_least(minimum):
        raise RoleRequired(
            f"This needs the {Role(minimum).label.lower()} role or higher in {membership.team}.",
            team=membership.team,
            minimum=minimum,
            role=Role(membership.role),
        )
    return membership
