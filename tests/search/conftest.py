import pytest

from tests.factories import UserFactory
from tests.ingest_support import ingest_features_dir, ingest_pool, ingest_settings  # noqa: F401


@pytest.fixture
def moderator(client):
    """A signed-in user (a moderator of the teams the test gives them)."""
    user = UserFactory()
    client.force_login(user)
    return user
