"""One function per job: index a reference, search a query, re-embed a batch for a reindex.

Django-free: callers pass images, ids and engines; results come back as plain values.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from PIL import Image

from workers.descriptors import Descriptor
from workers.vector_store import VectorStore
from workers.verification import (
    LocalFeatures,
    local_features_extract,
    local_features_save,
    pair_verify_best,
    query_features_extract,
)


@dataclass(frozen=True)
class SearchSettings:
    top_k: int = 20
    verify_top_k: int = 5


@dataclass(frozen=True)
class Candidate:
    reference_id: int
    descriptor_similarity: float
    verified: bool = False
    inliers: int = 0
    verification_score: float = 0.0
    keypoint_pairs: list = field(default_factory=list)

    @property
    def final_score(self) -> float:
        return final_score_combine(self.descriptor_similarity, self.verification_score)


def final_score_combine(similarity: float, verification_score: float) -> float:
    """Either kind of evidence can establish a copy; together they are stronger than each alone.

    Treating the two as independent detectors (noisy-OR) keeps a strong global match that SIFT
    cannot confirm (blur, heavy colour edits) while lifting a weak global match that a consistent
    homography proves (small crops, overlays).
    """
    s = float(np.clip(similarity, 0.0, 1.0))
    v = float(np.clip(verification_score, 0.0, 1.0))
    return 1.0 - (1.0 - s) * (1.0 - v)


def reference_index(
    *,
    image: Image.Image,
    reference_id: int,
    collection_id: int,
    descriptor: Descriptor,
    store: VectorStore,
    features_path: Path,
) -> None:
    vector = descriptor.embed([image])
    store.collection_ensure(model_version=descriptor.version, dim=descriptor.dim, metric=descriptor.metric)
    store.vectors_upsert(
        model_version=descriptor.version, ids=[reference_id], vectors=vector, collection_ids=[collection_id]
    )
    if not features_path.exists():
        features_path.parent.mkdir(parents=True, exist_ok=True)
        local_features_save(local_features_extract(image), features_path)


def query_search(
    *,
    image: Image.Image,
    collection_id: int,
    descriptor: Descriptor,
    store: VectorStore,
    reference_features: Callable[[int], LocalFeatures | None],
    settings: SearchSettings,
) -> list[Candidate]:
    """Global descriptor → nearest references in Milvus → local verification of the best few."""
    if not store.collection_exists(model_version=descriptor.version):
        return []
    vector = descriptor.embed([image])
    hits = store.vectors_search(
        model_version=descriptor.version, vectors=vector, top_k=settings.top_k, collection_id=collection_id
    )[0]
    candidates = [Candidate(reference_id=hit.id, descriptor_similarity=hit.score) for hit in hits]
    if not candidates or settings.verify_top_k <= 0:
        return candidates
    query_views = query_features_extract(image)
    verified = [
        _candidate_verify(candidate, query_views, reference_features(candidate.reference_id))
        for candidate in candidates[: settings.verify_top_k]
    ]
    ranked = verified + candidates[settings.verify_top_k :]
    return sorted(ranked, key=lambda c: c.final_score, reverse=True)


def _candidate_verify(
    candidate: Candidate, query_views: Sequence[LocalFeatures], reference: LocalFeatures | None
) -> Candidate:
    if reference is None:
        return candidate
    outcome = pair_verify_best(query_views, reference)
    return Candidate(
        reference_id=candidate.reference_id,
        descriptor_similarity=candidate.descriptor_similarity,
        verified=True,
        inliers=outcome.inliers,
        verification_score=outcome.score,
        keypoint_pairs=[list(pair) for pair in outcome.pairs],
    )


def references_embed(
    *,
    images: Sequence[Image.Image],
    reference_ids: Sequence[int],
    collection_ids: Sequence[int],
    descriptor: Descriptor,
    store: VectorStore,
) -> None:
    """Embeds a batch into the collection of `descriptor.version` (used by reindexing)."""
    if not images:
        return
    vectors = descriptor.embed(list(images))
    store.collection_ensure(model_version=descriptor.version, dim=descriptor.dim, metric=descriptor.metric)
    store.vectors_upsert(
        model_version=descriptor.version, ids=list(reference_ids), vectors=vectors, collection_ids=list(collection_ids)
    )
