"""Team pages: sign-up, the user's teams, members, invites, the audit log, and the API keys page."""

from __future__ import annotations

import csv
import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from search.collection.models import Collection
from search.core.permissions import MANAGE
from search.teams import selectors, services
from search.teams.forms import ApiTokenForm, AuditFilterForm, MemberCreateForm, RoleForm, TeamCreateForm
from search.teams.models import Role


def signup(request: HttpRequest) -> HttpResponse:
    """Off unless ISC_OPEN_SIGNUP=1; otherwise accounts come from a team admin (members page, invite links)."""
    if not settings.ISC.open_signup:
        raise Http404("Sign-up is closed; ask a team admin for an invite.")
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user, _ = services.account_with_team_create(
            username=form.cleaned_data["username"], password=form.cleaned_data["password1"]
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("search:collection_list")
    return render(request, "registration/signup.html", {"form": form})


AUDIT_PER_PAGE = 100


@login_required
def team_list(request: HttpRequest) -> HttpResponse:
    context = {"teams": selectors.team_list(user=request.user)}
    if request.user.is_staff:
        context["team_form"] = TeamCreateForm()
    return render(request, "search/team_list.html", context)


@login_required
def team_create(request: HttpRequest) -> HttpResponse:
    """Site staff start another team (GET: the form; POST: create it, then its members page)."""
    if not request.user.is_staff:
        raise PermissionDenied("Creating teams is for site staff.")
    form = TeamCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        admin = None
        if form.cleaned_data["admin"]:
            admin = selectors.account_get(user=request.user, username=form.cleaned_data["admin"])
            if admin is None:
                form.add_error("admin", "No active account has this username.")
        if not form.errors:
            try:
                team = services.team_create_by_staff(actor=request.user, name=form.cleaned_data["name"], admin=admin)
            except ValidationError as error:
                form.add_error("name", error)
            else:
                messages.success(request, f"Team {team.name} created; {admin or request.user} is its first admin.")
                return redirect("search:team_members", team_slug=team.slug)
    return render(request, "search/team_create.html", {"form": form})


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
                services.member_create(actor=request.user, team=team, **form.cleaned_data)
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
            services.member_role_change(actor=request.user, membership=target, role=form.cleaned_data["role"])
        except services.TeamRuleBroken as error:
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
        services.member_remove(actor=request.user, membership=target)
    except services.TeamRuleBroken as error:
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
        invite, token = services.invite_create(actor=request.user, team=team, role=form.cleaned_data["role"])
        link = request.build_absolute_uri(reverse("search:invite_accept", args=[token]))
        messages.success(
            request,
            f"Invite link ({invite.get_role_display().lower()}, single use, valid until "
            f"{invite.expires_at:%Y-%m-%d %H:%M} UTC; shown only now): {link}",
        )
    return redirect("search:team_members", team_slug=team.slug)


def invite_accept(request: HttpRequest, token: str) -> HttpResponse:
    """Open to anyone holding the link: a logged-in user joins; a visitor creates an account and joins."""
    invite = services.invite_find(token=token)
    if invite is None:
        return render(request, "search/invite_accept.html", {"invite": None}, status=404)
    form = None if request.user.is_authenticated else UserCreationForm(request.POST or None)
    if request.method == "POST" and (form is None or form.is_valid()):
        user = request.user if form is None else form.save()
        try:
            services.invite_accept(invite=invite, user=user)
        except services.TeamRuleBroken as error:
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


@login_required
def api_tokens(request: HttpRequest) -> HttpResponse:
    form = ApiTokenForm(request.POST or None)
    new_key = new_token = None
    if request.method == "POST" and form.is_valid():
        new_token, new_key = services.api_token_create(user=request.user, name=form.cleaned_data["name"])
        form = ApiTokenForm()
    response = render(
        request,
        "search/api_tokens.html",
        {
            "form": form,
            "tokens": selectors.api_token_list(user=request.user),
            "new_key": new_key,
            "new_token": new_token,
        },
    )
    # The key is in this page only: keep it out of browser and proxy caches.
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def api_token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = services.api_token_revoke(token=selectors.api_token_get(user=request.user, token_id=token_id))
    messages.success(request, f"Token “{token.name}” revoked: requests with it are refused from now on.")
    return redirect("search:api_tokens")
