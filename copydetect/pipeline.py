"""One function per job: index a reference, search a query, re-embed a batch for a reindex.

Django-free: callers pass images, ids and engines; results come back as plain values.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from copydetect.descriptors import Descriptor
from copydetect.query_views import DEFAULT_VIEWS, query_views_make
from copydetect.scoring import ScoreCalibration, final_score_combine, similarity_margins
from copydetect.vector_store import VectorStore
from copydetect.verification import (
    LocalFeatures,
    local_features_extract,
    local_features_save,
    pair_verify_best,
    query_features_extract,
)


@dataclass(frozen=True)
class SearchSettings:
    top_k: int = 20
    verify_top_k: int = 10
    query_views: tuple[str, ...] = DEFAULT_VIEWS
    calibration: ScoreCalibration | None = None


@dataclass(frozen=True)
class Candidate:
    reference_id: int
    descriptor_similarity: float
    verified: bool = False
    inliers: int = 0
    verification_score: float = 0.0
    keypoint_pairs: list = field(default_factory=list)
    final_score: float = 0.0


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
    descriptor_sink: Callable[[np.ndarray], None] | None = None,
) -> list[Candidate]:
    """Global descriptor → nearest references in Milvus → local verification of the best few.

    `descriptor_sink`, when given, receives the whole-image ("full" view) descriptor, embedded anyway.
    """
    if not store.collection_exists(model_version=descriptor.version):
        return []
    vectors = descriptor.embed(query_views_make(image, settings.query_views))
    if descriptor_sink is not None and "full" in settings.query_views:
        descriptor_sink(np.asarray(vectors[list(settings.query_views).index("full")], dtype=np.float32))
    hits_per_view = store.vectors_search(
        model_version=descriptor.version, vectors=vectors, top_k=settings.top_k, collection_id=collection_id
    )
    candidates = _candidates_merge(hits_per_view, settings.top_k)
    if candidates and settings.verify_top_k > 0:
        query_features = query_features_extract(image)
        verified = [
            _candidate_verify(candidate, query_features, reference_features(candidate.reference_id))
            for candidate in candidates[: settings.verify_top_k]
        ]
        candidates = verified + candidates[settings.verify_top_k :]
    margins = similarity_margins([candidate.descriptor_similarity for candidate in candidates])
    scored = [
        _candidate_score(candidate, settings.calibration, margin) for candidate, margin in zip(candidates, margins)
    ]
    return sorted(scored, key=lambda c: (c.final_score, c.descriptor_similarity), reverse=True)


def _candidates_merge(hits_per_view, top_k: int) -> list[Candidate]:
    """Each reference keeps its best similarity over the query views; the top_k best are kept."""
    best: dict[int, float] = {}
    for hits in hits_per_view:
        for hit in hits:
            best[hit.id] = max(best.get(hit.id, -np.inf), hit.score)
    ranked = sorted(best.items(), key=lambda item: item[1], reverse=True)[:top_k]
    return [Candidate(reference_id=reference_id, descriptor_similarity=score) for reference_id, score in ranked]


def _candidate_score(candidate: Candidate, calibration: ScoreCalibration | None, margin: float = 0.0) -> Candidate:
    score = final_score_combine(
        similarity=candidate.descriptor_similarity,
        inliers=candidate.inliers,
        verification_score=candidate.verification_score,
        calibration=calibration,
        margin=margin,
    )
    return dataclasses.replace(candidate, final_score=score)


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
