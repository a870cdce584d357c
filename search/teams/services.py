"""Writes for teams: creating them, adding and removing members, roles and invite links, API keys.
Every change to a team is audited in the same transaction."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from search.core.audit import audit_record
from search.core.models import AuditAction
from search.core.permissions import MANAGE, role_require
from search.teams.models import ApiToken, Invite, Membership, Role, Team

INVITE_LIFETIME = timedelta(days=7)


class TeamRuleBroken(ValueError):
    """A change that would leave a team unusable (no admin left); the message is shown to the user."""


def team_slug_for(name: str) -> str:
    base = slugify(name)[:50] or "team"
    slug, n = base, 2
    while Team.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


@transaction.atomic
def team_create(*, name: str, creator: AbstractBaseUser | None) -> Team:
    """A new team; its creator (if any) becomes its first admin."""
    team = Team.objects.create(name=name.strip(), slug=team_slug_for(name))
    audit_record(actor=creator, team=team, action=AuditAction.TEAM_CREATE, target=team, after={"name": team.name})
    if creator is not None:
        _membership_add(actor=creator, team=team, user=creator, role=Role.ADMIN)
    return team


@transaction.atomic
def team_create_by_staff(*, actor: AbstractBaseUser, name: str, admin: AbstractBaseUser | None = None) -> Team:
    """Site staff start another team; `admin` (the staff member when None) becomes its first admin. Audited
    in the new team's log as made by the staff member. ValidationError for a name in use."""
    if not (actor.is_authenticated and actor.is_staff):
        raise PermissionDenied("Creating teams is for site staff.")
    name = name.strip()
    if not name:
        raise ValidationError("A team needs a name.")
    if Team.objects.filter(name__iexact=name).exists():
        raise ValidationError(f"A team named “{name}” exists already.")
    team = Team.objects.create(name=name, slug=team_slug_for(name))
    audit_record(actor=actor, team=team, action=AuditAction.TEAM_CREATE, target=team, after={"name": team.name})
    _membership_add(actor=actor, team=team, user=admin or actor, role=Role.ADMIN)
    return team


def _membership_add(*, actor, team: Team, user: AbstractBaseUser, role: Role) -> Membership:
    membership = Membership.objects.create(team=team, user=user, role=role)
    audit_record(
        actor=actor,
        team=team,
        action=AuditAction.MEMBER_ADD,
        target=membership,
        after={"user": user.get_username(), "role": membership.role},
    )
    return membership


@transaction.atomic
def member_create(*, actor: AbstractBaseUser, team: Team, username: str, password: str, role: Role | str) -> Membership:
    """Creates an account and makes it a member (for teams that do not use invite links)."""
    role_require(user=actor, team=team, minimum=MANAGE)
    User = get_user_model()
    username = username.strip()
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError("This username is taken; send that person an invite link instead.")
    user = User(username=username)
    validate_password(password, user=user)
    user.set_password(password)
    user.save()
    return _membership_add(actor=actor, team=team, user=user, role=Role(role))


@transaction.atomic
def member_role_change(*, actor: AbstractBaseUser, membership: Membership, role: Role | str) -> Membership:
    role_require(user=actor, team=membership.team, minimum=MANAGE)
    role = Role(role)
    before = membership.role
    if before == role:
        return membership
    if before == Role.ADMIN:
        _last_admin_guard(membership)
    membership.role = role
    membership.save(update_fields=["role"])
    audit_record(
        actor=actor,
        team=membership.team,
        action=AuditAction.MEMBER_ROLE,
        target=membership,
        before={"user": membership.user.get_username(), "role": before},
        after={"user": membership.user.get_username(), "role": role.value},
    )
    return membership


@transaction.atomic
def member_remove(*, actor: AbstractBaseUser, membership: Membership) -> None:
    role_require(user=actor, team=membership.team, minimum=MANAGE)
    if membership.role == Role.ADMIN:
        _last_admin_guard(membership)
    audit_record(
        actor=actor,
        team=membership.team,
        action=AuditAction.MEMBER_REMOVE,
        target=membership,
        before={"user": membership.user.get_username(), "role": membership.role},
    )
    membership.delete()


def _last_admin_guard(membership: Membership) -> None:
    admins = Membership.objects.select_for_update().filter(team_id=membership.team_id, role=Role.ADMIN)
    if not admins.exclude(id=membership.id).exists():
        raise TeamRuleBroken("A team needs at least one admin; make someone else admin first.")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def invite_create(*, actor: AbstractBaseUser, team: Team, role: Role | str) -> tuple[Invite, str]:
    """Returns the invite and its token; only the token's hash is stored, so show the link now."""
    role_require(user=actor, team=team, minimum=MANAGE)
    token = secrets.token_urlsafe(32)
    invite = Invite.objects.create(
        team=team,
        role=Role(role),
        token_sha256=_token_hash(token),
        created_by=actor,
        expires_at=timezone.now() + INVITE_LIFETIME,
    )
    audit_record(
        actor=actor,
        team=team,
        action=AuditAction.INVITE_CREATE,
        target=invite,
        after={"role": invite.role, "expires_at": invite.expires_at},
    )
    return invite, token


def invite_find(*, token: str) -> Invite | None:
    """The usable invite for this token, or None (unknown, used or expired)."""
    invite = Invite.objects.select_related("team").filter(token_sha256=_token_hash(token)).first()
    return invite if invite is not None and invite.usable else None


@transaction.atomic
def invite_accept(*, invite: Invite, user: AbstractBaseUser) -> Membership:
    """Makes `user` a member with the invite's role (an existing member keeps the higher role)."""
    locked = Invite.objects.select_for_update().get(id=invite.id)
    if not locked.usable:
        raise TeamRuleBroken("This invite link has been used or has expired.")
    locked.accepted_by, locked.accepted_at = user, timezone.now()
    locked.save(update_fields=["accepted_by", "accepted_at"])
    audit_record(
        actor=user, team=locked.team, action=AuditAction.INVITE_ACCEPT, target=locked, after={"role": locked.role}
    )
    existing = Membership.objects.filter(team=locked.team, user=user).first()
    if existing is None:
        return _membership_add(actor=user, team=locked.team, user=user, role=Role(locked.role))
    if Role(locked.role).at_least(existing.role) and existing.role != locked.role:
        before = existing.role
        existing.role = locked.role
        existing.save(update_fields=["role"])
        audit_record(
            actor=user,
            team=locked.team,
            action=AuditAction.MEMBER_ROLE,
            target=existing,
            before={"user": user.get_username(), "role": before},
            after={"user": user.get_username(), "role": existing.role},
        )
    return existing


@transaction.atomic
def account_with_team_create(*, username: str, password: str) -> tuple[AbstractBaseUser, Team]:
    """Open sign-up (ISC_OPEN_SIGNUP=1): a new account and a team of its own, with it as admin."""
    user = get_user_model().objects.create_user(username=username, password=password)
    name, n = username, 2
    while Team.objects.filter(name=name).exists():
        name, n = f"{username} ({n})", n + 1
    return user, team_create(name=name, creator=user)


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
