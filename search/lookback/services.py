"""Writes of look-back: a job per batch of new references (per collection) or bank entries (per bank),
its progress, and the matches it finds, which enter the review queue like a live query's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from search.banks.models import Bank
from search.collection.models import ReferenceImage
from search.core import dispatch
from search.core.audit import audit_record
from search.core.models import AuditAction
from search.lookback.models import LookbackJob
from search.queries.models import Match, QueryImage
from search.webhooks.events import event_emit
from search.webhooks.payloads import query_flagged_payload

# A job whose heartbeat is older than this lost its worker (the task's hard limit is below it).
STALE_SECONDS = 900


@dataclass(frozen=True)
class LookbackHit:
    """A match look-back found: what a live search would have recorded for the pair."""

    reference_id: int
    final_score: float
    descriptor_similarity: float = 0.0
    verified: bool = False
    inliers: int = 0
    verification_score: float = 0.0
    keypoint_pairs: list = field(default_factory=list)
    descriptor_version: str = ""
    matched_by: str = ""
    hash_distance: int | None = None
    hash_threshold: int | None = None


def lookback_references_indexed(*, reference_ids: Sequence[int]) -> list[LookbackJob]:
    """New collection references ready to be searched: one look-back per collection (added to its queued
    job when one waits, so an upload of many pictures is one job)."""
    if not settings.ISC.lookback_days or not reference_ids:
        return []
    by_collection: dict[int, list[int]] = {}
    rows = ReferenceImage.objects.filter(id__in=list(reference_ids), collection__isnull=False)
    for reference_id, collection_id in rows.values_list("id", "collection_id"):
        by_collection.setdefault(collection_id, []).append(reference_id)
    jobs = []
    for collection_id, ids in by_collection.items():
        team_id = ReferenceImage.objects.filter(id=ids[0]).values_list("collection__team_id", flat=True).first()
        jobs.append(
            _job_add(team_id=team_id, trigger=LookbackJob.Trigger.REFERENCES, ids=ids, collection_id=collection_id)
        )
    return jobs


def lookback_bank_entries_added(*, bank: Bank, entry_ids: Sequence[int]) -> LookbackJob | None:
    """New PDQ / MD5 entries of a bank: the team's recent queries are checked against them."""
    if not settings.ISC.lookback_days or not entry_ids:
        return None
    return _job_add(
        team_id=bank.team_id, trigger=LookbackJob.Trigger.BANK_ENTRIES, ids=list(entry_ids), bank_id=bank.id
    )


def _job_add(
    *, team_id: int, trigger: str, ids: list[int], collection_id: int | None = None, bank_id: int | None = None
):
    with transaction.atomic():
        waiting = (
            LookbackJob.objects.select_for_update()
            .filter(team_id=team_id, trigger=trigger, collection_id=collection_id, bank_id=bank_id)
            .filter(state=LookbackJob.State.QUEUED)
            .first()
        )
        if waiting is not None:
            known = set(waiting.item_ids)
            waiting.item_ids = waiting.item_ids + [i for i in ids if i not in known]
            waiting.total = len(waiting.item_ids)
            waiting.save(update_fields=["item_ids", "total"])
            return waiting
        job = LookbackJob.objects.create(
            team_id=team_id,
            trigger=trigger,
            collection_id=collection_id,
            bank_id=bank_id,
            item_ids=list(ids),
            total=len(ids),
            since=timezone.now() - timedelta(days=settings.ISC.lookback_days),
        )
        transaction.on_commit(lambda: dispatch.task_send(dispatch.LOOKBACK_RUN, job.id))
    return job


def lookback_claim(*, job_id: int) -> LookbackJob | None:
    """Queued → running (or a stale running job taken over); None when another worker holds it."""
    now = timezone.now()
    stale = now - timedelta(seconds=STALE_SECONDS)
    claimed = (
        LookbackJob.objects.filter(id=job_id)
        .filter(Q(state=LookbackJob.State.QUEUED) | Q(state=LookbackJob.State.RUNNING, heartbeat_at__lt=stale))
        .update(state=LookbackJob.State.RUNNING, heartbeat_at=now, started_at=now)
    )
    return LookbackJob.objects.get(id=job_id) if claimed else None


def lookback_advance(*, job: LookbackJob, checked: int, queries_checked: int, found: int) -> None:
    """`checked` more items done (in order): a job resumed after its worker died starts after them."""
    job.done += checked
    job.queries_checked += queries_checked
    job.found += found
    job.heartbeat_at = timezone.now()
    job.save(update_fields=["done", "queries_checked", "found", "heartbeat_at"])


def lookback_requeue(*, job: LookbackJob) -> None:
    LookbackJob.objects.filter(id=job.id, state=LookbackJob.State.RUNNING).update(state=LookbackJob.State.QUEUED)


def lookback_finish(*, job: LookbackJob, error: str = "") -> None:
    job.state = LookbackJob.State.FAILED if error else LookbackJob.State.DONE
    job.error = error[:2000]
    job.finished_at = timezone.now()
    job.save(update_fields=["state", "error", "finished_at"])


def lookback_stale_ids() -> list[int]:
    stale = timezone.now() - timedelta(seconds=STALE_SECONDS)
    return list(
        LookbackJob.objects.filter(state=LookbackJob.State.RUNNING, heartbeat_at__lt=stale).values_list("id", flat=True)
    )


def lookback_matches_record(*, job: LookbackJob, query_id: int, hits: Sequence[LookbackHit]) -> int:
    """Adds the hits the query does not have yet (its other matches stay as they are); returns how many.
    Verdicts on the pair, the allowlist and quarantine apply as to a live search's rows, and a new match
    at or above the threshold emits "query.flagged"."""
    from search.review import verdicts

    if not hits:
        return 0
    with transaction.atomic():
        query = QueryImage.objects.select_for_update().select_related("collection__team").get(id=query_id)
        held = set(query.matches.values_list("reference_id", flat=True))
        live = set(
            ReferenceImage.objects.filter(id__in=[hit.reference_id for hit in hits], deleted_at__isnull=True)
            .exclude(disabled_until__gt=timezone.now())
            .values_list("id", flat=True)
        )
        fresh = [hit for hit in hits if hit.reference_id in live and hit.reference_id not in held]
        if not fresh:
            return 0
        rank = query.matches.aggregate(last=Max("rank"))["last"] or 0
        rows = [
            Match(
                query=query,
                reference_id=hit.reference_id,
                rank=rank + position,
                descriptor_similarity=hit.descriptor_similarity,
                verified=hit.verified,
                inliers=hit.inliers,
                verification_score=hit.verification_score,
                keypoint_pairs=hit.keypoint_pairs,
                final_score=hit.final_score,
                descriptor_version=hit.descriptor_version,
                matched_by=hit.matched_by,
                hash_distance=hit.hash_distance,
                hash_threshold=hit.hash_threshold,
                found_by_lookback=job,
            )
            for position, hit in enumerate(fresh, 1)
        ]
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
        threshold = query.collection.match_threshold
        if any(verdicts.is_flagged(row, threshold) for row in rows):
            event_emit(team=query.collection.team, name="query.flagged", payload=query_flagged_payload(query=query))
    return len(rows)
