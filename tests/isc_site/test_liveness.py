"""The health endpoint and checks the compose file's health checks run."""

import pytest

from isc_site import liveness as health
from tests.services import RedisServer


@pytest.mark.django_db
def test_healthz_answers_over_plain_http_even_when_https_is_enforced(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/").status_code == 301, "every other page redirects to HTTPS"
    response = client.get("/healthz/")
    assert response.status_code == 200
    assert response.content == b"ok"


def test_a_worker_that_is_not_running_is_reported_unhealthy(tmp_path):
    from isc_site.celery import app

    redis_server = RedisServer(tmp_path).start()
    previous = app.conf.broker_url
    app.conf.broker_url = redis_server.url
    app._pool = None
    try:
        assert health.worker_alive("nobody-runs-this") is False
        assert health.main(["worker"]) == 2, "a worker check needs the worker's name"
    finally:
        app.conf.broker_url = previous
        app._pool = None
        redis_server.stop()
