"""Fixtures of the system tests: live Redis, Celery worker and Milvus processes."""

import pytest
from django.db import connection

from tests.services import CeleryWorker, RedisServer, broker_switch, database_url, milvus_wipe


@pytest.fixture
def live_worker(tmp_path, milvus_uri, settings):
    from isc_site.celery import app

    redis_server = RedisServer(tmp_path).start()
    settings.MEDIA_ROOT = tmp_path / "media"
    features = tmp_path / "features"
    settings.ISC = settings.ISC.replace(milvus_uri=milvus_uri, features_dir=str(features))
    previous_broker = app.conf.broker_url
    broker_switch(app, redis_server.url)
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
    broker_switch(app, previous_broker)
    redis_server.stop()
    milvus_wipe(milvus_uri)
