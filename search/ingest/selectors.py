"""Reads for bulk-ingest jobs, scoped like everything else to the teams of the user asking."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from search.collection.models import Collection
from search.ingest.models import IngestJob
from search.teams import selectors

RECENT_JOBS_SHOWN = 5


ERRORS_SHOWN_INLINE = 10


def ingest_jobs_recent(*, collection: Collection, limit: int = RECENT_JOBS_SHOWN) -> list[IngestJob]:
    """The collection's latest jobs; `collection` was fetched through the user (selectors.collection_get)."""
    return list(collection.ingest_jobs.order_by("-created_at")[:limit])


def ingest_job_get(*, user: AbstractBaseUser, job_id: int) -> IngestJob:
    """A job of a collection of one of the user's teams; 404 otherwise."""
    return get_object_or_404(
        IngestJob.objects.select_related("collection__team", "created_by"),
        id=job_id,
        collection__team__in=selectors.team_ids_of(user),
    )


def ingest_job_errors(*, job: IngestJob) -> QuerySet:
    return job.errors.order_by("position")
