"""Hash collections: 256-bit hashes searched by Hamming radius, BINARY_VECTOR on a real Milvus server and
±1 floats on Milvus Lite, checked against a brute-force Hamming distance in numpy."""

import os

import numpy as np
import pytest

from copydetect.vector_store import VectorStore, hashes_from_hex

BITS = 256


def random_hashes(count: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(count, BITS // 8), dtype=np.uint8)


def flipped(packed: np.ndarray, bits: int, seed: int) -> np.ndarray:
    """`packed` with `bits` distinct bits flipped."""
    unpacked = np.unpackbits(packed)
    positions = np.random.default_rng(seed).choice(BITS, size=bits, replace=False)
    unpacked[positions] ^= 1
    return np.packbits(unpacked)


def hamming(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.unpackbits(np.bitwise_xor(a, b)).sum())


@pytest.fixture
def key(request):
    return f"hashes/{request.node.name}"


def test_the_radius_search_returns_every_hash_within_the_radius_with_its_exact_distance(store, key):
    stored = random_hashes(300)
    # Planted neighbours of the first query at known distances around the radius.
    query = random_hashes(1, seed=7)[0]
    planted = {1001: 0, 1002: 5, 1003: 30, 1004: 31, 1005: 32, 1006: 60}
    for row_id, distance in planted.items():
        stored = np.vstack([stored, flipped(query, distance, seed=row_id)])
    ids = list(range(1, 301)) + list(planted)
    store.hashes_collection_ensure(key=key, bits=BITS)
    store.hashes_upsert(key=key, ids=ids, hashes=stored, collection_ids=[1] * len(ids))

    hits = store.hashes_search(key=key, hashes=query[None, :], max_distance=31)[0]

    expected = sorted((hamming(row, query), row_id) for row_id, row in zip(ids, stored) if hamming(row, query) <= 31)
    assert [(hit.distance, hit.id) for hit in hits] == expected
    assert {1001, 1002, 1003, 1004} <= {hit.id for hit in hits}
    assert not {1005, 1006} & {hit.id for hit in hits}


def test_a_search_stays_inside_its_user_collection(store, key):
    hashes = random_hashes(4, seed=3)
    store.hashes_collection_ensure(key=key)
    store.hashes_upsert(key=key, ids=[1, 2, 3, 4], hashes=hashes, collection_ids=[10, 10, 20, 20])
    hits = store.hashes_search(key=key, hashes=hashes, max_distance=0, collection_id=20)
    assert [[hit.id for hit in row] for row in hits] == [[], [], [3], [4]]
    assert store.vectors_count(model_version=key, collection_id=10) == 2


def test_writing_an_id_again_replaces_its_hash_and_user_collection_and_delete_removes_it(store, key):
    first, second = random_hashes(2, seed=5)
    store.hashes_collection_ensure(key=key)
    store.hashes_upsert(key=key, ids=[9], hashes=first[None, :], collection_ids=[1])
    store.hashes_upsert(key=key, ids=[9], hashes=second[None, :], collection_ids=[2])
    assert store.vectors_count(model_version=key) == 1
    assert store.vectors_count(model_version=key, collection_id=1) == 0
    assert store.hashes_search(key=key, hashes=first[None, :], max_distance=10)[0] == []
    assert [
        hit.id for hit in store.hashes_search(key=key, hashes=second[None, :], max_distance=0, collection_id=2)[0]
    ] == [9]
    store.vectors_delete(model_version=key, ids=[9])
    assert store.vectors_count(model_version=key) == 0


def test_hex_hashes_round_trip_and_a_reopened_collection_is_still_a_hash_collection(store, key, milvus_uri):
    pdq = "f" * 32 + "0" * 32
    near = "f" * 31 + "e" + "0" * 32  # one bit off
    store.hashes_collection_ensure(key=key)
    store.hashes_upsert(key=key, ids=[1], hashes=hashes_from_hex([pdq]), collection_ids=[1])
    reopened = VectorStore(uri=milvus_uri)
    try:
        hits = reopened.hashes_search(key=key, hashes=hashes_from_hex([near]), max_distance=31)
        assert [(hit.id, hit.distance) for hit in hits[0]] == [(1, 1)]
        with pytest.raises(ValueError, match="hashes"):
            reopened.vectors_search(model_version=key, vectors=np.ones((1, BITS), np.float32), top_k=1)
    finally:
        reopened.close()


@pytest.mark.skipif(bool(os.environ.get("ISC_TEST_MILVUS_URI")), reason="the kind of an outside server is not known")
def test_the_server_kind_decides_the_stored_form(store, key):
    store.hashes_collection_ensure(key=key)
    expected = "binary" if os.environ.get("ISC_TEST_MILVUS") == "standalone" else "signs"
    assert store.hashes_form(key=key) == expected
