import pytest

from tests.services import MilvusLiteServer


@pytest.fixture(scope="session")
def milvus_uri(tmp_path_factory):
    """URI of a real Milvus Lite server shared by the whole test session."""
    server = MilvusLiteServer(tmp_path_factory.mktemp("milvus")).start()
    yield server.uri
    server.stop()
