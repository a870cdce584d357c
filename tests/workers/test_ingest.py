"""The ingest Celery tasks: in process (eager) with the real pool, and once through a live worker."""

from __future__ import annotations

import hashlib
import io
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from search.collection.models import ImageStatus, ReferenceImage
from search.core import dispatch
from search.ingest import services as ingest_services
from search.ingest.models import IngestJob
from search.teams.models import Role
from tests.factories import CollectionFactory, UserFactory, collection_for
from tests.ingest_support import image_bytes, images_folder, zip_bytes
from tests.services import CeleryWorker, RedisServer, database_url, milvus_wipe
from workers import ingest as workers_ingest


@pytest.fixture
def worker_pool(ingest_pool, monkeypatch):
    """Hands the module's pool to the task, as a worker process keeps its own between chunks."""

    monkeypatch.setattr(workers_ingest, "_pool", ingest_pool)
    monkeypatch.setattr(workers_ingest, "pool_get", lambda: ingest_pool)
    return ingest_pool


def _milvus_count(collection_id: int) -> int:
    from workers import runtime

    store, descriptor = runtime.vector_store_get(), runtime.descriptor_get()
    store.collection_flush(model_version=descriptor.version)
    return store.vectors_count(model_version=descriptor.version, collection_id=collection_id)


@pytest.mark.django_db
def test_the_chunk_task_queues_the_next_chunk_until_the_job_is_done(
    ingest_settings, eager_tasks, worker_pool, tmp_path
):
    from workers.tasks.ingest import ingest_chunk

    collection = CollectionFactory()
    images_folder(tmp_path / "f", list(range(100, 110)))  # chunks of 4: 4, 4, 2
    job = ingest_services.ingest_job_create(
        actor=collection.created_by,
        collection=collection,
        source_kind="folder",
        source_path=str(tmp_path / "f"),
        enqueue=False,
    )
    assert ingest_chunk.apply(args=[job.id, 0]).get() == "chunk"
    job.refresh_from_db()
    assert (job.state, job.cursor, job.done, job.created) == (IngestJob.State.DONE, 10, 10, 10)
    assert _milvus_count(collection.id) == 10
    # Each row has its hash signals, computed by the pool beside the descriptor.
    for reference in collection.references.all():
        data = (tmp_path / "f" / reference.original_name).read_bytes()
        assert reference.md5 == hashlib.md5(data).hexdigest() and len(reference.pdq) == 64
        assert reference.pdq_quality is not None
    assert ingest_chunk.apply(args=[job.id, 4]).get() == "skipped", "a late duplicate message does nothing"


@pytest.mark.django_db
def test_the_sweep_task_resumes_a_job_whose_worker_died(ingest_settings, eager_tasks, worker_pool, tmp_path):
    from workers.tasks.ingest import ingest_chunk, ingest_resume_stale

    collection = CollectionFactory()
    images_folder(tmp_path / "f", list(range(120, 126)))
    job = ingest_services.ingest_job_create(
        actor=collection.created_by,
        collection=collection,
        source_kind="folder",
        source_path=str(tmp_path / "f"),
        enqueue=False,
    )
    # The first chunk ran, then the worker was killed before queueing the next one.
    from workers import runtime

    workers_ingest.ingest_chunk_run(
        job_id=job.id, cursor=0, pool=worker_pool, store=runtime.vector_store_get(), descriptor=runtime.descriptor_get()
    )
    IngestJob.objects.filter(id=job.id).update(heartbeat_at=timezone.now() - timedelta(hours=2))
    assert ingest_chunk.name == dispatch.INGEST_CHUNK == "workers.tasks.ingest.ingest_chunk"

    assert ingest_resume_stale.apply().get() == [job.id]
    job.refresh_from_db()
    assert (job.state, job.done, job.created) == (IngestJob.State.DONE, 6, 6)
    assert ReferenceImage.objects.filter(collection=collection, status=ImageStatus.INDEXED).count() == 6
    assert _milvus_count(collection.id) == 6


@pytest.mark.django_db
def test_a_failing_chunk_fails_the_job_with_the_reason(ingest_settings, eager_tasks, worker_pool, monkeypatch):
    from workers.tasks.ingest import ingest_chunk

    collection = CollectionFactory()
    job = IngestJob.objects.create(collection=collection, source_kind="zip", source_path="/nowhere.zip")
    assert ingest_chunk.apply(args=[job.id, 0]).get() == "skipped"
    job.refresh_from_db()
    assert job.state == IngestJob.State.FAILED and job.error == "The file is not a readable zip archive."


# ---------------------------------------------------------------- through a live worker


@pytest.fixture
def live_ingest_worker(tmp_path, milvus_uri, settings):
    from isc_site.celery import app

    redis_server = RedisServer(tmp_path).start()
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ISC = settings.ISC.replace(
        milvus_uri=milvus_uri, features_dir=str(tmp_path / "features"), ingest_dir=str(tmp_path / "ingest")
    )
    previous_broker = app.conf.broker_url
    _broker_switch(app, redis_server.url)
    worker = CeleryWorker(
        env={
            "CELERY_BROKER_URL": redis_server.url,
            "MILVUS_URI": milvus_uri,
            "ISC_MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "ISC_FEATURES_DIR": str(tmp_path / "features"),
            "ISC_INGEST_DIR": str(tmp_path / "ingest"),
            "ISC_INGEST_PROCESSES": "2",
            "ISC_INGEST_CHUNK": "8",
            "ISC_WARM_UP": "0",
            "DATABASE_URL": database_url(connection.settings_dict),
        },
        log_path=tmp_path / "worker.log",
    ).start(app)
    yield worker
    worker.stop()
    _broker_switch(app, previous_broker)
    redis_server.stop()
    from workers import runtime

    runtime.vector_store_get.cache_clear()
    runtime.vector_store_get().close()
    milvus_wipe(settings.ISC.milvus_uri)
    runtime.engines_reset()


def _broker_switch(app, url: str) -> None:
    app.conf.broker_url = url
    app._pool = None
    app.amqp._producer_pool = None


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_zip_uploaded_on_the_site_is_ingested_by_a_live_worker(client, live_ingest_worker):
    from workers import runtime

    runtime.vector_store_get.cache_clear()
    user = UserFactory()
    client.force_login(user)
    collection = collection_for(user, Role.UPLOADER)
    entries = {f"photo{seed}.jpg": image_bytes(seed) for seed in range(200, 220)}
    entries["photo200_again.jpg"] = entries["photo200.jpg"]
    entries["readme.txt"] = b"not an image"
    archive = io.BytesIO(zip_bytes(entries))
    archive.name = "corpus.zip"
    response = client.post(
        reverse("search:references_upload", args=[collection.id]), {"source": "zip", "archive": archive}
    )
    assert response.status_code == 302

    deadline = time.monotonic() + 180
    job = IngestJob.objects.get(collection=collection)
    while job.is_active and time.monotonic() < deadline:
        time.sleep(0.5)
        job.refresh_from_db()
    assert job.state == IngestJob.State.DONE, (job.state, job.error, live_ingest_worker.log_path.read_text()[-3000:])
    assert (job.total, job.created, job.skipped_duplicates, job.failed) == (22, 20, 1, 1)
    assert ReferenceImage.objects.filter(collection=collection, status=ImageStatus.INDEXED).count() == 20
    assert _milvus_count(collection.id) == 20
    panel = client.get(reverse("search:ingest_jobs_panel", args=[collection.id])).content.decode()
    assert "22 of 22 files" in panel and "1 duplicate skipped" in panel
