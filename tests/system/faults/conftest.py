"""A real stack for fault tests: a private Redis, a private Milvus Lite, real Celery worker processes.

Every test gets its own Redis (it may be stopped and restarted) and a fresh collection in the
package's Milvus Lite server (which one test restarts). The sweeper runs in the test process, as
the beat job would run it, with deadlines of seconds instead of minutes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.db import connection, transaction

from copydetect.milvus_lite import MilvusLiteServer
from copydetect.vector_store import VectorStore
from search.collection import services
from search.collection.models import Collection, ImageStatus, ReferenceImage
from search.core.uploads import Payload
from tests.images import encode, scene
from tests.services import CeleryWorker, PrivateRedis, broker_switch, database_url, milvus_wipe

# Short deadlines, so that a test waits seconds for what production waits minutes for.
FAST_LIFECYCLE = {
    "queue_grace_seconds": 1,
    "stale_after_seconds": 3,
    "stale_pending_after_seconds": 3,
    "max_attempts": 3,
    "warm_up": False,
}


@pytest.fixture(scope="package")
def fault_milvus(tmp_path_factory):
    server = MilvusLiteServer(tmp_path_factory.mktemp("fault-milvus")).start()
    yield server
    server.stop()


@dataclass
class FaultStack:
    tmp_path: Path
    milvus: MilvusLiteServer
    redis: PrivateRedis
    settings: object
    app: object
    workers: list[CeleryWorker] = field(default_factory=list)

    def worker_env(self, **extra: str) -> dict[str, str]:
        return {
            "CELERY_BROKER_URL": self.redis.url,
            "MILVUS_URI": self.milvus.uri,
            "ISC_MEDIA_ROOT": str(self.settings.MEDIA_ROOT),
            "ISC_FEATURES_DIR": self.settings.ISC.features_dir,
            # Ingest item lists are named by job id, and ids restart in every test database.
            "ISC_INGEST_DIR": str(self.tmp_path / "ingest"),
            "DATABASE_URL": database_url(connection.settings_dict),
            "ISC_WARM_UP": "0",
            "ISC_MAX_ATTEMPTS": str(FAST_LIFECYCLE["max_attempts"]),
            # Retries every second or two, so an outage of a few seconds costs a few seconds.
            "ISC_RETRY_BACKOFF_MAX": "2",
            **extra,
        }

    def worker_start(self, **extra: str) -> CeleryWorker:
        worker = CeleryWorker(
            env=self.worker_env(**extra),
            log_path=self.tmp_path / "worker.log",
            include=("tests.system.faults.worker_faults",),
        )
        self.workers.append(worker)
        return worker.start(self.app, timeout=180)

    def sweep(self) -> dict[str, int]:
        from workers.tasks import maintenance as tasks

        return tasks.rows_sweep()

    def references_add(self, collection: Collection, seeds, prefix: str = "ref") -> list[ReferenceImage]:
        items = [Payload(f"{prefix}{seed}.jpg", encode(scene(seed))) for seed in seeds]
        with transaction.atomic():  # queued on commit, as a web request does
            return services.reference_images_add(
                actor=collection.created_by, collection=collection, items=items
            ).created

    def status_counts(self, model=ReferenceImage) -> dict[str, int]:
        counts = dict.fromkeys(ImageStatus.values, 0)
        for status in model.objects.values_list("status", flat=True):
            counts[status] += 1
        return counts

    def milvus_ids(self) -> list[int]:
        from workers import runtime

        store = VectorStore(uri=self.milvus.uri)
        try:
            return store.vector_ids(model_version=runtime.descriptor_get().version)
        finally:
            store.close()

    def log_tail(self, chars: int = 4000) -> str:
        path = self.tmp_path / "worker.log"
        return path.read_text()[-chars:] if path.exists() else ""


@pytest.fixture
def stack(tmp_path, settings, fault_milvus):
    from isc_site.celery import app
    from workers import runtime

    redis_server = PrivateRedis(tmp_path).start()
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ISC = settings.ISC.replace(
        **FAST_LIFECYCLE, milvus_uri=fault_milvus.uri, features_dir=str(tmp_path / "features")
    )
    runtime.vector_store_get.cache_clear()
    previous_broker = app.conf.broker_url
    broker_switch(app, redis_server.url)
    fault_stack = FaultStack(tmp_path=tmp_path, milvus=fault_milvus, redis=redis_server, settings=settings, app=app)
    yield fault_stack
    for worker in fault_stack.workers:
        worker.stop()
    broker_switch(app, previous_broker)
    fault_stack.redis.stop()  # a test may have replaced it
    if fault_milvus.process is None or fault_milvus.process.poll() is not None:
        fault_milvus.start()
    milvus_wipe(fault_milvus.uri)
    runtime.vector_store_get.cache_clear()


def upload(name: str, data: bytes) -> io.BytesIO:
    handle = io.BytesIO(data)
    handle.name = name
    return handle
