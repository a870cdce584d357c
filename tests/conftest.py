import pytest

from tests.services import milvus_test_server, milvus_wipe


@pytest.fixture(scope="session")
def milvus_uri(tmp_path_factory):
    """URI of the real Milvus shared by the whole test session: Milvus Lite, Milvus standalone
    (ISC_TEST_MILVUS=standalone) or an already running server (ISC_TEST_MILVUS_URI)."""
    uri, stop = milvus_test_server(tmp_path_factory.mktemp("milvus"))
    yield uri
    stop()


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def isc_settings(settings, tmp_path, media_root, milvus_uri):
    """Settings pointing at the test Milvus and temporary folders; engines rebuilt from them."""
    from workers import runtime

    settings.ISC = settings.ISC.replace(milvus_uri=milvus_uri, features_dir=str(tmp_path / "features"), warm_up=False)
    runtime.vector_store_get.cache_clear()
    yield settings
    runtime.vector_store_get().close()
    milvus_wipe(milvus_uri)
    runtime.engines_reset()


@pytest.fixture
def eager_tasks():
    from isc_site.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield app
    app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """PBKDF2 at its production cost takes ~0.3 s a user on these CPUs; tests create hundreds of users."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def login_throttle_off(settings):
    """django-axes needs the request in authenticate(), which Django's `client.login()` does not pass; the
    throttle's own tests (tests/search/teams/test_teams.py) switch it back on."""
    settings.AXES_ENABLED = False
