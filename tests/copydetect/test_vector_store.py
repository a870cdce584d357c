"""VectorStore against a real Milvus Lite server (shared by the session: each test uses its own
model versions, hence its own collections)."""

import os

import numpy as np
import pytest

from copydetect.milvus_lite import MilvusLiteServer
from copydetect.vector_store import (
    MAX_NAME_LENGTH,
    VALID_NAME,
    CollectionMissingError,
    Hit,
    VectorStore,
    collection_name,
)

DIM = 32


@pytest.fixture
def model_version(request) -> str:
    return f"vector_store/{request.node.name}"


def unit_vectors(count: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((count, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def filled_store(
    store: VectorStore, model_version: str, vectors: np.ndarray, collection_id: int = 1, first_id: int = 0
) -> list[int]:
    store.collection_ensure(model_version=model_version, dim=vectors.shape[1])
    ids = list(range(first_id, first_id + len(vectors)))
    store.vectors_upsert(
        model_version=model_version, ids=ids, vectors=vectors, collection_ids=[collection_id] * len(ids)
    )
    return ids


def hit_ids(hits: list[Hit]) -> list[int]:
    return [hit.id for hit in hits]


def test_collection_names_follow_milvus_rules_and_keep_versions_apart():
    names = [collection_name(version) for version in ("sscd/1.0", "sscd_1_0", "9-bit ü", "x" * 400)]
    assert len(set(names)) == len(names)
    for name in names:
        assert VALID_NAME.fullmatch(name) and len(name) <= MAX_NAME_LENGTH
    assert collection_name("sscd/1.0") == collection_name("sscd/1.0")


def test_collection_ensure_is_idempotent(store, model_version):
    first = store.collection_ensure(model_version=model_version, dim=DIM)
    second = store.collection_ensure(model_version=model_version, dim=DIM)
    assert first == second == collection_name(model_version)
    assert store.collection_exists(model_version=model_version)
    assert not store.collection_exists(model_version=model_version + "/never")


def test_collection_ensure_refuses_another_dimension_or_metric(store, model_version):
    store.collection_ensure(model_version=model_version, dim=DIM)
    with pytest.raises(ValueError, match="dim"):
        store.collection_ensure(model_version=model_version, dim=DIM * 2)
    with pytest.raises(ValueError, match="metric"):
        store.collection_ensure(model_version=model_version, dim=DIM, metric="L2")


def test_upserted_vector_comes_first_with_unit_score(store, model_version):
    vectors = unit_vectors(50)
    filled_store(store, model_version, vectors)
    [hits] = store.vectors_search(model_version=model_version, vectors=vectors[7:8], top_k=5)
    assert hits[0].id == 7
    assert hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)


def test_batched_search_answers_each_query_in_order(store, model_version):
    vectors = unit_vectors(40)
    filled_store(store, model_version, vectors)
    results = store.vectors_search(model_version=model_version, vectors=vectors[[3, 30, 11]], top_k=3)
    assert [hits[0].id for hits in results] == [3, 30, 11]
    assert all(len(hits) == 3 for hits in results)


def test_upsert_twice_replaces_instead_of_duplicating(store, model_version):
    vectors = unit_vectors(10)
    ids = filled_store(store, model_version, vectors)
    replacement = unit_vectors(10, seed=1)
    store.vectors_upsert(model_version=model_version, ids=ids, vectors=replacement, collection_ids=[2] * 10)
    assert store.vectors_count(model_version=model_version) == 10
    assert store.vectors_count(model_version=model_version, collection_id=1) == 0
    assert store.vectors_count(model_version=model_version, collection_id=2) == 10
    stored = store.vectors_get(model_version=model_version, ids=[4, 999])
    assert list(stored) == [4]
    np.testing.assert_allclose(stored[4], replacement[4], atol=1e-6)


def test_collection_filter_keeps_users_apart(store, model_version):
    alice, bob = unit_vectors(20, seed=1), unit_vectors(20, seed=2)
    alice_ids = filled_store(store, model_version, alice, collection_id=1, first_id=1)
    bob_ids = filled_store(store, model_version, bob, collection_id=2, first_id=101)
    results = store.vectors_search(model_version=model_version, vectors=bob, top_k=10, collection_id=1)
    assert all(set(hit_ids(hits)) <= set(alice_ids) for hits in results)
    [own] = store.vectors_search(model_version=model_version, vectors=bob[:1], top_k=1, collection_id=2)
    assert hit_ids(own) == [bob_ids[0]]
    assert store.vectors_count(model_version=model_version, collection_id=1) == 20
    assert store.vectors_count(model_version=model_version, collection_id=2) == 20


def test_vectors_delete_removes_rows_from_search_and_count(store, model_version):
    vectors = unit_vectors(10)
    filled_store(store, model_version, vectors)
    store.vectors_delete(model_version=model_version, ids=[0, 1])
    assert store.vectors_count(model_version=model_version) == 8
    results = store.vectors_search(model_version=model_version, vectors=vectors[:2], top_k=10)
    assert all(not {0, 1} & set(hit_ids(hits)) for hits in results)
    assert store.vectors_get(model_version=model_version, ids=[0, 1]) == {}


def test_collection_vectors_delete_empties_only_that_user_collection(store, model_version):
    filled_store(store, model_version, unit_vectors(5, seed=1), collection_id=1, first_id=0)
    filled_store(store, model_version, unit_vectors(6, seed=2), collection_id=2, first_id=100)
    store.collection_vectors_delete(model_version=model_version, collection_id=1)
    assert store.vectors_count(model_version=model_version, collection_id=1) == 0
    assert store.vectors_count(model_version=model_version) == 6


def test_alias_follows_a_reindex(store, model_version):
    alias = f"live_{collection_name(model_version)}"
    old, new = f"{model_version}/v1", f"{model_version}/v2"
    filled_store(store, old, unit_vectors(5))
    assert store.alias_target(alias=alias) is None
    store.alias_point(alias=alias, model_version=old)
    assert store.alias_target(alias=alias) == collection_name(old)

    filled_store(store, new, unit_vectors(5, dim=DIM * 2))
    store.collection_flush(model_version=new)
    store.alias_point(alias=alias, model_version=new)
    assert store.alias_target(alias=alias) == collection_name(new)

    with pytest.raises(ValueError, match="alias"):
        store.collection_drop(model_version=new)
    store.collection_drop(model_version=old)
    assert not store.collection_exists(model_version=old)
    assert store.alias_target(alias=alias) == collection_name(new)


def test_alias_names_are_checked(store, model_version):
    store.collection_ensure(model_version=model_version, dim=DIM)
    with pytest.raises(ValueError, match="alias"):
        store.alias_point(alias="live sscd", model_version=model_version)


def test_l2_scores_are_minus_squared_distance(store, model_version):
    store.collection_ensure(model_version=model_version, dim=4, metric="L2")
    vectors = np.array([[1, 0, 0, 0], [3, 0, 0, 0]], dtype=np.float32)
    store.vectors_upsert(model_version=model_version, ids=[1, 2], vectors=vectors, collection_ids=[1, 1])
    [hits] = store.vectors_search(model_version=model_version, vectors=np.zeros((1, 4)), top_k=2)
    assert hit_ids(hits) == [1, 2]
    assert [hit.score for hit in hits] == pytest.approx([-1.0, -9.0])


def test_a_new_store_instance_finds_earlier_vectors(milvus_uri, model_version):
    vectors = unit_vectors(10)
    writer = VectorStore(uri=milvus_uri)
    filled_store(writer, model_version, vectors)
    writer.close()

    reader = VectorStore(uri=milvus_uri)
    [hits] = reader.vectors_search(model_version=model_version, vectors=vectors[2:3], top_k=1)
    reader.close()
    assert hit_ids(hits) == [2]


def test_search_survives_a_server_restart(tmp_path, model_version):
    server = MilvusLiteServer(tmp_path).start()
    store = VectorStore(uri=server.uri)
    try:
        vectors = unit_vectors(10)
        filled_store(store, model_version, vectors)
        store.collection_flush(model_version=model_version)
        server.stop()
        restarted = MilvusLiteServer(tmp_path)
        restarted.port = server.port  # same address, so the existing store must cope alone
        server = restarted.start()
        [hits] = store.vectors_search(model_version=model_version, vectors=vectors[5:6], top_k=1)
        assert hit_ids(hits) == [5]
    finally:
        store.close()
        server.stop()


def test_wrong_dimension_raises_value_error(store, model_version):
    store.collection_ensure(model_version=model_version, dim=DIM)
    with pytest.raises(ValueError, match=f"\\(n, {DIM}\\)"):
        store.vectors_upsert(
            model_version=model_version, ids=[1], vectors=unit_vectors(1, dim=DIM + 1), collection_ids=[1]
        )
    with pytest.raises(ValueError, match=f"\\(n, {DIM}\\)"):
        store.vectors_search(model_version=model_version, vectors=unit_vectors(1, dim=DIM - 1), top_k=3)


def test_mismatched_ids_or_duplicates_raise_value_error(store, model_version):
    store.collection_ensure(model_version=model_version, dim=DIM)
    with pytest.raises(ValueError, match="collection_ids"):
        store.vectors_upsert(model_version=model_version, ids=[1, 2], vectors=unit_vectors(2), collection_ids=[1])
    with pytest.raises(ValueError, match="duplicates"):
        store.vectors_upsert(model_version=model_version, ids=[1, 1], vectors=unit_vectors(2), collection_ids=[1, 1])


def test_upsert_without_collection_raises(store, model_version):
    with pytest.raises(CollectionMissingError):
        store.vectors_upsert(model_version=model_version, ids=[1], vectors=unit_vectors(1), collection_ids=[1])


def test_unknown_or_empty_collection_reads_as_empty(store, model_version):
    queries = unit_vectors(2)
    unknown = model_version + "/unknown"
    assert store.vectors_search(model_version=unknown, vectors=queries, top_k=5) == [[], []]
    assert store.vectors_count(model_version=unknown) == 0
    assert store.vectors_get(model_version=unknown, ids=[1]) == {}
    store.vectors_delete(model_version=unknown, ids=[1])
    store.collection_drop(model_version=unknown)

    store.collection_ensure(model_version=model_version, dim=DIM)
    assert store.vectors_search(model_version=model_version, vectors=queries, top_k=5) == [[], []]
    assert store.vectors_search(model_version=model_version, vectors=queries, top_k=5, collection_id=9) == [[], []]


def test_new_collections_isolate_user_collections_by_partition_key(store, model_version):
    filled_store(store, model_version, unit_vectors(30, seed=3), collection_id=7)
    filled_store(store, model_version, unit_vectors(30, seed=4), collection_id=8, first_id=100)
    assert store.collection_partitioned(model_version=model_version)
    assert not store.collection_partitioned(model_version=model_version + "/never")
    results = store.vectors_search(
        model_version=model_version, vectors=unit_vectors(5, seed=5), top_k=10, collection_id=8
    )
    assert all(len(hits) == 10 and min(hit_ids(hits)) >= 100 for hits in results)


def test_a_collection_made_before_the_partition_key_still_reads_and_writes(milvus_uri, model_version):
    legacy = VectorStore(uri=milvus_uri, num_partitions=None)  # the layout collections had before
    filled_store(legacy, model_version, unit_vectors(12, seed=6), collection_id=1)
    legacy.close()

    store = VectorStore(uri=milvus_uri)
    try:
        assert not store.collection_partitioned(model_version=model_version)
        store.collection_ensure(model_version=model_version, dim=DIM)  # no error, no silent rebuild
        bob = unit_vectors(4, seed=7)
        store.vectors_upsert(model_version=model_version, ids=[50, 51, 52, 53], vectors=bob, collection_ids=[2] * 4)
        [hits] = store.vectors_search(model_version=model_version, vectors=bob[:1], top_k=10, collection_id=2)
        assert sorted(hit_ids(hits)) == [50, 51, 52, 53]
        assert store.vectors_count(model_version=model_version, collection_id=1) == 12
        assert store.ids_list(model_version=model_version, collection_id=2) == [50, 51, 52, 53]
    finally:
        store.close()


def test_ids_list_pages_through_every_row_of_a_user_collection(store, model_version):
    filled_store(store, model_version, unit_vectors(40, seed=8), collection_id=1)
    filled_store(store, model_version, unit_vectors(25, seed=9), collection_id=2, first_id=1000)
    assert store.ids_list(model_version=model_version, collection_id=2, batch_size=7) == list(range(1000, 1025))
    assert len(store.ids_list(model_version=model_version, batch_size=9)) == 65
    assert store.ids_list(model_version=model_version + "/never") == []


def test_index_settings_apply_to_new_collections(milvus_uri, model_version):
    from copydetect.vector_store import IndexSpec

    spec = IndexSpec(kind="IVF_FLAT", build={"nlist": 8}, search={"nprobe": 8})
    store = VectorStore(uri=milvus_uri, index=spec)
    try:
        vectors = unit_vectors(64, seed=10)
        filled_store(store, model_version, vectors)
        store.collection_flush(model_version=model_version)
        [hits] = store.vectors_search(model_version=model_version, vectors=vectors[9:10], top_k=3, collection_id=1)
        assert hits[0].id == 9
        assert store.index.search_params(top_k=3) == {"nprobe": 8}
        assert IndexSpec().search_params(top_k=50) == {"ef": 100}, "HNSW's ef never falls below 2 x top_k"
    finally:
        store.close()
    with pytest.raises(ValueError, match="num_partitions"):
        VectorStore(uri=milvus_uri, num_partitions=0)


def test_filtered_search_finds_every_row_of_each_of_many_user_collections(store, model_version):
    # 40 user collections spread over all partition buckets: a search inside each must find all five
    # of its rows (a wrong bucket would come back empty), best first.
    vectors = unit_vectors(200, seed=11)
    store.collection_ensure(model_version=model_version, dim=DIM)
    owners = [1000 + index // 5 for index in range(200)]
    store.vectors_upsert(model_version=model_version, ids=range(200), vectors=vectors, collection_ids=owners)
    for first in range(0, 200, 5):
        [hits] = store.vectors_search(
            model_version=model_version, vectors=vectors[first : first + 1], top_k=10, collection_id=owners[first]
        )
        assert hits[0].id == first
        assert sorted(hit_ids(hits)) == list(range(first, first + 5))


@pytest.mark.skipif(bool(os.environ.get("ISC_TEST_MILVUS_URI")), reason="the kind of an outside server is not known")
def test_only_milvus_lite_gets_its_partition_buckets_named(store, model_version):
    """Milvus 2.3.5 standalone calls itself `v2.3.5-lite`: the Lite check must not take it for Milvus Lite
    (naming partitions there is refused), nor miss the real Milvus Lite (whose searches it makes 16x cheaper)."""
    store.collection_ensure(model_version=model_version, dim=DIM)
    layout = store._layout(model_version)
    if os.environ.get("ISC_TEST_MILVUS") == "standalone":
        assert layout.lite_buckets is None
    else:
        assert layout.lite_buckets == 16
