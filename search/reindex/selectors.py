"""Reads of index versions and reindex jobs: the live version, progress, what a query was searched with."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from copydetect.licences import ModelLicence, licences_in_use
from search.collection.models import ImageStatus, ReferenceImage
from search.queries.models import QueryImage
from search.reindex.models import IndexVersion, ReindexJob


def index_version_live_get() -> IndexVersion | None:
    return IndexVersion.objects.filter(state=IndexVersion.State.LIVE).first()


@dataclass(frozen=True)
class Rollback:
    previous: str
    restored: str


def index_version_rollback_plan() -> Rollback:
    """What `--rollback` would do: the live version and the retired one it would bring back."""
    live = index_version_live_get()
    if live is None:
        raise ValueError("There is no live index version to roll back from.")
    retired = _rollback_candidate()
    if retired is None:
        raise ValueError(
            "No earlier version was kept, so there is nothing to roll back to "
            "(set ISC_REINDEX_KEEP_OLD=1 before a reindex to keep the replaced version)."
        )
    if ReindexJob.objects.filter(state__in=ReindexJob.ACTIVE_STATES).exists():
        raise ValueError("A reindex is running; wait for it to finish before rolling back.")
    return Rollback(previous=live.version, restored=retired.version)


def index_version_get(*, version: str) -> IndexVersion | None:
    return IndexVersion.objects.filter(version=version).first()


def reindex_job_active() -> ReindexJob | None:
    return ReindexJob.objects.filter(state__in=ReindexJob.ACTIVE_STATES).order_by("created_at").first()


def reindex_job_latest() -> ReindexJob | None:
    return ReindexJob.objects.first()


def reindex_batch_references(*, job: ReindexJob, cursor: int) -> list[ReferenceImage]:
    return list(ReferenceImage.objects.filter(id__gt=cursor, bank__isnull=True).order_by("id")[: job.batch_size])


def reindex_references_to_check(*, after_id: int, limit: int) -> list[tuple[int, int]]:
    """(reference id, collection id) of every reference a finished collection must hold, page by page."""
    rows = (
        ReferenceImage.objects.filter(id__gt=after_id, bank__isnull=True)
        .exclude(status=ImageStatus.FAILED)
        .order_by("id")
        .values_list("id", "collection_id")[:limit]
    )
    return list(rows)


@dataclass(frozen=True)
class ReindexProgress:
    job: ReindexJob
    percent: int
    images_per_second: float | None
    eta_seconds: float | None

    @property
    def finished(self) -> bool:
        return self.job.state not in ReindexJob.ACTIVE_STATES

    @property
    def eta_text(self) -> str:
        """Time left in words ("about 6 min"), or "" while there is no speed to go by."""
        if self.eta_seconds is None:
            return ""
        seconds = round(self.eta_seconds)
        if seconds < 90:
            return f"{seconds} s"
        minutes = round(seconds / 60)
        return f"{minutes} min" if minutes < 90 else f"{minutes // 60} h {minutes % 60:02d} min"


def reindex_progress(*, job: ReindexJob) -> ReindexProgress:
    percent = 100 if job.total == 0 else min(100, round(100 * job.done / job.total))
    rate = eta = None
    if job.state == ReindexJob.State.RUNNING and job.rate_since is not None:
        elapsed = (timezone.now() - job.rate_since).total_seconds()
        done_since = job.done - job.rate_since_done
        if elapsed > 0 and done_since > 0:
            rate = done_since / elapsed
            eta = max(0, job.total - job.done) / rate
    elif job.state == ReindexJob.State.DONE and job.started_at and job.finished_at:
        elapsed = (job.finished_at - job.started_at).total_seconds()
        rate = job.done / elapsed if elapsed > 0 and job.done else None
    return ReindexProgress(job=job, percent=percent, images_per_second=rate, eta_seconds=eta)


@dataclass(frozen=True)
class IndexStatus:
    live: IndexVersion | None
    active: ReindexProgress | None
    latest: ReindexProgress | None
    rollback_to: IndexVersion | None


def index_status() -> IndexStatus:
    active = reindex_job_active()
    latest = reindex_job_latest()
    return IndexStatus(
        live=index_version_live_get(),
        active=reindex_progress(job=active) if active else None,
        latest=reindex_progress(job=latest) if latest else None,
        rollback_to=_rollback_candidate(),
    )


def _rollback_candidate() -> IndexVersion | None:
    # Only a version that was live once: a failed build is retired too, but never answered a query.
    retired = IndexVersion.objects.filter(state=IndexVersion.State.RETIRED, live_since__isnull=False)
    return retired.order_by("-live_since").first()


def query_index_note(*, query: QueryImage) -> str:
    """One sentence for the query page: which index answered, and what a running reindex changes."""
    answered = query.descriptor_version
    if not answered:
        return ""
    status = index_status()
    live = status.live.version if status.live else ""
    active = status.active
    if answered == live:
        note = f"Searched with the live index {answered}."
        if active and active.job.descriptor_version and active.job.descriptor_version != live:
            note += (
                f" A reindex to {active.job.descriptor_version} is {active.percent} % done;"
                " it takes over once it holds every reference."
            )
        return note
    if active and answered == active.job.descriptor_version:
        reason = status.live.load_error if status.live and status.live.load_error else "its model is not loadable"
        return (
            f"Searched with {answered}, the index being built ({active.percent} % done), because the live index "
            f"{live} cannot be used by the workers: {reason}. Copies among references not reindexed yet are missed;"
            " search again when the reindex is done."
        )
    return f"Searched with {answered}; the live index is now {live or 'not set'}. Search again to use it."


def reindex_job_list(*, user: AbstractBaseUser | None) -> QuerySet[ReindexJob]:
    """Newest first. Reindex jobs re-embed every collection; anyone signed in may follow them, only staff
    start them (`user` None: the operator's command line)."""
    return ReindexJob.objects.all()


def reindex_job_get(*, user: AbstractBaseUser, job_id: int) -> ReindexJob:
    return get_object_or_404(reindex_job_list(user=user), id=job_id)


@dataclass(frozen=True)
class ModelsInUse:
    """The descriptor version searches use now, and every model a search runs with (copydetect/licences.py):
    what a team's admin must know before using the results commercially (docs/models.md)."""

    descriptor_version: str
    licences: list[ModelLicence]


def models_in_use() -> ModelsInUse:
    live = index_version_live_get()
    isc = settings.ISC
    # Before the first reference is indexed there is no live version yet: the configured model will make it.
    return ModelsInUse(
        descriptor_version=live.version if live is not None else isc.descriptor,
        licences=licences_in_use(
            descriptor_version=live.version if live is not None else "",
            descriptor_name=live.descriptor_name if live is not None else isc.descriptor,
            verifier=isc.verifier,
            learned_matcher=isc.learned_matcher,
        ),
    )
