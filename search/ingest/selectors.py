"""Reads for bulk-ingest jobs, scoped like everything else to the teams of the user asking."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from search.collection.models import Collection
from search.ingest.models import IngestJob
from search.teams import selectors

ERRORS_SHOWN_INLINE = 10


FINISHED_CARDS_SHOWN = 1


FINISHED_LINES_SHOWN = 10


@dataclass(frozen=True)
class IngestPanel:
    """What the collection page shows of its imports: every running job and the latest finished one as
    cards, older finished ones as one line each behind a toggle, so that finished cards do not pile up."""

    active: list[IngestJob]
    finished: list[IngestJob]
    earlier: list[IngestJob]
    earlier_total: int


def ingest_panel(*, collection: Collection) -> IngestPanel:
    """`collection` was fetched through the user (selectors.collection_get)."""
    jobs = collection.ingest_jobs.order_by("-created_at", "-id")
    finished = jobs.exclude(state__in=IngestJob.ACTIVE_STATES)
    shown = FINISHED_CARDS_SHOWN + FINISHED_LINES_SHOWN
    recent_finished = list(finished[:shown])
    return IngestPanel(
        active=list(jobs.filter(state__in=IngestJob.ACTIVE_STATES)),
        finished=recent_finished[:FINISHED_CARDS_SHOWN],
        earlier=recent_finished[FINISHED_CARDS_SHOWN:],
        earlier_total=max(finished.count() - FINISHED_CARDS_SHOWN, 0),
    )


def ingest_job_get(*, user: AbstractBaseUser, job_id: int) -> IngestJob:
    """A job of a collection of one of the user's teams; 404 otherwise."""
    return get_object_or_404(
        IngestJob.objects.select_related("collection__team", "created_by"),
        id=job_id,
        collection__team__in=selectors.team_ids_of(user),
    )


def ingest_job_errors(*, job: IngestJob) -> QuerySet:
    return job.errors.order_by("position")
