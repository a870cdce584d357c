"""The search of one query image."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from copydetect import pipeline
from copydetect.bank_lookup import BankHit
from copydetect.descriptors import Descriptor
from copydetect.signals import ImageSignals
from copydetect.verification import LocalFeatures, local_features_extract, local_features_load, local_features_save
from search.collection.models import ReferenceImage
from search.core import dispatch, stored_images
from search.queries import services as queries_services
from search.queries.models import QueryImage
from workers import banks as worker_banks
from workers import learned_features, runtime
from workers.images import PERMANENT_ERRORS, image_open, image_open_with_bytes
from workers.registry import worker_task
from workers.rows import TASK_OPTIONS, _row_run


@worker_task(dispatch.QUERY_SEARCH, **TASK_OPTIONS)
def query_search(self, query_id: int) -> str:
    def work(descriptor: Descriptor) -> str:
        started = time.perf_counter()
        query = QueryImage.objects.select_related("collection").get(id=query_id)
        index = runtime.repost_index_get(descriptor)
        image, data = image_open_with_bytes(query)
        outcome = pipeline.query_run(
            image=image,
            data=data,
            collection_id=query.collection_id,
            descriptor=descriptor,
            store=runtime.vector_store_get(),
            reference_features=_reference_features,
            settings=runtime.search_settings_get(descriptor.name),
            learned=runtime.learned_verifier_get(),
            learned_reference_features=learned_features.reference_learned_features,
            reposts=index,
        )
        vector = outcome.whole_image
        # The team's hash banks, beside the collection's pictures: a bank hit is a match on an entry row.
        hits = worker_banks.bank_hits_find(
            team_id=query.collection.team_id, signals=outcome.signals, vector=vector, descriptor=descriptor
        )
        results = [_match_result(candidate) for candidate in outcome.candidates] + [_bank_result(hit) for hit in hits]
        queries_services.query_results_record(
            query_id=query_id,
            descriptor_version=descriptor.version,
            query_descriptor=vector,
            # Stable: the search's own order stands among equal scores.
            results=sorted(results, key=lambda result: result.final_score, reverse=True),
            search_ms=round((time.perf_counter() - started) * 1000),
            leader_candidate_ids=outcome.twin_candidates,
            signals=_query_signals(outcome.signals),
            on_lead=None
            if vector is None
            else lambda: index.leader_add(query_id=query_id, vector=vector, collection_id=query.collection_id),
        )
        return "searched"

    # The live version's model, not necessarily the worker's own (a reindex may be building that).
    return _row_run(self, QueryImage, query_id, work, descriptor_get=runtime.search_descriptor_get)


def _reference_features(reference_id: int) -> LocalFeatures | None:
    reference = ReferenceImage.objects.filter(id=reference_id).first()
    if reference is None:
        return None
    path = (
        Path(reference.local_features)
        if reference.local_features
        else stored_images.features_path_for(sha256=reference.sha256)
    )
    if path.exists():
        return local_features_load(path)
    # Features can be missing after a reindex from another machine: rebuild them once.
    try:
        features = local_features_extract(image_open(reference))
    except PERMANENT_ERRORS:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    local_features_save(features, path)
    return features


def _bank_result(hit: BankHit) -> queries_services.MatchResult:
    return queries_services.MatchResult(
        reference_id=hit.entry_id,
        descriptor_similarity=hit.similarity or 0.0,
        verified=False,
        inliers=0,
        verification_score=0.0,
        keypoint_pairs=[],
        final_score=hit.final_score,
        matched_by=hit.signal_type,
        hash_distance=hit.distance,
        hash_threshold=hit.threshold,
    )


def _query_signals(signals: ImageSignals | None) -> queries_services.QuerySignals | None:
    if signals is None:
        return None
    return queries_services.QuerySignals(pdq=signals.pdq, pdq_quality=signals.pdq_quality, md5=signals.md5 or "")


def _match_result(candidate: pipeline.Candidate) -> queries_services.MatchResult:
    # The two dataclasses carry the same fields; one belongs to the engines, the other to the site.
    return queries_services.MatchResult(**dataclasses.asdict(candidate))
