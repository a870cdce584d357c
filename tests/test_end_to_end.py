"""The whole path through live services: web client → Redis → a real Celery worker → Milvus Lite → result page."""

import io
import time

import pytest
from django.db import connection
from django.urls import reverse

from search.models import ImageStatus, QueryImage, Role
from tests.factories import UserFactory, team_with
from tests.images import edited_copy, encode, scene
from tests.services import CeleryWorker, RedisServer, database_url, milvus_wipe

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def live_worker(tmp_path, milvus_uri, settings):
    from isc_site.celery import app

    redis_server = RedisServer(tmp_path).start()
    settings.MEDIA_ROOT = tmp_path / "media"
    features = tmp_path / "features"
    settings.ISC = {**settings.ISC, "MILVUS_URI": milvus_uri, "FEATURES_DIR": str(features)}
    previous_broker = app.conf.broker_url
    _broker_switch(app, redis_server.url)
    worker = CeleryWorker(
        env={
            "CELERY_BROKER_URL": redis_server.url,
            "MILVUS_URI": milvus_uri,
            "ISC_MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "ISC_FEATURES_DIR": str(features),
            "DATABASE_URL": database_url(connection.settings_dict),
        },
        log_path=tmp_path / "worker.log",
    ).start(app)
    yield worker
    worker.stop()
    _broker_switch(app, previous_broker)
    redis_server.stop()
    milvus_wipe(milvus_uri)


def _broker_switch(app, url: str) -> None:
    """Points the in-process Celery app at `url`, dropping connections an earlier test pooled."""
    app.conf.broker_url = url
    # Not closed: kombu's global producer registry may still hand the old pool to eager code paths.
    app._pool = None
    app.amqp._producer_pool = None


def _upload(name: str, data: bytes) -> io.BytesIO:
    handle = io.BytesIO(data)
    handle.name = name
    return handle


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_upload_references_and_a_copy_then_see_the_true_reference_first(client, live_worker):
    user = UserFactory()
    team = team_with(user, Role.ADMIN)
    client.force_login(user)
    response = client.post(
        reverse("search:collection_list"), {"team": team.id, "name": "Known", "description": "", "match_threshold": 0.5}
    )
    collection_url = response.url
    collection_id = int(collection_url.rstrip("/").split("/")[-1])
    seeds = [700 + i for i in range(8)]
    files = [_upload(f"ref{seed}.jpg", encode(scene(seed))) for seed in seeds]
    client.post(reverse("search:references_upload", args=[collection_id]), {"source": "files", "files": files})

    def all_indexed():
        page = client.get(reverse("search:collection_progress", args=[collection_id]))
        progress = page.context["progress"]
        assert progress.failed == 0, "no reference may fail"
        return progress.finished and progress.indexed == len(seeds)

    _wait(all_indexed, 120, "the references to be indexed by the worker")

    started = time.monotonic()
    response = client.post(
        reverse("search:query_upload", args=[collection_id]),
        {"image": _upload("meme.jpg", encode(edited_copy(scene(703))))},
    )
    query = QueryImage.objects.get(original_name="meme.jpg")
    _wait(lambda: QueryImage.objects.get(id=query.id).status == ImageStatus.INDEXED, 60, "the query's results")
    elapsed = time.monotonic() - started
    print(f"\nquery upload → finished results through the live worker: {elapsed * 1000:.0f} ms")

    page = client.get(response.url)
    views = page.context["views"]
    assert views[0].match.reference.original_name == "ref703.jpg"
    assert views[0].is_copy and views[0].match.inliers >= 8, "verification found a consistent geometry"
    assert "<line" in page.content.decode(), "the matched keypoints are drawn"
    preview = client.get(reverse("search:image_file", args=["query", query.id, "preview"]))
    assert preview.status_code == 200 and preview["Content-Type"] == "image/jpeg", "drawn over the preview"

    # A smooth noise field: procedural stripes or cell mosaics resemble each other globally even
    # when unrelated, which no real photo collection does.
    unrelated = client.post(
        reverse("search:query_upload", args=[collection_id]), {"image": _upload("other.jpg", encode(scene(9997)))}
    )
    other = QueryImage.objects.get(original_name="other.jpg")
    _wait(
        lambda: QueryImage.objects.get(id=other.id).status == ImageStatus.INDEXED, 60, "the unrelated query's results"
    )
    other_views = client.get(unrelated.url).context["views"]
    assert other_views, "candidates are listed even when none is a copy"
    assert all(not view.is_copy for view in other_views), [v.match.final_score for v in other_views]
