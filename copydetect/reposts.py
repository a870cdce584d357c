"""The re-post index: the whole-image descriptors of the queries that lead a group of re-posts, in
Milvus, so that finding a new query's near-identical earlier twin is one filtered nearest-neighbour
search in its user collection instead of a scan over every earlier query.

One Milvus collection per descriptor version (beside that version's reference collection), rows keyed
by query id and partitioned by user collection. Milvus only proposes candidates: the caller checks
each one against its own rows (still a leader, earlier, inside the time window, cosine at or above the
threshold on the stored descriptor), so a stale or missing row here can cost a grouping, never a
wrong one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from copydetect.vector_store import VectorStore, collection_name

# Nearest leaders asked for; a re-post has one leader per picture and time window, the rest are the
# few other leaders that outrank it (later ids, older than the window) and the caller drops.
CANDIDATES = 16
KEY_PREFIX = "reposts/"


def repost_key(descriptor_version: str) -> str:
    """The model-version key of `descriptor_version`'s re-post collection in the vector store."""
    return f"{KEY_PREFIX}{descriptor_version}"


def repost_collection_name(descriptor_version: str) -> str:
    return collection_name(repost_key(descriptor_version))


def repost_candidates(
    *, store: VectorStore, descriptor_version: str, vector: Sequence[float], collection_id: int, top_k: int = CANDIDATES
) -> list[int]:
    """Ids of the leading queries of `collection_id` nearest to `vector`, nearest first; [] when the
    version has no re-post collection yet."""
    query = _unit(vector)
    key = repost_key(descriptor_version)
    hits = store.vectors_search(model_version=key, vectors=query[None, :], top_k=top_k, collection_id=collection_id)
    return [hit.id for hit in hits[0]]


def repost_leaders_add(
    *,
    store: VectorStore,
    descriptor_version: str,
    query_ids: Sequence[int],
    vectors: np.ndarray,
    collection_ids: Sequence[int],
) -> None:
    """Adds (or replaces) leading queries; idempotent."""
    if len(query_ids) == 0:
        return
    matrix = np.stack([_unit(vector) for vector in np.asarray(vectors, dtype=np.float32)])
    key = repost_key(descriptor_version)
    if store.collection_dim(model_version=key) is None:  # known layouts are cached: no round trip per query
        store.collection_ensure(model_version=key, dim=matrix.shape[1], metric="IP")
    store.vectors_upsert(model_version=key, ids=query_ids, vectors=matrix, collection_ids=collection_ids)


def repost_leaders_remove(*, store: VectorStore, descriptor_version: str, query_ids: Sequence[int]) -> None:
    store.vectors_delete(model_version=repost_key(descriptor_version), ids=query_ids)


@dataclass(frozen=True)
class RepostIndex:
    """One descriptor version's re-post index, as a query's search and its recording use it."""

    store: VectorStore
    descriptor_version: str

    def candidates(self, *, vector: Sequence[float], collection_id: int) -> list[int]:
        return repost_candidates(
            store=self.store, descriptor_version=self.descriptor_version, vector=vector, collection_id=collection_id
        )

    def leader_add(self, *, query_id: int, vector: Sequence[float], collection_id: int) -> None:
        repost_leaders_add(
            store=self.store,
            descriptor_version=self.descriptor_version,
            query_ids=[query_id],
            vectors=np.asarray([vector], dtype=np.float32),
            collection_ids=[collection_id],
        )


def _unit(vector: Sequence[float] | np.ndarray) -> np.ndarray:
    array = np.asarray(vector, dtype=np.float32).ravel()
    norm = float(np.linalg.norm(array))
    if not np.isfinite(norm) or norm == 0:
        raise ValueError("a re-post descriptor must be a finite, non-zero vector")
    return array / norm
