"""Writes on hash banks: create, change, delete a bank; add, disable and enable its entries."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from copydetect.hashlists import HashEntry
from search.banks.entries import bank_entry_row
from search.banks.models import PDQ_DEFAULT_THRESHOLD, Bank
from search.collection.models import ReferenceImage
from search.core.audit import audit_record
from search.core.models import AuditAction
from search.core.permissions import MANAGE, role_require
from search.lookback.services import lookback_bank_entries_added
from search.teams.models import Team

# A disabled entry is a reference disabled for good: every path that leaves disabled references out (the
# search's results, the queue) leaves it out too, and unlike a soft delete it is never purged.
ENTRY_DISABLED_UNTIL = datetime(9999, 12, 31, tzinfo=UTC)
# Rows per INSERT and per existence check.
INSERT_BATCH = 2000


def _settings_of(bank: Bank) -> dict:
    return {"name": bank.name, "enabled": bank.enabled, "pdq_threshold": bank.pdq_threshold}


@transaction.atomic
def bank_create(
    *,
    actor: AbstractBaseUser,
    team: Team,
    name: str,
    description: str = "",
    pdq_threshold: int = PDQ_DEFAULT_THRESHOLD,
    enabled: bool = True,
) -> Bank:
    role_require(user=actor, team=team, minimum=MANAGE)
    bank = Bank.objects.create(
        team=team,
        name=name.strip(),
        description=description,
        pdq_threshold=pdq_threshold,
        enabled=enabled,
        created_by=actor,
    )
    audit_record(actor=actor, team=team, action=AuditAction.BANK_CREATE, target=bank, after=_settings_of(bank))
    return bank


@transaction.atomic
def bank_update(
    *,
    actor: AbstractBaseUser,
    bank: Bank,
    name: str | None = None,
    description: str | None = None,
    pdq_threshold: int | None = None,
    enabled: bool | None = None,
) -> Bank:
    """Lookups read `enabled` and `pdq_threshold` from the row on every query: a change applies to the
    next query, with no index to rebuild."""
    role_require(user=actor, team=bank.team_id, minimum=MANAGE)
    bank = Bank.objects.select_for_update().get(id=bank.id)
    before = _settings_of(bank)
    if name is not None:
        bank.name = name.strip()
    if description is not None:
        bank.description = description
    if pdq_threshold is not None:
        bank.pdq_threshold = pdq_threshold
    if enabled is not None:
        bank.enabled = enabled
    bank.full_clean(exclude=["team", "created_by"])
    bank.save()
    if _settings_of(bank) != before:
        audit_record(
            actor=actor,
            team=bank.team,
            action=AuditAction.BANK_UPDATE,
            target=bank,
            before=before,
            after=_settings_of(bank),
        )
    return bank


@transaction.atomic
def bank_delete(*, actor: AbstractBaseUser, bank: Bank) -> None:
    """Deletes the bank, its entries and their matches. Worker indexes drop the entries lazily: a deleted
    bank is in no team's list of enabled banks, so its entries are never returned."""
    role_require(user=actor, team=bank.team_id, minimum=MANAGE)
    audit_record(
        actor=actor,
        team=bank.team,
        action=AuditAction.BANK_DELETE,
        target=bank,
        before={**_settings_of(bank), "entries": bank.entries.count()},
    )
    bank.delete()


@dataclass(frozen=True)
class EntriesAdded:
    created: int
    duplicates: int
    created_ids: tuple[int, ...]


def bank_entries_add(
    *, bank: Bank, entries: Iterable[HashEntry], sscd_version: str = "", source: str = ""
) -> EntriesAdded:
    """Inserts the entries the bank does not hold yet (same signal: same entry); the caller holds the
    transaction when several calls must stand or fall together. No permission check: callers check
    (a page, the import job, an exchange fetch)."""
    created, duplicates, ids = 0, 0, []
    batch: list[HashEntry] = []

    def flush() -> None:
        nonlocal created, duplicates
        rows = {}
        for entry in batch:
            row = bank_entry_row(bank=bank, entry=entry, sscd_version=sscd_version, source=source)
            if row.sha256 in rows:
                duplicates += 1
            rows[row.sha256] = row
        existing = set(ReferenceImage.objects.filter(bank=bank, sha256__in=list(rows)).values_list("sha256", flat=True))
        duplicates += len(existing)
        fresh = [row for key, row in rows.items() if key not in existing]
        ReferenceImage.objects.bulk_create(fresh, batch_size=INSERT_BATCH)
        created += len(fresh)
        # bulk_create sets ids on SQLite and PostgreSQL alike; ask the database to be sure of them.
        ids.extend(
            ReferenceImage.objects.filter(bank=bank, sha256__in=[row.sha256 for row in fresh]).values_list(
                "id", flat=True
            )
        )
        batch.clear()

    for entry in entries:
        batch.append(entry)
        if len(batch) >= INSERT_BATCH:
            flush()
    if batch:
        flush()
    # Recent queries of the team are checked against the new entries (a job, queued once committed).
    lookback_bank_entries_added(bank=bank, entry_ids=ids)
    return EntriesAdded(created=created, duplicates=duplicates, created_ids=tuple(ids))


@transaction.atomic
def bank_entries_disable(
    *, actor: AbstractBaseUser | None, bank: Bank, entry_ids: Sequence[int], disabled: bool
) -> int:
    """Disables (or enables again) entries: a disabled entry is kept, with its verdicts, but matches no
    query. Worker indexes see the change within their next poll (`changed_at`)."""
    if actor is not None:
        role_require(user=actor, team=bank.team_id, minimum=MANAGE)
    now = timezone.now()
    rows = ReferenceImage.objects.filter(bank=bank, id__in=list(entry_ids))
    changed = rows.update(disabled_until=ENTRY_DISABLED_UNTIL if disabled else None, changed_at=now)
    audit_record(
        actor=actor,
        team=bank.team,
        action=AuditAction.BANK_ENTRY_DISABLE,
        target=bank,
        after={"entries": list(entry_ids)[:100], "disabled": disabled, "count": changed},
    )
    return changed
