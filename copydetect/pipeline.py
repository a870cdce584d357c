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

from copydetect.candidates_regions import RegionSettings, region_boxes, region_crops
from copydetect.descriptors import Descriptor
from copydetect.query_views import DEFAULT_VIEWS, query_views_make
from copydetect.reposts import RepostIndex
from copydetect.scoring import ScoreCalibration, final_score_combine, near_identical_sets, similarity_margins
from copydetect.signals import ImageSignals, image_signals_compute
from copydetect.vector_store import VectorStore
from copydetect.verification import (
    LocalFeatures,
    Verification,
    local_features_extract,
    local_features_save,
    pair_verify_best,
    query_features_extract,
)
from copydetect.verification_learned import LearnedVerifier

VERIFIERS = ("sift", "learned", "sift+learned")


@dataclass(frozen=True)
class SearchSettings:
    top_k: int = 20
    verify_top_k: int = 10
    query_views: tuple[str, ...] = DEFAULT_VIEWS
    calibration: ScoreCalibration | None = None
    # "sift", "learned" (XFeat for the top learned_top_k only) or "sift+learned": XFeat asked only about
    # the top learned_top_k candidates on which SIFT found fewer than learned_below_inliers inliers.
    verifier: str = "sift"
    learned_top_k: int = 3
    learned_below_inliers: int = 8
    regions: RegionSettings | None = None  # region candidates (candidates_regions); None: global only

    def __post_init__(self) -> None:
        if self.verifier not in VERIFIERS:
            raise ValueError(f"Unknown verifier {self.verifier!r}; expected one of {VERIFIERS}.")

    @property
    def uses_learned(self) -> bool:
        return self.verifier != "sift"


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
    learned: LearnedVerifier | None = None,
    learned_features_path: Path | None = None,
    data: bytes | None = None,
) -> ImageSignals:
    """Embeds and stores the reference; its local features are extracted once and kept on disk. Returns
    its hash signals (PDQ of the picture, MD5 of `data`, the file's bytes, when given).

    With `learned`, the XFeat features are kept too (at `learned_features_path`, whose folder names
    the extraction settings), so queries never extract reference features.
    """
    vector = descriptor.embed([image])
    store.collection_ensure(model_version=descriptor.version, dim=descriptor.dim, metric=descriptor.metric)
    store.vectors_upsert(
        model_version=descriptor.version, ids=[reference_id], vectors=vector, collection_ids=[collection_id]
    )
    if not features_path.exists():
        features_path.parent.mkdir(parents=True, exist_ok=True)
        local_features_save(local_features_extract(image), features_path)
    if learned is not None and learned_features_path is not None and not learned_features_path.exists():
        local_features_save(learned.features_extract(image), learned_features_path)
    return image_signals_compute(image=image, data=data)


@dataclass(frozen=True)
class QueryOutcome:
    """A query's search: its scored candidates, its whole-image descriptor (None when the views leave out
    "full"), and the earlier leading queries the re-post index proposes as its twin (None: no index asked)."""

    candidates: list[Candidate]
    whole_image: np.ndarray | None
    twin_candidates: list[int] | None
    # PDQ (with its eight dihedral variants, for bank lookups) and MD5 of the query; None: not asked for.
    signals: ImageSignals | None = None


def query_run(
    *, reposts: RepostIndex | None = None, collection_id: int, data: bytes | None = None, **search
) -> QueryOutcome:
    """`query_search`, the re-post lookup of the whole-image descriptor it embedded anyway, and the hash
    signals of the picture (when `data`, the file's bytes, is given): everything a query needs from the
    engines, in one call."""
    whole_image: list[np.ndarray] = []
    candidates = query_search(collection_id=collection_id, descriptor_sink=whole_image.append, **search)
    vector = whole_image[0] if whole_image else None
    twins = None
    if reposts is not None and vector is not None:
        twins = reposts.candidates(vector=vector, collection_id=collection_id)
    signals = image_signals_compute(image=search["image"], data=data, dihedral=True) if data is not None else None
    return QueryOutcome(candidates=candidates, whole_image=vector, twin_candidates=twins, signals=signals)


def query_search(
    *,
    image: Image.Image,
    collection_id: int,
    descriptor: Descriptor,
    store: VectorStore,
    reference_features: Callable[[int], LocalFeatures | None],
    settings: SearchSettings,
    learned: LearnedVerifier | None = None,
    learned_reference_features: Callable[[int], LocalFeatures | None] | None = None,
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
    sift_wanted = settings.verify_top_k > 0 and settings.verifier != "learned"
    query_features = query_features_extract(image) if sift_wanted or settings.regions else []
    if settings.regions is not None and query_features:
        crops = region_crops(image, region_boxes(query_features[0], settings.regions))
        if crops:
            hits_per_view = list(hits_per_view) + list(
                store.vectors_search(
                    model_version=descriptor.version,
                    vectors=descriptor.embed(crops),
                    top_k=settings.regions.top_k,
                    collection_id=collection_id,
                )
            )
    candidates = _candidates_merge(hits_per_view, settings.top_k)
    near_identical = _candidates_near_identical(candidates, settings.calibration, store, descriptor.version)
    if candidates and settings.verify_top_k > 0:
        # Near-identical references share one place in the verified list: a twin never pushes a
        # different picture out of verification, and both twins get their own geometric evidence.
        slots = verification_slots(near_identical or [frozenset()] * len(candidates))
        chosen = [i for i, slot in enumerate(slots) if slot < settings.verify_top_k]
        top = [candidates[i] for i in chosen]
        sift = [
            pair_verify_best(query_features, features)
            if settings.verifier != "learned" and (features := reference_features(candidate.reference_id)) is not None
            else None
            for candidate in top
        ]
        outcomes = list(sift)
        if settings.uses_learned and learned is not None and learned_reference_features is not None:
            settled = query_settled_by_sift(settings, sift)
            learned_query: list[LocalFeatures] | None = None  # extracted on first need: SIFT settles most queries
            for rank, candidate in enumerate(top):
                if not learned_wanted(settings, rank, sift[rank], settled):
                    continue
                reference = learned_reference_features(candidate.reference_id)
                if reference is None:
                    continue
                learned_query = learned_query or learned.query_features_extract(image)
                outcome = learned.pair_verify_best(learned_query, reference)
                if outcomes[rank] is None or (outcome.score, outcome.inliers) > (
                    outcomes[rank].score,
                    outcomes[rank].inliers,
                ):
                    outcomes[rank] = outcome
        verified = dict(zip(chosen, (_candidate_verified(c, o) for c, o in zip(top, outcomes))))
        candidates = [verified.get(i, candidate) for i, candidate in enumerate(candidates)]
    margins = similarity_margins(
        [candidate.descriptor_similarity for candidate in candidates], near_identical=near_identical
    )
    scored = [
        _candidate_score(candidate, settings.calibration, margin) for candidate, margin in zip(candidates, margins)
    ]
    return sorted(scored, key=lambda c: (c.final_score, c.descriptor_similarity), reverse=True)


def _candidates_near_identical(
    candidates: Sequence[Candidate], calibration: ScoreCalibration | None, store: VectorStore, model_version: str
) -> list[frozenset[int]] | None:
    """Which candidates are twins of each other, from the references' stored descriptors; None when
    the calibration predates near-identity (every candidate then counts on its own)."""
    if calibration is None or calibration.near_identical_similarity is None or len(candidates) < 2:
        return None
    stored = store.vectors_get(model_version=model_version, ids=[c.reference_id for c in candidates])
    return near_identical_sets(
        [stored.get(c.reference_id) for c in candidates], min_similarity=calibration.near_identical_similarity
    )


def verification_slots(near_identical: Sequence[frozenset[int]]) -> list[int]:
    """Per candidate (best first): its place in the verification order, shared with an earlier twin.

    A candidate near-identical to an earlier one takes that one's slot; without twins the slots are
    0, 1, 2, … (the ranks).
    """
    slot_of: list[int] = []
    leaders: list[int] = []
    for i, twins in enumerate(near_identical):
        slot = next((rank for rank, leader in enumerate(leaders) if leader in twins), None)
        if slot is None:
            slot = len(leaders)
            leaders.append(i)
        slot_of.append(slot)
    return slot_of


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


def _candidate_verified(candidate: Candidate, outcome: Verification | None) -> Candidate:
    """The candidate with the verification that won (its keypoint pairs are the ones drawn)."""
    if outcome is None:
        return candidate
    return Candidate(
        reference_id=candidate.reference_id,
        descriptor_similarity=candidate.descriptor_similarity,
        verified=True,
        inliers=outcome.inliers,
        verification_score=outcome.score,
        keypoint_pairs=[list(pair) for pair in outcome.pairs],
    )


def query_settled_by_sift(settings: SearchSettings, sift: Sequence[Verification | None]) -> bool:
    """SIFT confirmed some candidate: the learned verifier would only be asked about the others, which
    cost as much and, being different images, can only add same-scene false alarms."""
    return any(outcome is not None and outcome.inliers >= settings.learned_below_inliers for outcome in sift)


def learned_wanted(settings: SearchSettings, rank: int, sift_outcome: Verification | None, settled: bool) -> bool:
    """The fallback rule: learned features only for the top few candidates; under sift+learned only
    where SIFT found fewer than learned_below_inliers inliers and confirmed no other candidate."""
    if settings.verifier == "sift" or rank >= settings.learned_top_k:
        return False
    if settings.verifier == "learned":
        return True
    if settled:
        return False
    return sift_outcome is None or sift_outcome.inliers < settings.learned_below_inliers


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
