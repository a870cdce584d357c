"""Every beat entry names a task the workers register, on a queue a worker consumes."""

from django.conf import settings

from isc_site.celery import app
from search.core import dispatch


def test_every_beat_entry_is_a_registered_task_on_the_default_queue():
    app.loader.import_default_modules()
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert entry["task"] in app.tasks, f"beat entry {name} names an unknown task {entry['task']}"
        assert entry.get("options", {}).get("queue") == "default", f"beat entry {name} must go to the default queue"
        assert entry["schedule"] > 0


def test_the_sweepers_of_every_long_job_are_scheduled():
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {
        dispatch.ROWS_SWEEP,
        dispatch.INDEX_RECONCILE,
        dispatch.REINDEX_RESUME_STALE,
        dispatch.INGEST_RESUME_STALE,
        dispatch.REFERENCES_PURGE_EXPIRED,
        dispatch.WEBHOOK_DELIVERIES_SWEEP,
    } <= tasks
