"""The Milvus standalone server the project starts (copydetect/milvus_standalone.py): credentials
required from other machines, etcd on loopback only, data kept across a restart. Each test starts its
own server (~20 s); they run in `make test-milvus`."""

import os
import socket

import numpy as np
import pytest
from pymilvus import MilvusClient, MilvusException

from copydetect.milvus_standalone import DEFAULT_ROOT_PASSWORD, MilvusStandaloneServer
from copydetect.vector_store import VectorStore

pytestmark = pytest.mark.skipif(
    os.environ.get("ISC_TEST_MILVUS") != "standalone",
    reason="starts Milvus standalone servers of its own: runs in `make test-milvus` (ISC_TEST_MILVUS=standalone)",
)


def outward_address() -> str | None:
    """This machine's address on its default route (no packet is sent), or None without a network."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("192.0.2.1", 9))
        except OSError:
            return None
        address = sock.getsockname()[0]
    return None if address.startswith("127.") else address


def connects(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex((host, port)) == 0


@pytest.fixture
def server(tmp_path):
    server = MilvusStandaloneServer(tmp_path / "milvus", password="test-only-password")
    yield server.start()
    server.stop()


def test_from_another_machine_the_server_refuses_a_client_without_the_credentials(server):
    address = outward_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address to connect from")
    remote = f"http://{address}:{server.port}"
    for token in ("", f"root:{DEFAULT_ROOT_PASSWORD}"):
        with pytest.raises(MilvusException):
            MilvusClient(uri=remote, token=token, timeout=5).list_collections()
    # The same address with the credentials is served: what refused the others was authentication.
    client = MilvusClient(uri=remote, token=server.token, timeout=5)
    assert client.list_collections() == []
    client.close()
    # etcd (metadata, no authentication of its own) is not reachable from outside at all.
    assert connects("127.0.0.1", server.ports["etcd_port"])
    assert not connects(address, server.ports["etcd_port"])
    assert not connects(address, server.ports["etcd_peer_port"])


def test_rows_survive_a_restart_on_the_same_data_directory(server):
    store = VectorStore(uri=server.uri, token=server.token)
    store.collection_ensure(model_version="restart/1", dim=8)
    vectors = np.random.default_rng(0).standard_normal((20, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store.vectors_upsert(model_version="restart/1", ids=list(range(1, 21)), vectors=vectors, collection_ids=[7] * 20)
    store.close()
    port = server.port
    server.stop()
    server.start()
    assert server.port == port
    store = VectorStore(uri=server.uri, token=server.token)
    assert store.vectors_count(model_version="restart/1", collection_id=7) == 20
    hits = store.vectors_search(model_version="restart/1", vectors=vectors[:1], top_k=1, collection_id=7)
    assert hits[0][0].id == 1
    store.close()
