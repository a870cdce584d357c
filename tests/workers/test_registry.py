"""Task names: one list in the site, each name the path of its module and function, and the previous
release's names still run the same tasks (a message queued before an upgrade, or sent by a site not yet
upgraded)."""

import importlib
import inspect

import pytest
from django.db import connection

from isc_site.celery import app
from search.collection.models import ImageStatus, ReferenceImage
from search.core import dispatch
from tests.factories import CollectionFactory
from tests.images import encode, scene
from tests.services import CeleryWorker, RedisServer, broker_switch, database_url, milvus_wipe
from tests.waiting import wait_until

# The names the release before this one registered (git history: workers/tasks.py, reindex.py, ingest.py,
# webhooks.py of that release).
PREVIOUS_RELEASE_NAMES = {
    "workers.tasks.reference_index",
    "workers.tasks.reference_vectors_purge",
    "workers.tasks.references_purge",
    "workers.tasks.references_purge_expired",
    "workers.tasks.query_search",
    "workers.tasks.rows_sweep",
    "workers.tasks.index_reconcile",
    "workers.tasks.reindex_run",
    "workers.tasks.reindex_resume_stale",
    "workers.tasks.ingest_chunk",
    "workers.tasks.ingest_resume_stale",
    "workers.tasks.webhook_deliver",
    "workers.tasks.webhook_deliveries_sweep",
}


def test_every_task_name_is_its_module_and_function_and_is_registered():
    app.loader.import_default_modules()
    for name in dispatch.TASK_NAMES:
        module, function = name.rsplit(".", 1)
        assert getattr(importlib.import_module(module), function).name == name
        assert app.tasks[name].name == name


def test_the_workers_register_no_task_the_site_does_not_list():
    app.loader.import_default_modules()
    registered = {name for name in app.tasks if name.startswith("workers.")}
    assert registered == set(dispatch.TASK_NAMES) | set(dispatch.LEGACY_NAMES)


def test_each_name_of_the_previous_release_runs_the_same_function_as_today():
    app.loader.import_default_modules()
    assert set(dispatch.LEGACY_NAMES) == PREVIOUS_RELEASE_NAMES
    for legacy, current in dispatch.LEGACY_NAMES.items():
        assert inspect.unwrap(app.tasks[legacy].run).__code__ is inspect.unwrap(app.tasks[current].run).__code__
        assert app.tasks[legacy].acks_late == app.tasks[current].acks_late
        assert app.tasks[legacy].time_limit == app.tasks[current].time_limit
        assert app.tasks[legacy].max_retries == app.tasks[current].max_retries


def test_legacy_mode_sends_only_names_the_previous_release_knows(settings):
    settings.ISC = settings.ISC.replace(task_names="legacy")
    older = [name for name in dispatch.TASK_NAMES if name not in dispatch.NEW_TASK_NAMES]
    assert {dispatch.wire_name(name) for name in older} == PREVIOUS_RELEASE_NAMES
    assert [dispatch.wire_name(name) for name in dispatch.NEW_TASK_NAMES] == list(dispatch.NEW_TASK_NAMES)
    settings.ISC = settings.ISC.replace(task_names="current")
    assert {dispatch.wire_name(name) for name in dispatch.TASK_NAMES} == set(dispatch.TASK_NAMES)


def test_queries_have_their_own_queue_and_references_the_gpu_queue_under_either_name(settings):
    for name in (dispatch.QUERY_SEARCH, *dispatch.legacy_names_of(dispatch.QUERY_SEARCH)):
        assert settings.CELERY_TASK_ROUTES[name] == {"queue": "queries"}
    for name in (dispatch.REFERENCE_INDEX, *dispatch.legacy_names_of(dispatch.REFERENCE_INDEX)):
        assert settings.CELERY_TASK_ROUTES[name] == {"queue": "gpu"}
    assert dispatch.INGEST_CHUNK not in settings.CELERY_TASK_ROUTES, "bulk work stays on the default queue"


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_live_worker_indexes_a_reference_sent_under_the_previous_release_name(tmp_path, milvus_uri, settings):
    redis_server = RedisServer(tmp_path).start()
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ISC = settings.ISC.replace(milvus_uri=milvus_uri, features_dir=str(tmp_path / "features"))
    previous_broker = app.conf.broker_url
    broker_switch(app, redis_server.url)
    collection = CollectionFactory()
    data = encode(scene(7))
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    stored = default_storage.save("references/legacy.jpg", ContentFile(data))
    reference = ReferenceImage.objects.create(
        collection=collection, file=stored, original_name="legacy.jpg", sha256="a" * 64, width=640, height=480
    )
    worker = CeleryWorker(
        env={
            "CELERY_BROKER_URL": redis_server.url,
            "MILVUS_URI": milvus_uri,
            "ISC_MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "ISC_FEATURES_DIR": str(tmp_path / "features"),
            "DATABASE_URL": database_url(connection.settings_dict),
            "ISC_WARM_UP": "0",
        },
        log_path=tmp_path / "worker.log",
    ).start(app)
    try:
        # What a site of the previous release puts on the queue: the old name, the row id.
        app.send_task("workers.tasks.reference_index", args=(reference.id,), queue="gpu")
        try:
            wait_until(
                lambda: ReferenceImage.objects.get(id=reference.id).status == ImageStatus.INDEXED,
                timeout=240,
                what="the reference indexed by the worker",
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{worker.log_path.read_text()[-3000:]}") from None
    finally:
        worker.stop()
        broker_switch(app, previous_broker)
        redis_server.stop()
        milvus_wipe(milvus_uri)
