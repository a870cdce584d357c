"""Writes on queries: the upload, and the results a worker's search recorded."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from copydetect.imaging import image_inspect
from search.collection.models import Collection, ImageStatus, ReferenceImage
from search.core.audit import audit_record
from search.core.models import AuditAction
from search.core.permissions import UPLOAD, role_require
from search.core.stored_images import _stored_image_create
from search.core.uploads import Payload
from search.queries.models import Match, QueryImage
from search.review.models import ReviewDecision
from search.webhooks.events import event_emit
from search.webhooks.payloads import query_flagged_payload


def query_image_add(*, actor: AbstractBaseUser, collection: Collection, payload: Payload) -> tuple[QueryImage, bool]:
    """Returns the query row and whether it is new; the same bytes again give the earlier query."""
    role_require(user=actor, team=collection.team_id, minimum=UPLOAD)
    facts = image_inspect(payload.data, max_pixels=settings.ISC.max_image_pixels)
    query, created = _stored_image_create(QueryImage, collection=collection, payload=payload, facts=facts)
    if created:
        audit_record(
            actor=actor,
            team=collection.team,
            action=AuditAction.QUERY_UPLOAD,
            target=query,
            after={"name": query.original_name, "sha256": query.sha256},
        )
    return query, created


@dataclass(frozen=True)
class QuerySignals:
    pdq: str
    pdq_quality: int
    md5: str


@dataclass(frozen=True)
class MatchResult:
    reference_id: int
    descriptor_similarity: float
    verified: bool
    inliers: int
    verification_score: float
    keypoint_pairs: list
    final_score: float
    # A bank entry's hit: the signal that matched ("pdq", "md5", "sscd") and, for PDQ, how closely.
    matched_by: str = ""
    hash_distance: int | None = None
    hash_threshold: int | None = None


def query_results_record(
    *,
    query_id: int,
    descriptor_version: str,
    results: Sequence[MatchResult],
    search_ms: int,
    query_descriptor: Sequence[float] | None = None,
    leader_candidate_ids: Sequence[int] | None = None,
    on_lead: Callable[[], None] | None = None,
    signals: QuerySignals | None = None,
) -> bool:
    """Replaces the query's matches in one transaction, so a rerun leaves exactly one result set, and
    returns whether the query leads its group of re-posts (has no earlier near-identical twin).

    `leader_candidate_ids`: the earlier queries the re-post index proposes as its twin (None: every
    earlier query of the collection is compared; search/review/verdicts.py). `on_lead` runs once the result is
    committed, when the query leads (the worker adds it to the re-post index there).

    Deleted and disabled references are left out; each row takes the team's verdict on its pair of pictures
    (search/review/verdicts.py), the allowlist and the reference's quarantine. A query with a match at or above the
    threshold emits "query.flagged" once committed, unless every flagged reference was already flagged by the
    run before (a retry or a re-run with the same outcome tells the receivers nothing new).
    """
    from search.review import verdicts

    with transaction.atomic():
        query = QueryImage.objects.select_for_update().select_related("collection__team").get(id=query_id)
        now = timezone.now()
        live_ids = set(
            ReferenceImage.objects.filter(
                # The collection's pictures, and the entries of the team's enabled banks.
                Q(collection_id=query.collection_id) | Q(bank__team_id=query.collection.team_id, bank__enabled=True),
                id__in=[r.reference_id for r in results],
                deleted_at__isnull=True,
            )
            .exclude(disabled_until__gt=now)
            .values_list("id", flat=True)
        )
        threshold = query.collection.match_threshold
        previous = list(query.matches.all())
        reviews = {
            m.reference_id: (m.review, m.reviewed_by_id, m.reviewed_at)
            for m in previous
            if m.review != ReviewDecision.UNREVIEWED
        }
        flagged_before = {m.reference_id for m in previous if verdicts.is_flagged(m, threshold)}
        if query_descriptor is not None:
            query.descriptor = verdicts.descriptor_pack(query_descriptor)
        if signals is not None:
            query.pdq, query.pdq_quality, query.md5 = signals.pdq, signals.pdq_quality, signals.md5
        if query.near_duplicate_of_id is None:
            query.near_duplicate_of = verdicts.near_duplicate_leader(query=query, candidate_ids=leader_candidate_ids)
        query.matches.all().delete()
        kept = [r for r in results if r.reference_id in live_ids]
        rows = [_match_row(query, rank, result, descriptor_version, reviews) for rank, result in enumerate(kept, 1)]
        inherited = verdicts.match_rows_apply(query=query, rows=rows)
        Match.objects.bulk_create(rows)
        for row, verdict in inherited:
            audit_record(
                actor=None,
                team=query.collection.team,
                action=AuditAction.VERDICT_INHERIT,
                target=row,
                after={"review": row.review, "from_query_sha256": verdict.query_sha256, "rule": "near-identical"},
            )
        verdicts.quarantine_check(query=query, rows=rows)
        query.status = ImageStatus.INDEXED
        query.descriptor_version = descriptor_version
        query.search_ms = search_ms
        query.processed_at = now
        query.error = ""
        query.notice = ""
        query.attempts = 0
        query.save(
            update_fields=[
                "status",
                "descriptor_version",
                "search_ms",
                "processed_at",
                "error",
                "notice",
                "attempts",
                "descriptor",
                "near_duplicate_of",
                *(["pdq", "pdq_quality", "md5"] if signals is not None else []),
            ]
        )
        flagged = {row.reference_id for row in rows if verdicts.is_flagged(row, threshold)}
        if flagged - flagged_before:
            # Recorded in this transaction (one webhook delivery per endpoint), sent once it commits.
            event_emit(team=query.collection.team, name="query.flagged", payload=query_flagged_payload(query=query))
        leads = query.near_duplicate_of_id is None
        if leads and on_lead is not None:
            transaction.on_commit(on_lead)
    return leads


def _match_row(query: QueryImage, rank: int, result: MatchResult, version: str, reviews: dict) -> Match:
    review, reviewer, reviewed_at = reviews.get(result.reference_id, (ReviewDecision.UNREVIEWED, None, None))
    return Match(
        query=query,
        reference_id=result.reference_id,
        rank=rank,
        descriptor_similarity=result.descriptor_similarity,
        verified=result.verified,
        inliers=result.inliers,
        verification_score=result.verification_score,
        keypoint_pairs=result.keypoint_pairs,
        final_score=result.final_score,
        matched_by=result.matched_by,
        hash_distance=result.hash_distance,
        hash_threshold=result.hash_threshold,
        descriptor_version=version,
        review=review,
        reviewed_by_id=reviewer,
        reviewed_at=reviewed_at,
    )
