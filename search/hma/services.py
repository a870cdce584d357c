"""Writes of the HMA-compatible API: banks and their signals, through the banks' own services (which
check the role and write the audit log)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from rest_framework.exceptions import ParseError

from copydetect.hashlists import HashEntry, SignalType
from search.banks import services as banks_services
from search.banks.entries import bank_entry_key
from search.banks.models import Bank
from search.collection.models import ReferenceImage
from search.core.permissions import MANAGE, role_require
from search.teams.models import Team


def _enabled_of(enabled_ratio: float | None, enabled: bool | None) -> bool | None:
    """HMA's ratio samples a share of lookups; a bank here is on or off: 0 and 1 only."""
    if enabled_ratio is not None:
        if enabled_ratio not in (0.0, 1.0):
            raise ParseError("enabled_ratio must be 0 or 1 here: a bank is enabled or not")
        return enabled_ratio == 1.0
    return enabled


def hma_bank_create(
    *, actor: AbstractBaseUser, team: Team, name: str, enabled_ratio: float | None = None, enabled: bool | None = None
) -> Bank:
    wanted = _enabled_of(enabled_ratio, enabled)
    with transaction.atomic():
        return banks_services.bank_create(actor=actor, team=team, name=name, enabled=True if wanted is None else wanted)


def hma_bank_update(
    *,
    actor: AbstractBaseUser,
    bank: Bank,
    name: str | None = None,
    enabled_ratio: float | None = None,
    enabled: bool | None = None,
) -> Bank:
    with transaction.atomic():
        return banks_services.bank_update(
            actor=actor, bank=bank, name=name, enabled=_enabled_of(enabled_ratio, enabled)
        )


def hma_bank_delete(*, actor: AbstractBaseUser, bank: Bank) -> None:
    banks_services.bank_delete(actor=actor, bank=bank)


@transaction.atomic
def hma_signals_add(*, actor: AbstractBaseUser, bank: Bank, signals: dict[SignalType, str]) -> int:
    """Adds each signal as an entry (one already held is kept); returns the first signal's entry id."""
    role_require(user=actor, team=bank.team_id, minimum=MANAGE)
    entries = [HashEntry(signal_type=kind, signal=value, source="hma-api") for kind, value in signals.items()]
    banks_services.bank_entries_add(bank=bank, entries=entries)
    first = entries[0]
    key = bank_entry_key(signal_type=first.signal_type.value, signal=first.signal)
    return ReferenceImage.objects.get(bank=bank, sha256=key).id
