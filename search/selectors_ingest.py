"""Reads for bulk-ingest jobs, scoped like everything else through the collection the user may see."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from search import selectors
from search.models import Collection, IngestJob

RECENT_JOBS_SHOWN = 5
ERRORS_SHOWN_INLINE = 10


def ingest_jobs_recent(*, collection: Collection, limit: int = RECENT_JOBS_SHOWN) -> list[IngestJob]:
    return list(collection.ingest_jobs.order_by("-created_at")[:limit])


def ingest_job_get(*, user: AbstractBaseUser, job_id: int) -> IngestJob:
    job = get_object_or_404(IngestJob.objects.select_related("collection"), id=job_id)
    selectors.collection_get(user=user, collection_id=job.collection_id)  # 404 unless the user may see it
    return job


def ingest_job_errors(*, job: IngestJob) -> QuerySet:
    return job.errors.order_by("position")
