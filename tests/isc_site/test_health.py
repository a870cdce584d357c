"""`/health` against the real Redis and Milvus Lite, and against ports where nothing listens."""

import pytest
import redis
from django.urls import reverse

from copydetect.milvus_lite import free_port
from tests.services import RedisServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker(tmp_path, settings):
    from isc_site.celery import app

    server = RedisServer(tmp_path).start()
    previous = app.conf.broker_url
    settings.CELERY_BROKER_URL = server.url
    _switch(app, server.url)
    yield server
    redis.Redis.from_url(server.url).flushdb()
    _switch(app, previous)
    server.stop()


def _switch(app, url: str) -> None:
    app.conf.broker_url = url
    app._pool = None
    app.amqp._producer_pool = None


def test_everything_up_but_no_worker_is_degraded_with_the_queue_depths(client, broker, isc_settings):
    redis.Redis.from_url(broker.url).rpush("gpu", b"a", b"b")
    response = client.get(reverse("health"))
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "degraded" and body["down"] == []
    assert body["checks"]["database"]["ok"] and body["checks"]["milvus"]["ok"]
    assert body["checks"]["broker"]["queue_depth"] == {"queries": 0, "gpu": 2, "default": 0}
    assert not body["checks"]["workers"]["ok"]
    assert body["checks"]["milvus"]["live_alias"] == isc_settings.ISC.live_alias


def test_milvus_down_is_a_503_naming_it(client, broker, settings):
    settings.ISC = settings.ISC.replace(milvus_uri=f"http://127.0.0.1:{free_port()}")
    response = client.get(reverse("health"))
    assert response.status_code == 503
    assert response.json()["down"] == ["milvus"]


def test_broker_down_is_a_503_and_workers_are_not_pinged(client, settings, milvus_uri):
    settings.ISC = settings.ISC.replace(milvus_uri=milvus_uri)
    from isc_site.celery import app

    previous = app.conf.broker_url
    url = f"redis://127.0.0.1:{free_port()}/0"
    settings.CELERY_BROKER_URL = url
    _switch(app, url)
    try:
        response = client.get(reverse("health"))
    finally:
        _switch(app, previous)
    body = response.json()
    assert response.status_code == 503 and body["down"] == ["broker"]
    assert body["checks"]["workers"] == {"ok": False, "error": "the broker is down", "ms": 0.0}
