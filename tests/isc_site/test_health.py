"""`/health` against the real Redis and Milvus Lite, and against ports where nothing listens."""

import pytest
import redis
from django.urls import reverse

from copydetect.milvus_lite import free_port
from search.teams import services as teams_services
from tests.factories import UserFactory
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


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True))
    return client


def _token_header(user) -> dict:
    _, key = teams_services.api_token_create(user=user, name="monitoring")
    return {"HTTP_AUTHORIZATION": f"Token {key}"}


def test_everything_up_but_no_worker_is_degraded_with_the_queue_depths(staff_client, broker, isc_settings):
    redis.Redis.from_url(broker.url).rpush("gpu", b"a", b"b")
    response = staff_client.get(reverse("health"))
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "degraded" and body["down"] == []
    assert body["checks"]["database"]["ok"] and body["checks"]["milvus"]["ok"]
    assert body["checks"]["broker"]["queue_depth"] == {"queries": 0, "gpu": 2, "default": 0}
    assert not body["checks"]["workers"]["ok"]
    assert body["checks"]["milvus"]["live_alias"] == isc_settings.ISC.live_alias


def test_milvus_down_is_a_503_naming_it(staff_client, broker, settings):
    settings.ISC = settings.ISC.replace(milvus_uri=f"http://127.0.0.1:{free_port()}")
    response = staff_client.get(reverse("health"))
    assert response.status_code == 503
    assert response.json()["down"] == ["milvus"]


def test_broker_down_is_a_503_and_workers_are_not_pinged(staff_client, settings, milvus_uri):
    settings.ISC = settings.ISC.replace(milvus_uri=milvus_uri)
    from isc_site.celery import app

    previous = app.conf.broker_url
    url = f"redis://127.0.0.1:{free_port()}/0"
    settings.CELERY_BROKER_URL = url
    _switch(app, url)
    try:
        response = staff_client.get(reverse("health"))
    finally:
        _switch(app, previous)
    body = response.json()
    assert response.status_code == 503 and body["down"] == ["broker"]
    assert body["checks"]["workers"] == {"ok": False, "error": "the broker is down", "ms": 0.0}


def test_anyone_else_gets_the_status_alone_with_the_same_http_codes(client, broker, isc_settings, settings):
    redis.Redis.from_url(broker.url).rpush("gpu", b"a")
    response = client.get(reverse("health"))
    assert response.status_code == 200 and response.json() == {"status": "degraded"}
    client.force_login(UserFactory(is_staff=False))
    assert client.get(reverse("health")).json() == {"status": "degraded"}

    settings.ISC = settings.ISC.replace(milvus_uri=f"http://127.0.0.1:{free_port()}")
    client.logout()
    response = client.get(reverse("health"))
    assert response.status_code == 503 and response.json() == {"status": "down"}


def test_the_api_token_of_a_staff_user_shows_the_details(client, broker, isc_settings):
    staff_view = client.get(reverse("health"), **_token_header(UserFactory(is_staff=True))).json()
    assert staff_view["checks"]["broker"]["queue_depth"] == {"queries": 0, "gpu": 0, "default": 0}
    member_view = client.get(reverse("health"), **_token_header(UserFactory(is_staff=False)))
    assert member_view.json() == {"status": "degraded"}
    unknown = client.get(reverse("health"), HTTP_AUTHORIZATION="Token not-a-key")
    assert unknown.status_code == 200 and unknown.json() == {"status": "degraded"}
