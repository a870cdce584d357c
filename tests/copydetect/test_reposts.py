"""The re-post index against the session's real Milvus Lite server (each test its own version key)."""

import numpy as np
import pytest

from copydetect.reposts import repost_candidates, repost_collection_name, repost_leaders_add, repost_leaders_remove
from copydetect.vector_store import collection_name

DIM = 16


@pytest.fixture
def version(request) -> str:
    return f"reposts-test/{request.node.name}"


def _basis(index: int) -> np.ndarray:
    vector = np.zeros(DIM, dtype=np.float32)
    vector[index] = 1.0
    return vector


def test_candidates_come_from_the_querys_own_collection_nearest_first(store, version):
    near, far, elsewhere = _basis(0) + 0.1 * _basis(1), _basis(1), _basis(0)
    repost_leaders_add(
        store=store,
        descriptor_version=version,
        query_ids=[10, 11, 12],
        vectors=np.stack([near, far, elsewhere]) * 3.0,  # stored unit length whatever the caller's scale
        collection_ids=[1, 1, 2],
    )
    assert repost_candidates(store=store, descriptor_version=version, vector=_basis(0), collection_id=1) == [10, 11]
    assert repost_candidates(store=store, descriptor_version=version, vector=_basis(0), collection_id=2) == [12]
    assert repost_candidates(store=store, descriptor_version=version, vector=_basis(0), collection_id=3) == []
    stored = store.vectors_get(model_version=f"reposts/{version}", ids=[10])[10]
    assert np.linalg.norm(stored) == pytest.approx(1.0, abs=1e-5)


def test_the_index_sits_beside_the_versions_reference_collection_and_rows_can_be_removed(store, version):
    assert repost_collection_name(version) != collection_name(version)
    assert repost_candidates(store=store, descriptor_version=version, vector=_basis(0), collection_id=1) == []
    repost_leaders_add(
        store=store,
        descriptor_version=version,
        query_ids=[5, 6],
        vectors=np.stack([_basis(0), _basis(2)]),
        collection_ids=[1, 1],
    )
    repost_leaders_add(
        store=store, descriptor_version=version, query_ids=[5], vectors=_basis(3)[None, :], collection_ids=[1]
    )
    assert repost_candidates(store=store, descriptor_version=version, vector=_basis(3), collection_id=1, top_k=1) == [5]
    repost_leaders_remove(store=store, descriptor_version=version, query_ids=[5])
    assert repost_candidates(store=store, descriptor_version=version, vector=_basis(3), collection_id=1) == [6]


def test_a_zero_or_non_finite_descriptor_is_refused(store, version):
    with pytest.raises(ValueError, match="non-zero"):
        repost_leaders_add(
            store=store, descriptor_version=version, query_ids=[1], vectors=np.zeros((1, DIM)), collection_ids=[1]
        )
    with pytest.raises(ValueError, match="finite"):
        repost_candidates(store=store, descriptor_version=version, vector=[np.nan] * DIM, collection_id=1)
