"""Team pages: the user's teams, a team's members (admins add accounts, change roles, remove members,
make invite links), accepting an invite, and the team's audit log with its CSV export."""

from __future__ import annotations

import csv
import json

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from search import selectors, teams
from search.forms import AuditFilterForm, MemberCreateForm, RoleForm
from search.models import Collection, Role
from search.permissions import MANAGE

AUDIT_PER_PAGE = 100


@login_required
def team_list(request: HttpRequest) -> HttpResponse:
    return render(request, "search/team_list.html", {"teams": selectors.team_list(user=request.user)})


def _admin_team(request: HttpRequest, slug: str):
    """The team, for its admins only: 404 outside the team, 403 inside it below admin."""
    team, membership = selectors.team_get(user=request.user, slug=slug)
    if not membership.at_least(MANAGE):
        raise PermissionDenied("Only the team's admins can do this.")
    return team, membership


@login_required
def team_members(request: HttpRequest, team_slug: str) -> HttpResponse:
    team, membership = selectors.team_get(user=request.user, slug=team_slug)
    form = MemberCreateForm(request.POST or None)
    if request.method == "POST":
        _admin_team(request, team_slug)
        if form.is_valid():
            try:
                teams.member_create(actor=request.user, team=team, **form.cleaned_data)
            except ValidationError as error:
                form.add_error("password" if "password" in str(error).lower() else "username", error)
            else:
                messages.success(request, f"{form.cleaned_data['username']} can now log in and joined {team}.")
                return redirect("search:team_members", team_slug=team.slug)
    return render(
        request,
        "search/team_members.html",
        {
            "team": team,
            "membership": membership,
            "members": selectors.membership_list(team=team),
            "form": form,
            "roles": Role,
            "invites": team.invites.filter(accepted_at__isnull=True, expires_at__gt=timezone.now()),
        },
    )


@login_required
@require_POST
def member_role(request: HttpRequest, team_slug: str, membership_id: int) -> HttpResponse:
    team, _ = _admin_team(request, team_slug)
    target = selectors.membership_get(team=team, membership_id=membership_id)
    form = RoleForm(request.POST)
    if form.is_valid():
        try:
            teams.member_role_change(actor=request.user, membership=target, role=form.cleaned_data["role"])
        except teams.TeamRuleBroken as error:
            messages.error(request, str(error))
        else:
            messages.success(request, f"{target.user} is now {Role(target.role).label.lower()}.")
    return redirect("search:team_members", team_slug=team.slug)


@login_required
@require_POST
def member_remove(request: HttpRequest, team_slug: str, membership_id: int) -> HttpResponse:
    team, _ = _admin_team(request, team_slug)
    target = selectors.membership_get(team=team, membership_id=membership_id)
    try:
        teams.member_remove(actor=request.user, membership=target)
    except teams.TeamRuleBroken as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"{target.user} was removed from {team}.")
    return redirect("search:team_members", team_slug=team.slug)


@login_required
@require_POST
def invite_create(request: HttpRequest, team_slug: str) -> HttpResponse:
    team, _ = _admin_team(request, team_slug)
    form = RoleForm(request.POST)
    if form.is_valid():
        invite, token = teams.invite_create(actor=request.user, team=team, role=form.cleaned_data["role"])
        link = request.build_absolute_uri(reverse("search:invite_accept", args=[token]))
        messages.success(
            request,
            f"Invite link ({invite.get_role_display().lower()}, single use, valid until "
            f"{invite.expires_at:%Y-%m-%d %H:%M} UTC; shown only now): {link}",
        )
    return redirect("search:team_members", team_slug=team.slug)


def invite_accept(request: HttpRequest, token: str) -> HttpResponse:
    """Open to anyone holding the link: a logged-in user joins; a visitor creates an account and joins."""
    invite = teams.invite_find(token=token)
    if invite is None:
        return render(request, "search/invite_accept.html", {"invite": None}, status=404)
    form = None if request.user.is_authenticated else UserCreationForm(request.POST or None)
    if request.method == "POST" and (form is None or form.is_valid()):
        user = request.user if form is None else form.save()
        try:
            teams.invite_accept(invite=invite, user=user)
        except teams.TeamRuleBroken as error:
            messages.error(request, str(error))
            return redirect("search:collection_list")
        if form is not None:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"You joined {invite.team}.")
        return redirect("search:collection_list")
    return render(request, "search/invite_accept.html", {"invite": invite, "form": form})


def _audit_filtered(request: HttpRequest, team):
    members = selectors.membership_list(team=team)
    form = AuditFilterForm(
        request.GET or None,
        actors=[(m.user_id, m.user.get_username()) for m in members],
        collections=list(Collection.objects.filter(team=team).order_by("name").values_list("id", "name")),
    )
    filters = selectors.AuditFilter()
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        filters = selectors.AuditFilter(
            action=data["action"] or "",
            actor_id=data["actor"] or None,
            collection_id=data["collection"] or None,
            since=data["since"],
            until=data["until"],
        )
    return form, selectors.audit_event_list(team=team, filters=filters)


@login_required
def audit_log(request: HttpRequest, team_slug: str) -> HttpResponse:
    team, _ = _admin_team(request, team_slug)
    form, events = _audit_filtered(request, team)
    page = Paginator(events.select_related("actor"), AUDIT_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request, "search/audit_log.html", {"team": team, "form": form, "events": page, "query": query.urlencode()}
    )


class _Echo:
    def write(self, value):
        return value


AUDIT_CSV_COLUMNS = [
    "created_at",
    "actor",
    "action",
    "target_type",
    "target_id",
    "target",
    "collection_id",
    "before",
    "after",
]


@login_required
def audit_csv(request: HttpRequest, team_slug: str) -> StreamingHttpResponse:
    """The filtered log as CSV, streamed (a busy team's log does not fit in one response buffer)."""
    team, _ = _admin_team(request, team_slug)
    _, events = _audit_filtered(request, team)
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(AUDIT_CSV_COLUMNS)
        for event in events.iterator(chunk_size=1000):
            yield writer.writerow(
                [
                    event.created_at.isoformat(),
                    event.actor_username,
                    event.action,
                    event.target_type,
                    event.target_id if event.target_id is not None else "",
                    _csv_safe(event.target_repr),
                    event.collection_id if event.collection_id is not None else "",
                    "" if event.before is None else _csv_safe(json.dumps(event.before, sort_keys=True)),
                    "" if event.after is None else _csv_safe(json.dumps(event.after, sort_keys=True)),
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="audit-{team.slug}-{stamp}.csv"'
    return response


def _csv_safe(value: str) -> str:
    """Spreadsheets run cells that start with = + - @ as formulas; user-chosen names must not."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
