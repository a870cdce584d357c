"""A query does not wait behind bulk work: the workers `make run` starts, with 40 references queued first."""

import time

import pytest
from django.db import connection

from search.collection import services as collection_services
from search.collection.models import ImageStatus, ReferenceImage
from search.core.uploads import Payload
from search.queries import services as queries_services
from search.queries.models import QueryImage
from tests.factories import CollectionFactory
from tests.images import edited_copy, encode, scene
from tests.services import CeleryWorker, RedisServer, broker_switch, database_url, milvus_wipe, run_stack_module
from tests.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

REFERENCES = 40


def _queues(command: list[str]) -> str:
    return command[command.index("-Q") + 1]


@pytest.fixture
def make_run_workers(tmp_path, milvus_uri, settings):
    """Redis, and the workers scripts/run_stack.py starts, with its queues, each a real Celery process."""
    from isc_site.celery import app

    redis_server = RedisServer(tmp_path).start()
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ISC = settings.ISC.replace(milvus_uri=milvus_uri, features_dir=str(tmp_path / "features"))
    previous_broker = app.conf.broker_url
    broker_switch(app, redis_server.url)
    env = {
        "CELERY_BROKER_URL": redis_server.url,
        "MILVUS_URI": milvus_uri,
        "ISC_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "ISC_FEATURES_DIR": settings.ISC.features_dir,
        "DATABASE_URL": database_url(connection.settings_dict),
    }
    workers = []
    try:
        for name, command in run_stack_module().worker_commands(concurrency="1"):
            worker = CeleryWorker(env=env, log_path=tmp_path / f"{name}.log", queues=_queues(command))
            workers.append(worker)
            worker.start(app, timeout=180)
        yield workers
    finally:
        for worker in workers:
            worker.stop()
        broker_switch(app, previous_broker)
        redis_server.stop()
        milvus_wipe(milvus_uri)


def test_a_query_uploaded_behind_40_queued_references_is_answered_before_they_are_indexed(make_run_workers):
    assert [_queues(c) for _, c in run_stack_module().worker_commands(concurrency="1")][0] == "queries"
    collection = CollectionFactory()
    collection_services.reference_images_add(
        actor=collection.created_by,
        collection=collection,
        items=[Payload(f"ref{seed}.jpg", encode(scene(seed))) for seed in range(1200, 1200 + REFERENCES)],
    )
    first = ReferenceImage.objects.get(original_name="ref1200.jpg")
    wait_until(
        lambda: ReferenceImage.objects.get(id=first.id).status == ImageStatus.INDEXED,
        timeout=120,
        what="indexing to start",
        every=0.1,
    )
    started = time.monotonic()
    query, _ = queries_services.query_image_add(
        actor=collection.created_by, collection=collection, payload=Payload("q.jpg", encode(edited_copy(scene(1200))))
    )
    wait_until(
        lambda: QueryImage.objects.get(id=query.id).status in (ImageStatus.INDEXED, ImageStatus.FAILED),
        timeout=120,
        what="the query",
        every=0.1,
    )
    seconds = time.monotonic() - started
    waiting = ReferenceImage.objects.exclude(status=ImageStatus.INDEXED).count()
    print(f"\nquery answered in {seconds:.1f} s with {waiting} of {REFERENCES} references still to index")
    query.refresh_from_db()
    assert query.status == ImageStatus.INDEXED, query.error
    # Behind the bulk work it would have come after every one of them.
    assert waiting >= REFERENCES // 2, "the query waited behind the queued references"
    assert query.matches.order_by("rank").first().reference.original_name == "ref1200.jpg"
