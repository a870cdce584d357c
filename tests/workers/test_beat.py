"""Every beat entry names a task the workers register, on a queue a worker consumes."""

from django.conf import settings

from isc_site.celery import app


def test_every_beat_entry_is_a_registered_task_on_the_default_queue():
    app.loader.import_default_modules()
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert entry["task"] in app.tasks, f"beat entry {name} names an unknown task {entry['task']}"
        assert entry.get("options", {}).get("queue") == "default", f"beat entry {name} must go to the default queue"
        assert entry["schedule"] > 0


def test_the_sweepers_of_every_long_job_are_scheduled():
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {
        "workers.tasks.rows_sweep",
        "workers.tasks.index_reconcile",
        "workers.tasks.reindex_resume_stale",
        "workers.tasks.ingest_resume_stale",
        "workers.tasks.references_purge_expired",
    } <= tasks
