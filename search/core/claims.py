"""Claims whose worker is gone: which rows and jobs they are.

A row or job being worked on records the Celery worker that holds it (`claimed_by`, the worker's hostname)
and when (`claimed_at` on rows, `heartbeat_at` on jobs). A claim is dead when its worker no longer answers
a ping, or when a worker of the same name has started since (it no longer runs what it held before). Dead
claims are re-queued at once, when a worker starts and at every sweep (workers/claims.py), instead of after
the age-based deadlines, which stay as the last resort for work lost some other way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q

# A claim younger than this is not judged: its worker may have started after the ping was answered.
CLAIM_GRACE = timedelta(seconds=5)


@dataclass(frozen=True)
class Liveness:
    """Who answered a ping at `checked_at` (None: the ping could not be sent); `restarted` is a worker that has
    just started (at `restarted_at`), so claims under its name from before that are dead although it answers."""

    answering: frozenset[str] | None
    checked_at: datetime
    restarted: str = ""
    restarted_at: datetime | None = None


def claims_dead(liveness: Liveness, *, claimed_at: str) -> Q:
    """Rows or jobs whose claim is dead; `claimed_at` names the field that dates the claim."""
    silent = Q(pk__in=[])
    if liveness.answering is not None:
        silent = (
            Q(claimed_by__gt="")
            & ~Q(claimed_by__in=sorted(liveness.answering))
            & Q(**{f"{claimed_at}__lt": liveness.checked_at - CLAIM_GRACE})
        )
    if liveness.restarted and liveness.restarted_at is not None:
        silent |= Q(claimed_by=liveness.restarted, **{f"{claimed_at}__lt": liveness.restarted_at})
    return silent


def stopped_answering(worker: str) -> str:
    return f"worker {worker} stopped answering"
