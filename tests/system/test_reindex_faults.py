"""kill -9 during a reindex, with real processes: Redis, Celery workers, Milvus Lite, the shipped models.

The workers first run the distilled SSCD; the reindex moves the corpus to full SSCD. A worker is killed
mid-job; its unacknowledged batch would wait for Redis's visibility timeout (1 h), so the stale-job
resume (what the beat sweeper calls) queues it again, and the job completes.
"""

import signal
import time
from datetime import timedelta

import psutil
import pytest
from django.db import connection

from copydetect.descriptors import descriptor_build
from copydetect.vector_store import VectorStore
from search.collection import services as collection_services
from search.collection.models import ImageStatus, ReferenceImage
from search.core.uploads import Payload
from search.queries import services as queries_services
from search.queries.models import QueryImage
from search.reindex import selectors as reindex_selectors
from search.reindex import services as reindex_services
from search.reindex.models import ReindexJob
from tests.factories import CollectionFactory
from tests.images import edited_copy, encode, scene
from tests.services import CeleryWorker, RedisServer, broker_switch, database_url, milvus_wipe
from tests.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

OLD, NEW = "sscd_distilled", "sscd"
REFERENCES = 40


@pytest.fixture
def stack(tmp_path, milvus_uri, settings):
    """Redis + a way to start workers on either model; everything stopped and dropped afterwards."""
    from isc_site.celery import app

    redis_server = RedisServer(tmp_path).start()
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ISC = settings.ISC.replace(milvus_uri=milvus_uri, features_dir=str(tmp_path / "features"))
    previous_broker = app.conf.broker_url
    broker_switch(app, redis_server.url)
    workers: list[CeleryWorker] = []

    def worker_start(descriptor: str) -> CeleryWorker:
        worker = CeleryWorker(
            env={
                "CELERY_BROKER_URL": redis_server.url,
                "MILVUS_URI": milvus_uri,
                "ISC_MEDIA_ROOT": str(settings.MEDIA_ROOT),
                "ISC_FEATURES_DIR": settings.ISC.features_dir,
                "ISC_DESCRIPTOR": descriptor,
                "ISC_VERIFY_TOP_K": "3",
                "DATABASE_URL": database_url(connection.settings_dict),
            },
            log_path=tmp_path / f"worker-{len(workers)}.log",
        )
        workers.append(worker)
        return worker.start(app)

    yield worker_start
    for worker in workers:
        worker.stop()
    broker_switch(app, previous_broker)
    redis_server.stop()
    milvus_wipe(milvus_uri)


def _kill_9(worker: CeleryWorker) -> None:
    """SIGKILL the worker and its pool child: no chance to ack, requeue or clean up."""
    main = psutil.Process(worker.process.pid)
    for process in [*main.children(recursive=True), main]:
        process.send_signal(signal.SIGKILL)
    worker.process.wait(timeout=10)


def _search(collection, seed: int, name: str) -> QueryImage:
    query, _ = queries_services.query_image_add(
        actor=collection.created_by, collection=collection, payload=Payload(name, encode(edited_copy(scene(seed))))
    )
    wait_until(
        lambda: QueryImage.objects.get(id=query.id).status in (ImageStatus.INDEXED, ImageStatus.FAILED),
        timeout=60,
        what=f"the query {name}",
        every=0.1,
    )
    query.refresh_from_db()
    assert query.status == ImageStatus.INDEXED, query.error
    return query


def _best(query: QueryImage) -> str:
    return query.matches.order_by("rank").first().reference.original_name


def test_a_reindex_killed_with_sigkill_resumes_completes_and_searches_answer_throughout(stack, milvus_uri):
    old_version, new_version = (descriptor_build(name=name).version for name in (OLD, NEW))
    collection = CollectionFactory()
    first = stack(OLD)
    seeds = range(900, 900 + REFERENCES)
    collection_services.reference_images_add(
        actor=collection.created_by,
        collection=collection,
        items=[Payload(f"ref{seed}.jpg", encode(scene(seed))) for seed in seeds],
    )
    wait_until(
        lambda: ReferenceImage.objects.filter(status=ImageStatus.INDEXED).count() == REFERENCES,
        timeout=120,
        what="the references to be indexed",
        every=0.1,
    )
    before = _search(collection, 905, "before.jpg")
    assert (before.descriptor_version, _best(before)) == (old_version, "ref905.jpg")
    first.stop()

    second = stack(NEW)  # the model changed: the workers now run full SSCD
    job, _ = reindex_services.reindex_job_start(batch_size=2)
    wait_until(lambda: ReindexJob.objects.get(id=job.id).done >= 8, timeout=60, what="a few batches", every=0.1)
    time.sleep(0.25)  # into the next batch (each takes about 0.5 s here), so the kill lands mid-batch
    _kill_9(second)
    job.refresh_from_db()
    assert job.state == ReindexJob.State.RUNNING and job.done < REFERENCES, "killed mid-job"
    killed_at = job.done
    print(f"\nkilled at {killed_at}/{job.total}")

    third = stack(NEW)
    during = _search(collection, 917, "during.jpg")
    assert (during.descriptor_version, _best(during)) == (old_version, "ref917.jpg"), "the old index answers"
    job.refresh_from_db()
    # The batch the killed worker held waits in Redis's unacked set for the 1 h visibility timeout.
    # (Only if the kill fell between queuing the next batch and fetching it does the chain go on alone.)
    stalled = job.state == ReindexJob.State.RUNNING and job.done == killed_at
    print(f"after the restart the job {'stalled' if stalled else 'went on by itself'} at {job.done}")
    if stalled:
        assert reindex_services.reindex_jobs_resume_stale(older_than=timedelta(0)) == 1
    wait_until(
        lambda: ReindexJob.objects.get(id=job.id).state != ReindexJob.State.RUNNING,
        timeout=90,
        what="the resumed job",
        every=0.1,
    )
    job.refresh_from_db()
    assert (job.state, job.done, job.total) == ("done", REFERENCES, REFERENCES), job.error
    # The restarted worker also re-queues, at its start, the batch its dead predecessor held (issue 17, point 3):
    # that resume leaves its stall notice on the job, so every resume is accounted for.
    assert job.resumes == int(stalled) + (1 if job.stall_notice else 0), job.stall_notice
    progress = reindex_selectors.reindex_progress(job=job)
    print(f"reindex: {job.done} references, {progress.images_per_second:.1f} images/s overall (incl. the stall)")

    store = VectorStore(uri=milvus_uri)
    ids = list(ReferenceImage.objects.values_list("id", flat=True))
    assert store.vectors_present(model_version=new_version, ids=ids) == set(ids)
    assert store.vectors_count(model_version=new_version) == REFERENCES, "each reference exactly once"
    assert not store.collection_exists(model_version=old_version)
    assert reindex_selectors.index_version_live_get().version == new_version

    after = _search(collection, 931, "after.jpg")
    assert (after.descriptor_version, _best(after)) == (new_version, "ref931.jpg")
    third.stop()
