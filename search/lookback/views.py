"""A team's look-back jobs, with their progress (every member sees them)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from search.lookback import selectors
from search.teams import selectors as teams_selectors


@login_required
def lookback_jobs(request: HttpRequest, team_slug: str) -> HttpResponse:
    team, _ = teams_selectors.team_get(user=request.user, slug=team_slug)
    jobs = list(selectors.lookback_job_list(user=request.user, team=team))
    return render(
        request,
        "search/lookback_jobs.html",
        {
            "team": team,
            "jobs": jobs,
            "days": settings.ISC.lookback_days,
            "active": any(job.is_active for job in jobs),
        },
    )
