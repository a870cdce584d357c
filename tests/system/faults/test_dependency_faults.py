"""Dependencies that go away: Redis restarted (and down at upload time), Milvus Lite restarted."""

import time

import pytest
from django.test import Client
from django.urls import reverse

from search.collection.models import ImageStatus, ReferenceImage
from search.queries.models import QueryImage
from tests.factories import CollectionFactory, UserFactory, collection_for
from tests.images import edited_copy, encode, scene
from tests.system.faults.conftest import upload
from tests.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _staff_health():
    """`/health` with its details, which only site staff see."""
    staff = Client()
    staff.force_login(UserFactory(is_staff=True))
    return staff.get(reverse("health"))


def test_restarting_redis_while_references_are_uploaded_loses_nothing(stack):
    started = time.monotonic()
    # The long production deadline for pending rows: what brings back the messages the restart lost is
    # the sweeper noticing that Redis restarted after those rows were queued.
    stack.settings.ISC = stack.settings.ISC.replace(stale_pending_after_seconds=3600)
    stack.worker_start()
    collection = CollectionFactory()
    stack.references_add(collection, range(3000, 3010))
    wait_until(
        lambda: ReferenceImage.objects.filter(status=ImageStatus.INDEXED).count() >= 2,
        timeout=180,
        what="indexing to start",
        every=0.1,
    )
    stack.redis.stop()  # without persistence: every queued message is gone
    upload_started = time.monotonic()
    during = stack.references_add(collection, range(3010, 3020))  # the broker is down: must not raise
    upload_seconds = time.monotonic() - upload_started
    assert len(during) == 10
    assert all(ReferenceImage.objects.get(id=r.id).queued_at is None for r in during)
    stack.redis.start()
    stack.references_add(collection, range(3020, 3025))

    def all_indexed():
        counts = stack.status_counts()
        assert counts[ImageStatus.FAILED] == 0
        return counts[ImageStatus.INDEXED] == 25

    wait_until(all_indexed, timeout=240, what="all 25 references indexed", also=stack.sweep, every=1)
    ids = stack.milvus_ids()
    assert len(ids) == len(set(ids)) == 25
    print(
        f"\nRedis restart test: {time.monotonic() - started:.1f} s; "
        f"10 uploads with the broker down took {upload_seconds:.2f} s"
    )


def test_an_upload_while_the_broker_is_down_is_queued_by_the_sweeper_once_it_is_back(stack, client):
    started = time.monotonic()
    stack.worker_start()
    user = UserFactory()
    client.force_login(user)
    collection = collection_for(user)
    stack.redis.stop()
    files = [upload(f"down{seed}.jpg", encode(scene(seed))) for seed in (3100, 3101, 3102)]
    response = client.post(
        reverse("search:references_upload", args=[collection.id]), {"source": "files", "files": files}, follow=True
    )
    assert response.status_code == 200
    assert "Upload: 3 added." in [str(m) for m in response.context["messages"]]
    rows = list(ReferenceImage.objects.filter(collection=collection))
    assert [(r.status, r.queued_at) for r in rows] == [(ImageStatus.PENDING, None)] * 3

    stack.sweep()  # still down: nothing happens, nothing breaks
    assert ReferenceImage.objects.filter(collection=collection, queued_at__isnull=False).count() == 0

    stack.redis.start()
    wait_until(
        lambda: ReferenceImage.objects.filter(collection=collection, status=ImageStatus.INDEXED).count() == 3,
        timeout=180,
        what="the sweeper to queue the rows and the worker to index them",
        also=stack.sweep,
        every=1,
    )
    print(f"\nbroker-down upload test: {time.monotonic() - started:.1f} s")


def test_restarting_milvus_shows_a_retrying_state_then_recovers_without_losing_anything(stack, client):
    started = time.monotonic()
    stack.worker_start()
    user = UserFactory()
    client.force_login(user)
    collection = collection_for(user)
    stack.references_add(collection, range(4000, 4006))
    wait_until(
        lambda: ReferenceImage.objects.filter(status=ImageStatus.INDEXED).count() == 6,
        timeout=180,
        what="the references to be indexed",
    )

    stack.milvus.stop()
    client.post(
        reverse("search:query_upload", args=[collection.id]),
        {"image": upload("copy.jpg", encode(edited_copy(scene(4002))))},
    )
    query = QueryImage.objects.get(original_name="copy.jpg")
    late = stack.references_add(collection, [4006])

    def retrying():
        query.refresh_from_db()
        assert query.status != ImageStatus.FAILED, query.error
        return query.status == ImageStatus.PENDING and "unavailable" in query.notice

    wait_until(retrying, timeout=120, what="the query to show the retrying state")
    page = client.get(reverse("search:query_results", args=[query.id])).content.decode()
    assert "Search backend unavailable, retrying" in page
    assert "MilvusException" not in page and "The search failed" not in page
    stack.settings.CELERY_BROKER_URL = stack.redis.url
    health = _staff_health()
    assert health.status_code == 503 and health.json()["down"] == ["milvus"]
    assert health.json()["checks"]["workers"]["ok"], "the worker still answers pings"

    stack.milvus.start()  # same port, same data directory
    restarted = time.monotonic()
    wait_until(
        lambda: QueryImage.objects.get(id=query.id).status == ImageStatus.INDEXED,
        timeout=120,
        what="the query to finish after Milvus came back",
    )
    recovered_after = time.monotonic() - restarted
    wait_until(
        lambda: ReferenceImage.objects.get(id=late[0].id).status == ImageStatus.INDEXED,
        timeout=120,
        what="the reference uploaded during the outage",
        also=stack.sweep,
    )
    query.refresh_from_db()
    best = query.matches.order_by("rank").first()
    assert best is not None and best.reference.original_name == "ref4002.jpg"
    ids = stack.milvus_ids()
    assert len(ids) == len(set(ids)) == 7, "nothing lost across the restart"
    health = _staff_health()
    assert health.status_code == 200 and health.json()["status"] == "ok", health.json()
    print(
        f"\nMilvus restart test: {time.monotonic() - started:.1f} s; "
        f"query finished {recovered_after:.1f} s after Milvus was started again"
    )


def test_the_redis_make_run_starts_keeps_queued_tasks_when_it_is_stopped_or_killed(stack, tmp_path):
    """No worker runs while Redis goes down twice (an operator's stop, then a crash): every queued task must
    come back with Redis, and a worker started afterwards indexes every row without the sweeper's help."""
    import redis as redis_client

    from tests.services import StackRedis

    # The test stack's Redis keeps nothing; in its place, on its port, the one `make run` starts.
    stack.redis.stop()
    port = stack.redis.port
    stack.redis = StackRedis(tmp_path / "make-run-redis")
    stack.redis.port = port
    stack.redis.start()
    collection = CollectionFactory()
    client = redis_client.Redis.from_url(stack.redis.url)

    stack.references_add(collection, range(3300, 3310))
    assert client.llen("gpu") == 10
    stack.redis.stop()  # SIGTERM, as `make run`'s Ctrl-C or an operator would
    stack.redis.start()
    assert client.llen("gpu") == 10, "queued tasks survive a stop"

    stack.references_add(collection, range(3310, 3320))
    time.sleep(1.5)  # appendfsync everysec: what was queued a second ago is on disk
    stack.redis.process.kill()  # kill -9: a crash
    stack.redis.process.wait(timeout=20)
    stack.redis.start()
    assert client.llen("gpu") == 20, "queued tasks survive a crash"

    stack.worker_start()
    wait_until(
        lambda: ReferenceImage.objects.filter(collection=collection, status=ImageStatus.INDEXED).count() == 20,
        timeout=180,
        what="every reference queued before the restarts, indexed without a sweep",
    )
    assert ReferenceImage.objects.filter(collection=collection).exclude(status=ImageStatus.INDEXED).count() == 0
