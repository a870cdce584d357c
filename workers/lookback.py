"""Running a look-back job: the new references (or bank entries) it lists, a batch at a time, against the
queries of its window.

References: the re-post index proposes the collection's leading queries nearest to each new reference's
descriptor; those and their re-posts, inside the window, are searched again exactly as live (all views,
verification, calibration), and the new reference's candidate, when the search ranks it, is recorded.
Searching again costs a query's search each, so at most QUERIES_PER_REFERENCE candidates per reference
are taken, nearest first, and none whose whole-image cosine is below MIN_SIMILARITY: a cost bound,
not a measured decision threshold (the calibrated score decides, as live). A copy that only a crop view
finds (its whole-image descriptor far from the reference) can be missed here.

Bank entries: PDQ within the entry's bank threshold and equal MD5, on the signals stored on the
team's query rows (copydetect/lookback.py).
"""

from __future__ import annotations

import logging

import numpy as np
from django.db.models import Q

from copydetect import lookback, pipeline
from search.banks.models import Bank
from search.collection.models import ImageStatus, ReferenceImage
from search.lookback import services as lookback_services
from search.lookback.models import LookbackJob
from search.queries.models import QueryImage
from search.review.verdicts import descriptor_unpack
from workers import learned_features, runtime
from workers.images import PERMANENT_ERRORS, image_open

logger = logging.getLogger(__name__)

BATCH = 16  # items per progress step
QUERIES_PER_REFERENCE = 8
MIN_SIMILARITY = 0.25
PDQ_MIN_QUALITY = 50


def lookback_job_run(job: LookbackJob) -> None:
    items = list(job.item_ids)
    while job.done < len(items):
        chunk = items[job.done : job.done + BATCH]
        if job.trigger == LookbackJob.Trigger.REFERENCES:
            checked, found = _references_check(job, chunk)
        else:
            checked, found = _entries_check(job, chunk)
        lookback_services.lookback_advance(job=job, checked=len(chunk), queries_checked=checked, found=found)
    lookback_services.lookback_finish(job=job)


def _references_check(job: LookbackJob, reference_ids: list[int]) -> tuple[int, int]:
    descriptor = runtime.search_descriptor_get()
    store = runtime.vector_store_get()
    index = runtime.repost_index_get(descriptor)
    references = ReferenceImage.objects.filter(
        id__in=reference_ids,
        collection_id=job.collection_id,
        status=ImageStatus.INDEXED,
        descriptor_version=descriptor.version,
        deleted_at__isnull=True,
    )
    vectors = store.vectors_get(model_version=descriptor.version, ids=[r.id for r in references])
    wanted: dict[int, set[int]] = {}  # query id -> new references to try on it
    for reference_id, vector in vectors.items():
        leaders = index.candidates(vector=vector, collection_id=job.collection_id)
        if not leaders:
            continue
        rows = (
            QueryImage.objects.filter(
                collection_id=job.collection_id, created_at__gte=job.since, status=ImageStatus.INDEXED
            )
            .filter(Q(id__in=leaders) | Q(near_duplicate_of_id__in=leaders))
            .exclude(matches__reference_id=reference_id)
            .values_list("id", "descriptor")
        )
        unit = vector / (np.linalg.norm(vector) or 1.0)
        scored = []
        for query_id, packed in rows:
            query_vector = descriptor_unpack(packed)
            if query_vector is None or query_vector.size != unit.size:
                continue
            similarity = float(np.dot(query_vector / (np.linalg.norm(query_vector) or 1.0), unit))
            if similarity >= MIN_SIMILARITY:
                scored.append((similarity, query_id))
        for _, query_id in sorted(scored, reverse=True)[:QUERIES_PER_REFERENCE]:
            wanted.setdefault(query_id, set()).add(reference_id)
    found = 0
    settings = runtime.search_settings_get(descriptor.name)
    from workers.tasks.queries import _reference_features

    for query_id, new_ids in wanted.items():
        query = QueryImage.objects.get(id=query_id)
        try:
            image = image_open(query)
        except PERMANENT_ERRORS:
            continue
        candidates = pipeline.query_search(
            image=image,
            collection_id=job.collection_id,
            descriptor=descriptor,
            store=store,
            reference_features=_reference_features,
            settings=settings,
            learned=runtime.learned_verifier_get(),
            learned_reference_features=learned_features.reference_learned_features,
        )
        hits = [
            lookback_services.LookbackHit(
                reference_id=c.reference_id,
                final_score=c.final_score,
                descriptor_similarity=c.descriptor_similarity,
                verified=c.verified,
                inliers=c.inliers,
                verification_score=c.verification_score,
                keypoint_pairs=c.keypoint_pairs,
                descriptor_version=descriptor.version,
            )
            for c in candidates
            if c.reference_id in new_ids
        ]
        found += lookback_services.lookback_matches_record(job=job, query_id=query_id, hits=hits)
    return len(wanted), found


def _entries_check(job: LookbackJob, entry_ids: list[int]) -> tuple[int, int]:
    bank = Bank.objects.filter(id=job.bank_id, enabled=True).first()
    if bank is None:
        return 0, 0
    entries = list(
        ReferenceImage.objects.filter(id__in=entry_ids, bank=bank, disabled_until__isnull=True).values_list(
            "id", "signal_type", "signal"
        )
    )
    queries = QueryImage.objects.filter(collection__team_id=job.team_id, created_at__gte=job.since)
    hits: dict[int, list[lookback_services.LookbackHit]] = {}
    pdq_entries = [(entry_id, signal) for entry_id, kind, signal in entries if kind == "pdq"]
    md5_entries = [(entry_id, signal) for entry_id, kind, signal in entries if kind == "md5"]
    checked: set[int] = set()
    if pdq_entries:
        rows = list(queries.filter(pdq_quality__gte=PDQ_MIN_QUALITY).exclude(pdq="").values_list("id", "pdq"))
        checked.update(query_id for query_id, _ in rows)
        pairs = lookback.pdq_pairs_within(
            query_pdqs=[pdq for _, pdq in rows],
            entry_pdqs=[signal for _, signal in pdq_entries],
            thresholds=[bank.pdq_threshold] * len(pdq_entries),
        )
        for pair in pairs:
            hits.setdefault(rows[pair.query_index][0], []).append(
                _hash_hit(pdq_entries[pair.entry_index][0], "pdq", pair.distance, bank.pdq_threshold)
            )
    if md5_entries:
        rows = list(queries.filter(md5__in=[signal for _, signal in md5_entries]).values_list("id", "md5"))
        checked.update(query_id for query_id, _ in rows)
        for pair in lookback.md5_pairs(query_md5s=[md5 for _, md5 in rows], entry_md5s=[s for _, s in md5_entries]):
            hits.setdefault(rows[pair.query_index][0], []).append(
                _hash_hit(md5_entries[pair.entry_index][0], "md5", None, None)
            )
    found = sum(
        lookback_services.lookback_matches_record(job=job, query_id=query_id, hits=query_hits)
        for query_id, query_hits in hits.items()
    )
    return len(checked), found


def _hash_hit(entry_id: int, kind: str, distance: int | None, threshold: int | None) -> lookback_services.LookbackHit:
    return lookback_services.LookbackHit(
        reference_id=entry_id,
        final_score=lookback.hash_pair_score(distance=distance, threshold=threshold),
        matched_by=kind,
        hash_distance=distance,
        hash_threshold=threshold,
    )
