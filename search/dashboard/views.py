"""The team dashboard and its one-click threshold."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from search.collection import services
from search.collection.models import Collection
from search.dashboard import selectors
from search.teams import selectors as teams_selectors
from search.teams.models import Role


@login_required
def dashboard_home(request: HttpRequest) -> HttpResponse:
    """The dashboard of the user's first team (each team page links to its own)."""
    team = teams_selectors.team_list(user=request.user).first()
    if team is None:
        messages.info(request, "You are not in a team yet.")
        return redirect("search:team_list")
    return redirect("search:team_dashboard", team_slug=team.slug)


@login_required
def team_dashboard(request: HttpRequest, team_slug: str) -> HttpResponse:
    team, membership = teams_selectors.team_get(user=request.user, slug=team_slug)
    board = selectors.team_dashboard(team=team)
    chart = {
        "days": board.days,
        "matches": board.matches_per_day,
        "verdicts": board.verdicts_per_day,
        "curves": [{"name": p.collection.name, "points": p.curve} for p in board.precision if p.curve],
    }
    return render(
        request,
        "search/dashboard.html",
        {"team": team, "membership": membership, "board": board, "board_chart": chart},
    )


@login_required
@require_POST
def dashboard_threshold(request: HttpRequest, team_slug: str) -> HttpResponse:
    """One click: sets a collection's threshold to the one the dashboard suggests (audited as a change)."""
    team, membership = teams_selectors.team_get(user=request.user, slug=team_slug)
    if not membership.at_least(Role.ADMIN):
        raise PermissionDenied(f"This needs the admin role or higher in {team}.")
    collection_id = request.POST.get("collection", "")
    collection = Collection.objects.filter(team=team, id=int(collection_id) if collection_id.isdigit() else 0).first()
    try:
        threshold = float(request.POST.get("threshold", ""))
    except ValueError:
        threshold = None
    if collection is None or threshold is None or not 0.0 <= threshold <= 1.0:
        messages.error(request, "Pick a collection and a threshold between 0 and 1.")
    else:
        services.collection_update(
            actor=request.user,
            collection=collection,
            name=collection.name,
            description=collection.description,
            match_threshold=threshold,
        )
        messages.success(request, f"Threshold of {collection.name} set to {threshold:.3f}.")
    return redirect("search:team_dashboard", team_slug=team.slug)
