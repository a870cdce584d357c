import pytest

from copydetect.vector_store import VectorStore


@pytest.fixture
def store(milvus_uri):
    """A VectorStore on the session's Milvus Lite server; each test names its own model versions."""
    vector_store = VectorStore(uri=milvus_uri)
    yield vector_store
    vector_store.close()
