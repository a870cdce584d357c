"""A Milvus Lite restart: calls fail with VectorStoreUnavailable while it is down, and the first call
after it is back succeeds (a fresh connection, not pymilvus' in-place recovery)."""

import numpy as np
import pytest

from copydetect.milvus_lite import MilvusLiteServer
from copydetect.vector_store import VectorStore, VectorStoreUnavailable, error_is_unavailable

pytestmark = pytest.mark.e2e


def test_a_restarted_server_is_usable_by_the_very_next_call(tmp_path):
    server = MilvusLiteServer(tmp_path / "milvus").start()
    store = VectorStore(uri=server.uri)
    try:
        vectors = np.eye(8, dtype=np.float32)[:3]
        store.collection_ensure(model_version="recovery/v1", dim=8)
        store.vectors_upsert(model_version="recovery/v1", ids=[1, 2, 3], vectors=vectors, collection_ids=[7, 7, 7])
        store.collection_flush(model_version="recovery/v1")

        server.stop()
        with pytest.raises(VectorStoreUnavailable) as raised:
            store.vectors_search(model_version="recovery/v1", vectors=vectors[:1], top_k=2)
        assert str(raised.value) == "The search backend is unavailable."
        assert error_is_unavailable(raised.value.__cause__), "the pymilvus error is kept as the cause"
        with pytest.raises(VectorStoreUnavailable):  # still down: fails fast again, no hang
            store.collection_exists(model_version="recovery/v1")

        server.start()  # same port, same data directory
        [hits] = store.vectors_search(model_version="recovery/v1", vectors=vectors[:1], top_k=2)
        assert hits[0].id == 1
        assert sorted(store.vector_ids(model_version="recovery/v1")) == [1, 2, 3]
    finally:
        store.close()
        server.stop()


def test_request_errors_are_not_mistaken_for_an_outage(tmp_path):
    from pymilvus import MilvusException

    assert not error_is_unavailable(MilvusException(code=1100, message="invalid parameter"))
    assert not error_is_unavailable(ValueError("dim"))
    assert error_is_unavailable(MilvusException(code=2, message="Fail connecting to server on 127.0.0.1:1"))


class _ChannelDroppedOnce:
    """Stands for a pymilvus client whose channel the server closed: the first call fails the way pymilvus
    reports it (seen in the test logs after GOAWAY "too_many_pings"), the calls after it work."""

    def __init__(self, log: list[str]):
        self.log = log

    def has_collection(self, name: str) -> bool:
        self.log.append("dropped")
        from pymilvus import MilvusException

        raise MilvusException(
            code=2, message="Fail connecting to server on 127.0.0.1:1, illegal connection params or server unavailable"
        )

    def close(self) -> None:
        self.log.append("closed")


class _Working:
    def __init__(self, log: list[str]):
        self.log = log

    def has_collection(self, name: str) -> bool:
        self.log.append(f"asked {name}")
        return True

    def close(self) -> None:
        self.log.append("closed")


def test_a_channel_the_server_dropped_is_replaced_within_the_same_call():
    from copydetect.vector_store import _GuardedClient

    log: list[str] = []
    outages: list[str] = []
    client = _GuardedClient(
        _ChannelDroppedOnce(log), reconnect=lambda: _Working(log), on_unavailable=lambda: outages.append("down")
    )
    assert client.has_collection("c") is True
    assert log == ["dropped", "closed", "asked c"], "closed the dead channel, reconnected, asked again"
    assert outages == [], "one dropped channel is not an outage"


def test_a_second_failure_on_the_fresh_connection_is_an_outage():
    from copydetect.vector_store import _GuardedClient

    log: list[str] = []
    outages: list[str] = []
    client = _GuardedClient(
        _ChannelDroppedOnce(log),
        reconnect=lambda: _ChannelDroppedOnce(log),
        on_unavailable=lambda: outages.append("down"),
    )
    with pytest.raises(VectorStoreUnavailable):
        client.has_collection("c")
    assert outages == ["down"]
