"""Writes of the review queue: claims, verdicts on pairs of pictures, their undo, bulk verdicts, the allowlist."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from search.core.audit import audit_record
from search.core.models import AuditAction
from search.core.permissions import REVIEW, role_require
from search.queries.models import Match, QueryImage
from search.review import verdicts
from search.review.models import AllowlistEntry, PairVerdict, ReviewDecision
from search.webhooks import events
from search.webhooks.payloads import match_verdict_payload


class ClaimedByOther(PermissionDenied):
    """Another moderator (`holder`, a username) holds the item's claim until `until`."""

    def __init__(self, *, holder: str, until: datetime) -> None:
        super().__init__(f"Another moderator ({holder}) is reviewing this item.")
        self.holder, self.until = holder, until


def claim_expiry() -> timedelta:
    return timedelta(seconds=settings.ISC.review_claim_seconds)


def claim_free(*, user: AbstractBaseUser) -> Q:
    """Rows nobody else holds: unclaimed, claimed by `user`, or with a lapsed claim."""
    return Q(claimed_by__isnull=True) | Q(claimed_by_id=user.pk) | Q(claimed_at__lt=timezone.now() - claim_expiry())


def match_claim(*, actor: AbstractBaseUser, match: Match) -> bool:
    """Claims the item for `actor` (one conditional UPDATE, so two moderators cannot both win); False when
    another moderator holds it. Re-opening one's own claim keeps its first claim time."""
    role_require(user=actor, team=match.query.collection.team_id, minimum=REVIEW)
    now = timezone.now()
    mine = Match.objects.filter(id=match.id, claimed_by_id=actor.pk, claimed_at__gte=now - claim_expiry()).exists()
    if mine:
        return True
    won = Match.objects.filter(id=match.id).filter(claim_free(user=actor)).update(claimed_by=actor, claimed_at=now)
    match.refresh_from_db(fields=["claimed_by", "claimed_at"])
    return won == 1


def match_release(*, actor: AbstractBaseUser, match: Match) -> None:
    """Skip: gives the claim back so another moderator can take the item."""
    Match.objects.filter(id=match.id, claimed_by_id=actor.pk).update(claimed_by=None, claimed_at=None)


def group_members(match: Match) -> list[Match]:
    """The rows reviewed together with `match`: the same reference, and queries that are the same picture
    (near-identical re-posts grouped under one leader)."""
    query = match.query
    leader_id = query.near_duplicate_of_id or query.id
    return list(
        Match.objects.filter(reference_id=match.reference_id)
        .filter(Q(query_id=leader_id) | Q(query__near_duplicate_of_id=leader_id))
        .select_related("query__collection__team", "reference")
    )


def _pair_rows(member: Match) -> list[Match]:
    """Every row of the team showing this pair of pictures (the same bytes may sit in two collections)."""
    return list(
        Match.objects.filter(
            query__collection__team_id=member.query.collection.team_id,
            query__sha256=member.query.sha256,
            reference__sha256=member.reference.sha256,
        ).select_related("query__collection__team", "reference", "reviewed_by")
    )


def _verdict_of(match: Match) -> dict:
    return {
        "review": match.review,
        "reviewed_by": match.reviewed_by.get_username() if match.reviewed_by_id else None,
        "final_score": match.final_score,
        "query_id": match.query_id,
        "reference_id": match.reference_id,
    }


def _claim_check(*, actor: AbstractBaseUser, match: Match) -> None:
    current = (
        Match.objects.filter(id=match.id).values("claimed_by_id", "claimed_by__username", "claimed_at").first() or {}
    )
    holder, claimed_at = current.get("claimed_by_id"), current.get("claimed_at")
    if holder and holder != actor.pk and claimed_at and claimed_at >= timezone.now() - claim_expiry():
        raise ClaimedByOther(holder=current["claimed_by__username"], until=claimed_at + claim_expiry())


@transaction.atomic
def verdict_set(*, actor: AbstractBaseUser, match: Match, decision: str) -> list[Match]:
    """Confirms or rejects the item `match` leads; returns the rows that changed."""
    if decision not in (ReviewDecision.CONFIRMED, ReviewDecision.REJECTED):
        raise ValueError(f"Not a verdict: {decision!r}.")
    team = match.query.collection.team
    role_require(user=actor, team=team.id, minimum=REVIEW)
    _claim_check(actor=actor, match=match)
    now = timezone.now()
    claimed_at = Match.objects.filter(id=match.id, claimed_by_id=actor.pk).values_list("claimed_at", flat=True).first()
    changed: list[Match] = []
    for member in group_members(match):
        PairVerdict.objects.update_or_create(
            team=team,
            query_sha256=member.query.sha256,
            reference_sha256=member.reference.sha256,
            defaults={
                "decision": decision,
                "decided_by": actor,
                "decided_at": now,
                "claimed_at": claimed_at,
                "query_descriptor": bytes(member.query.descriptor or b""),
                "match": member,
                "final_score": member.final_score,
                "collection_id": member.query.collection_id,
            },
        )
        for row in _pair_rows(member):
            if row.review == decision:
                continue
            before = _verdict_of(row)
            row.review, row.reviewed_by, row.reviewed_at = decision, actor, now
            row.save(update_fields=["review", "reviewed_by", "reviewed_at"])
            audit_record(
                actor=actor,
                team=team,
                action=AuditAction.MATCH_VERDICT,
                target=row,
                before=before,
                after={**_verdict_of(row), "claimed_at": claimed_at},
            )
            changed.append(row)
    Match.objects.filter(id=match.id).update(claimed_by=None, claimed_at=None)
    name = "match.confirmed" if decision == ReviewDecision.CONFIRMED else "match.rejected"
    if changed:
        # Recorded in this transaction (one webhook delivery per endpoint), sent once it commits.
        match.refresh_from_db()
        events.event_emit(team=team, name=name, payload=match_verdict_payload(match=match))
    return changed


@transaction.atomic
def verdict_undo(*, actor: AbstractBaseUser, match: Match) -> list[Match]:
    """Puts the item back in the queue: its pair verdicts go, its rows become unreviewed (audited)."""
    team = match.query.collection.team
    role_require(user=actor, team=team.id, minimum=REVIEW)
    changed: list[Match] = []
    for member in group_members(match):
        PairVerdict.objects.filter(
            team=team, query_sha256=member.query.sha256, reference_sha256=member.reference.sha256
        ).delete()
        for row in _pair_rows(member):
            if row.review == ReviewDecision.UNREVIEWED:
                continue
            before = _verdict_of(row)
            row.review, row.reviewed_by, row.reviewed_at = ReviewDecision.UNREVIEWED, actor, None
            row.save(update_fields=["review", "reviewed_by", "reviewed_at"])
            audit_record(
                actor=actor, team=team, action=AuditAction.MATCH_UNDO, target=row, before=before, after=_verdict_of(row)
            )
            changed.append(row)
    return changed


def verdict_undo_last(*, actor: AbstractBaseUser, count: int = 1) -> list[Match]:
    """Undoes the actor's `count` most recent verdicts still standing; returns the rows they led."""
    led: list[Match] = []
    for verdict in PairVerdict.objects.filter(decided_by_id=actor.pk, match__isnull=False).select_related(
        "match__query__collection__team"
    )[:count]:
        verdict_undo(actor=actor, match=verdict.match)
        led.append(verdict.match)
    return led


def verdicts_bulk(*, actor: AbstractBaseUser, matches: Iterable[Match], decision: str) -> int:
    """One verdict (or undo, for 'unreviewed') for each item; items another moderator holds are skipped."""
    done = 0
    for match in matches:
        try:
            if decision == ReviewDecision.UNREVIEWED:
                verdict_undo(actor=actor, match=match)
            else:
                verdict_set(actor=actor, match=match, decision=decision)
        except ClaimedByOther:
            continue
        done += 1
    return done


@transaction.atomic
def allowlist_add(
    *, actor: AbstractBaseUser, match: Match, reason: str, every_reference: bool = False
) -> AllowlistEntry:
    """Marks the item's query picture benign (for this reference, or all of the team's): its copies stop
    counting as matches; the rows already found are suppressed with the reason."""
    team = match.query.collection.team
    role_require(user=actor, team=team.id, minimum=REVIEW)
    query = QueryImage.objects.get(id=match.query_id)  # fresh: the descriptor is written by the search
    entry = AllowlistEntry.objects.create(
        team=team,
        sha256=query.sha256,
        descriptor=bytes(query.descriptor or b""),
        reference=None if every_reference else match.reference,
        reason=reason.strip()[:300] or "benign",
        created_by=actor,
    )
    audit_record(
        actor=actor,
        team=team,
        action=AuditAction.ALLOWLIST_ADD,
        target=entry,
        after={"sha256": entry.sha256, "reference_id": entry.reference_id, "reason": entry.reason},
    )
    for member in group_members(match):
        rows = Match.objects.filter(query__collection__team=team, query__sha256=member.query.sha256)
        if not every_reference:
            rows = rows.filter(reference__sha256=match.reference.sha256)
        rows.update(suppressed_reason=verdicts.allowlist_reason(entry))
    return entry


@transaction.atomic
def allowlist_remove(*, actor: AbstractBaseUser, entry: AllowlistEntry) -> None:
    """Removes the entry; each match it suppressed (its picture and the near-identical re-posts) counts again,
    unless another entry of the team still covers it (the same rule as at search time)."""
    role_require(user=actor, team=entry.team_id, minimum=REVIEW)
    audit_record(
        actor=actor,
        team=entry.team,
        action=AuditAction.ALLOWLIST_REMOVE,
        target=entry,
        before={"sha256": entry.sha256, "reference_id": entry.reference_id, "reason": entry.reason},
    )
    rows = list(
        Match.objects.filter(
            query__collection__team_id=entry.team_id, suppressed_reason=verdicts.allowlist_reason(entry)
        ).select_related("query", "reference")
    )
    entry.delete()
    for row in rows:
        still = verdicts.allowlist_entry_for(team_id=entry.team_id, query=row.query, reference=row.reference)
        row.suppressed_reason = verdicts.allowlist_reason(still) if still else ""
    Match.objects.bulk_update(rows, ["suppressed_reason"])


def match_review(*, match: Match, reviewer: AbstractBaseUser, decision: str) -> Match:
    """A verdict (confirmed / rejected), or its undo (back to unreviewed); needs the moderator role.
    The verdict belongs to the pair of pictures (search/review/services.py)."""
    if decision not in ReviewDecision.values:
        raise ValueError(f"Unknown review decision {decision!r}.")
    if decision == ReviewDecision.UNREVIEWED:
        verdict_undo(actor=reviewer, match=match)
    else:
        verdict_set(actor=reviewer, match=match, decision=decision)
    match.refresh_from_db()
    return match
