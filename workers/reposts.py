"""The re-post index (copydetect/reposts.py) kept in line with the query rows: the backfill that fills a
version's index from the rows the first time that version is searched (an upgrade, a new model), so no
earlier leader is missed, and the leading queries reconciliation compares with the index."""

from __future__ import annotations

import logging

import numpy as np
from django.db.models import QuerySet

from copydetect import reposts
from copydetect.vector_store import VectorStore
from search.queries.models import QueryImage
from search.review.verdicts import descriptor_unpack

logger = logging.getLogger(__name__)
BACKFILL_BATCH = 4096


def repost_index_ensure(*, store: VectorStore, descriptor_version: str, dim: int) -> int:
    """Creates the version's re-post index when it has none, filled from every leading query recorded
    with that version; returns how many rows the backfill wrote (0 when the index was there)."""
    key = reposts.repost_key(descriptor_version)
    if store.collection_dim(model_version=key) is not None:  # cached once seen: no round trip per query
        return 0
    # Created before the rows are read: a leader committed after the read adds itself to it.
    store.collection_ensure(model_version=key, dim=dim, metric="IP")
    written = 0
    for ids, vectors, collection_ids in leader_rows(descriptor_version=descriptor_version, dim=dim):
        reposts.repost_leaders_add(
            store=store,
            descriptor_version=descriptor_version,
            query_ids=ids,
            vectors=vectors,
            collection_ids=collection_ids,
        )
        written += len(ids)
    if written:
        logger.info("re-post index for %s filled with %d leading queries", descriptor_version, written)
    return written


def leader_queries(*, descriptor_version: str) -> QuerySet[QueryImage]:
    """The queries recorded with the version that lead their group of re-posts (and have a descriptor)."""
    return QueryImage.objects.filter(near_duplicate_of__isnull=True, descriptor_version=descriptor_version).exclude(
        descriptor=b""
    )


def leader_rows(*, descriptor_version: str, dim: int, only_ids: set[int] | None = None):
    """(ids, vectors, collection ids) batches of the version's leading queries (of `only_ids` only, when
    given: read a batch of ids at a time, so no query holds more parameters than a database allows)."""
    rows = leader_queries(descriptor_version=descriptor_version).order_by("id")
    if only_ids is None:
        yield from _batches(rows, dim)
        return
    wanted = sorted(only_ids)
    for start in range(0, len(wanted), BACKFILL_BATCH):
        yield from _batches(rows.filter(id__in=wanted[start : start + BACKFILL_BATCH]), dim)


def _batches(rows: QuerySet[QueryImage], dim: int):
    ids: list[int] = []
    vectors: list[np.ndarray] = []
    collection_ids: list[int] = []
    for query_id, collection_id, packed in rows.values_list("id", "collection_id", "descriptor").iterator(
        chunk_size=BACKFILL_BATCH
    ):
        vector = descriptor_unpack(packed)
        if vector is None or vector.size != dim or not np.isfinite(vector).all() or not vector.any():
            continue
        ids.append(query_id)
        vectors.append(vector)
        collection_ids.append(collection_id)
        if len(ids) == BACKFILL_BATCH:
            yield ids, np.stack(vectors), collection_ids
            ids, vectors, collection_ids = [], [], []
    if ids:
        yield ids, np.stack(vectors), collection_ids
