"""Reindex and live-version records, database only (no model, no Milvus): the bookkeeping of a job."""

import dataclasses
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from search.collection.models import ReferenceImage
from search.core import dispatch
from search.queries.models import QueryImage
from search.reindex import selectors as reindex_selectors
from search.reindex import services as reindex_services
from search.reindex.models import IndexVersion, ReindexJob
from tests.factories import CollectionFactory, UserFactory

pytestmark = pytest.mark.django_db

OLD, NEW = "sscd_distilled_aaaa_sq288bicubic", "sscd_bbbb_sq288bicubic"


def _references(n: int) -> list[ReferenceImage]:
    collection = CollectionFactory()
    return [
        ReferenceImage.objects.create(
            collection=collection, file=f"r{i}.jpg", original_name=f"r{i}.jpg", sha256=f"{i:064d}", width=1, height=1
        )
        for i in range(n)
    ]


def _running_job(**fields) -> ReindexJob:
    now = timezone.now()
    defaults = dict(state="running", descriptor_version=NEW, descriptor_name="sscd", source_version=OLD)
    return ReindexJob.objects.create(**{**defaults, "started_at": now, "heartbeat_at": now, **fields})


def test_the_first_version_becomes_live_once_and_only_one_can_be_live():
    row, created = reindex_services.index_version_live_ensure(version=OLD, descriptor_name="sscd_distilled")
    assert created and row.state == "live"
    again, created = reindex_services.index_version_live_ensure(version=NEW, descriptor_name="sscd")
    assert not created and again.version == OLD, "a live version is never replaced except by a reindex"
    with pytest.raises(IntegrityError), transaction.atomic():
        IndexVersion.objects.create(version=NEW, descriptor_name="sscd", state="live")


def test_one_job_at_a_time():
    _references(3)
    job, created = reindex_services.reindex_job_start(enqueue=False)
    assert created and (job.state, job.total, job.batch_size) == ("queued", 3, settings.ISC.reindex_batch_size)
    same, created = reindex_services.reindex_job_start(enqueue=False)
    assert not created and same.id == job.id


def test_a_batch_moves_the_cursor_once_and_the_total_follows_uploads():
    references = _references(5)
    job = _running_job(total=5, batch_size=2)
    assert reindex_services.reindex_batch_record(job_id=job.id, cursor_from=0, cursor_to=references[1].id, processed=2)
    assert not reindex_services.reindex_batch_record(
        job_id=job.id, cursor_from=0, cursor_to=references[1].id, processed=2
    )
    _references(1)  # uploaded meanwhile
    assert reindex_services.reindex_batch_record(
        job_id=job.id, cursor_from=references[1].id, cursor_to=references[3].id, processed=2
    )
    job.refresh_from_db()
    assert (job.cursor, job.done, job.total) == (references[3].id, 4, 6)


def test_progress_gives_speed_and_time_left_since_the_job_last_started():
    job = _running_job(total=100, done=30, rate_since=timezone.now() - timedelta(seconds=10), rate_since_done=10)
    progress = reindex_selectors.reindex_progress(job=job)
    assert progress.percent == 30 and not progress.finished
    assert 1.9 < progress.images_per_second <= 2.0  # 20 images in a little over 10 s
    assert progress.eta_seconds == pytest.approx(70 / progress.images_per_second)
    assert progress.eta_text == f"{round(progress.eta_seconds)} s"
    slow = reindex_selectors.reindex_progress(
        job=_running_job(total=100_000, rate_since=timezone.now() - timedelta(seconds=10))
    )
    assert slow.eta_seconds is None and slow.eta_text == ""  # nothing done since it started: no speed yet
    long = dataclasses.replace(progress, eta_seconds=7_500)
    assert (long.eta_text, dataclasses.replace(progress, eta_seconds=400).eta_text) == ("2 h 05 min", "7 min")
    queued = reindex_selectors.reindex_progress(job=ReindexJob.objects.create(total=0))
    assert (queued.percent, queued.images_per_second, queued.eta_seconds) == (100, None, None)


def test_only_silent_jobs_are_resumed():
    _running_job()  # spoke just now
    ReindexJob.objects.create(state="done", heartbeat_at=timezone.now() - timedelta(days=1))
    assert reindex_services.reindex_jobs_resume_stale(older_than=timedelta(minutes=5)) == 0


def test_a_failed_job_says_why_and_its_half_built_version_is_not_building_any_more():
    IndexVersion.objects.create(version=NEW, descriptor_name="sscd", state="building")
    job = _running_job()
    reindex_services.reindex_job_fail(job_id=job.id, error="MilvusException: gone")
    job.refresh_from_db()
    assert (job.state, job.error) == ("failed", "MilvusException: gone") and job.finished_at
    assert IndexVersion.objects.get(version=NEW).state == "retired"
    assert reindex_selectors.index_status().rollback_to is None, "a version that never was live is no rollback target"


def test_switching_versions_retires_the_old_one_and_rollback_brings_it_back():
    IndexVersion.objects.create(version=OLD, descriptor_name="sscd_distilled", state="live", live_since=timezone.now())
    with pytest.raises(ValueError, match="nothing to roll back to"):
        reindex_selectors.index_version_rollback_plan()
    job = _running_job()
    assert reindex_services.reindex_version_switch(job_id=job.id) == OLD
    reindex_services.reindex_job_finish(job_id=job.id)
    assert reindex_selectors.index_version_live_get().version == NEW
    assert IndexVersion.objects.get(version=OLD).state == "retired"
    plan = reindex_selectors.index_version_rollback_plan()
    assert (plan.previous, plan.restored) == (NEW, OLD)
    reindex_services.index_version_rollback(plan=plan)
    assert reindex_selectors.index_version_live_get().version == OLD
    _running_job()
    with pytest.raises(ValueError, match="A reindex is running"):
        reindex_selectors.index_version_rollback_plan()


def test_the_query_page_says_which_index_answered():
    IndexVersion.objects.create(version=OLD, descriptor_name="sscd_distilled", state="live", live_since=timezone.now())
    _running_job(total=10, done=4)
    query = QueryImage(descriptor_version=OLD)
    assert reindex_selectors.query_index_note(query=query) == (
        f"Searched with the live index {OLD}. A reindex to {NEW} is 40 % done; it takes over once it holds every"
        " reference."
    )
    IndexVersion.objects.filter(version=OLD).update(load_error="its files changed")
    note = reindex_selectors.query_index_note(query=QueryImage(descriptor_version=NEW))
    assert f"Searched with {NEW}, the index being built (40 % done)" in note and "its files changed" in note
    assert "Search again" in reindex_selectors.query_index_note(query=QueryImage(descriptor_version="sscd_older"))
    assert reindex_selectors.query_index_note(query=QueryImage()) == ""


def test_the_reindex_page_is_for_staff(client):
    anonymous = client.get(reverse("search:reindex"))
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous.url
    client.force_login(UserFactory())
    for name in ("search:reindex", "search:reindex_progress"):
        response = client.get(reverse(name))
        assert response.status_code == 403, name
        assert "Reindexing is for site staff." in response.content.decode()
        assert '<header class="top">' in response.content.decode(), "the site's own 403 page"
    assert client.post(reverse("search:reindex")).status_code == 403


def test_the_page_says_when_the_workers_run_another_model_than_the_live_index(client):
    client.force_login(UserFactory(is_staff=True))
    IndexVersion.objects.create(version=OLD, descriptor_name="sscd_distilled", state="live", live_since=timezone.now())
    page = client.get(reverse("search:reindex")).content.decode()
    assert "was built with <code>sscd_distilled</code>" in page and settings.ISC.descriptor == "sscd"


def test_starting_from_the_page_twice_gives_one_job(client):
    client.force_login(UserFactory(is_staff=True))
    _references(2)
    first = client.post(reverse("search:reindex"), follow=True)
    assert "Reindex queued" in first.content.decode()
    second = client.post(reverse("search:reindex"), follow=True)
    assert "already under way" in second.content.decode()
    assert ReindexJob.objects.count() == 1
    assert 'data-live-url="/reindex/progress/"' in second.content.decode()


def test_the_sweeper_schedule_resumes_stale_reindex_jobs():
    from isc_site.celery import app

    app.loader.import_default_modules()
    entry = settings.CELERY_BEAT_SCHEDULE["reindex-resume-stale"]
    assert entry["task"] == dispatch.REINDEX_RESUME_STALE and entry["task"] in app.tasks
    # Each batch is far shorter than the broker's redelivery delay, so a live batch is never handed out twice.
    from workers.tasks.reindex import BATCH_TIME_LIMIT

    assert BATCH_TIME_LIMIT < settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    assert BATCH_TIME_LIMIT < settings.ISC.reindex_stale_seconds
