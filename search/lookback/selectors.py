"""Reads of look-back jobs, for the user asking."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from search.lookback.models import LookbackJob
from search.teams.models import Team
from search.teams.selectors import team_ids_of


def lookback_job_list(*, user: AbstractBaseUser, team: Team, limit: int = 50) -> QuerySet[LookbackJob]:
    return (
        LookbackJob.objects.filter(team=team, team__in=team_ids_of(user))
        .select_related("collection", "bank")
        .order_by("-created_at", "-id")[:limit]
    )
