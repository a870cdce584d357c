"""Verdicts that stick to pictures, not rows: what a new search result inherits from earlier decisions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from search.collection.models import ReferenceImage
from search.core.audit import audit_record
from search.core.models import AuditAction
from search.queries.models import Match, QueryImage
from search.review.models import AllowlistEntry, PairVerdict, ReviewDecision


def descriptor_pack(vector: Sequence[float] | np.ndarray | None) -> bytes:
    if vector is None:
        return b""
    array = np.asarray(vector, dtype=np.float32).ravel()
    norm = float(np.linalg.norm(array))
    return (array / norm if norm > 0 else array).astype(np.float16).tobytes()


def descriptor_unpack(packed: bytes | memoryview | None) -> np.ndarray | None:
    if not packed:
        return None
    return np.frombuffer(bytes(packed), dtype=np.float16).astype(np.float32)


def near_identical_threshold() -> float:
    return float(settings.ISC.near_duplicate_similarity)


def descriptors_near_identical(first: np.ndarray | None, second: np.ndarray | None) -> bool:
    if first is None or second is None or first.shape != second.shape:
        return False
    return float(np.dot(first, second)) >= near_identical_threshold()


# Rows read per database round trip and matrix product when looking for a re-post's leader.
LEADER_SCAN_CHUNK = 4096


def near_duplicate_leader(*, query: QueryImage, candidate_ids: Sequence[int] | None = None) -> QueryImage | None:
    """The other, earlier query of the collection most similar to this one, if it is the same picture
    (descriptor cosine at or above ISC_NEAR_DUPLICATE_SIMILARITY); only queries of the last
    ISC_NEAR_DUPLICATE_WINDOW_DAYS days (0: all) count.

    `candidate_ids` are the leaders the re-post index (copydetect/reposts.py) proposes: only those are
    compared. Without them every earlier leader of the collection is, in chunks, as one matrix product
    each (linear in the collection's recent queries)."""
    mine = descriptor_unpack(query.descriptor)
    if mine is None:
        return None
    earlier = QueryImage.objects.filter(
        collection_id=query.collection_id, near_duplicate_of__isnull=True, id__lt=query.id
    ).exclude(descriptor=b"")
    if candidate_ids is not None:
        earlier = earlier.filter(id__in=list(candidate_ids))
    window_days = settings.ISC.near_duplicate_window_days
    if window_days:
        earlier = earlier.filter(created_at__gte=timezone.now() - timedelta(days=window_days))
    best_id, best_similarity = None, near_identical_threshold()
    ids: list[int] = []
    packed_rows: list[bytes] = []

    def chunk_best() -> None:
        nonlocal best_id, best_similarity
        matrix = np.frombuffer(b"".join(packed_rows), dtype=np.float16).reshape(len(ids), mine.size)
        similarities = matrix.astype(np.float32) @ mine
        top = int(np.argmax(similarities))
        if similarities[top] >= best_similarity:
            best_id, best_similarity = ids[top], float(similarities[top])
        ids.clear()
        packed_rows.clear()

    row_bytes = mine.size * 2  # float16
    for other_id, packed in earlier.values_list("id", "descriptor").iterator(chunk_size=LEADER_SCAN_CHUNK):
        packed = bytes(packed)
        if len(packed) != row_bytes:  # another descriptor's dimension (before a reindex)
            continue
        ids.append(other_id)
        packed_rows.append(packed)
        if len(ids) == LEADER_SCAN_CHUNK:
            chunk_best()
    if ids:
        chunk_best()
    return QueryImage.objects.get(id=best_id) if best_id is not None else None


def pair_verdict_for(*, team_id: int, query: QueryImage, reference: ReferenceImage) -> PairVerdict | None:
    """The team's verdict on this pair: the exact query bytes first, else a near-identical query's."""
    verdicts = PairVerdict.objects.filter(team_id=team_id, reference_sha256=reference.sha256)
    exact = verdicts.filter(query_sha256=query.sha256).first()
    if exact is not None:
        return exact
    mine = descriptor_unpack(query.descriptor)
    if mine is None:
        return None
    for verdict in verdicts.exclude(query_descriptor=b""):
        if descriptors_near_identical(mine, descriptor_unpack(verdict.query_descriptor)):
            return verdict
    return None


def allowlist_reason(entry: AllowlistEntry) -> str:
    """What a match suppressed by `entry` shows (and how the entry's rows are found again)."""
    return f"Allowlisted: {entry.reason}"[:300]


def allowlist_entry_for(*, team_id: int, query: QueryImage, reference: ReferenceImage) -> AllowlistEntry | None:
    entries = AllowlistEntry.objects.filter(team_id=team_id).filter(
        Q(reference__isnull=True) | Q(reference__sha256=reference.sha256)
    )
    mine = descriptor_unpack(query.descriptor)
    for entry in entries:
        if entry.sha256 == query.sha256 or descriptors_near_identical(mine, descriptor_unpack(entry.descriptor)):
            return entry
    return None


def match_rows_apply(*, query: QueryImage, rows: list[Match]) -> list[tuple[Match, PairVerdict]]:
    """Sets each new row's review from the pair verdict and its suppression from the allowlist and the
    reference's quarantine. Returns the rows that inherited a verdict from another query's pair."""
    team_id = query.collection.team_id
    references = ReferenceImage.objects.in_bulk([row.reference_id for row in rows])
    inherited = []
    for row in rows:
        reference = references[row.reference_id]
        verdict = pair_verdict_for(team_id=team_id, query=query, reference=reference)
        if verdict is not None:
            row.review, row.reviewed_by_id, row.reviewed_at = (
                verdict.decision,
                verdict.decided_by_id,
                verdict.decided_at,
            )
            if verdict.query_sha256 != query.sha256:
                inherited.append((row, verdict))
        entry = allowlist_entry_for(team_id=team_id, query=query, reference=reference)
        if entry is not None:
            row.suppressed_reason = allowlist_reason(entry)
        elif reference.quarantined_at is not None:
            row.suppressed_reason = "Reference quarantined: waiting for an admin's decision"
    return inherited


def quarantine_check(*, query: QueryImage, rows: list[Match]) -> list[ReferenceImage]:
    """Quarantines the references that more than ISC QUARANTINE_QUERIES_PER_DAY distinct queries (by bytes)
    matched at or above the threshold within the last 24 h; an admin's release holds for the rest of the day."""
    limit = settings.ISC.quarantine_queries_per_day
    threshold = query.collection.match_threshold
    now = timezone.now()
    quarantined = []
    hot = {row.reference_id for row in rows if row.final_score >= threshold}
    for reference in ReferenceImage.objects.filter(id__in=hot, quarantined_at__isnull=True):
        if reference.quarantine_released_on == now.date():
            continue
        distinct = (
            Match.objects.filter(
                reference=reference, final_score__gte=threshold, created_at__gte=now - timedelta(days=1)
            )
            .values("query__sha256")
            .distinct()
            .count()
        )
        if distinct > limit:
            reference.quarantined_at = now
            reference.save(update_fields=["quarantined_at"])
            audit_record(
                actor=None,
                team=query.collection.team,
                action=AuditAction.REFERENCE_QUARANTINE,
                target=reference,
                after={"distinct_queries_24h": distinct, "limit": limit},
            )
            quarantined.append(reference)
    return quarantined


def is_flagged(row: Match, threshold: float) -> bool:
    """A row that a moderator should hear about: at or above the threshold, not suppressed, not rejected."""
    return row.final_score >= threshold and not row.suppressed_reason and row.review != ReviewDecision.REJECTED
