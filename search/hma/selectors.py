"""Reads of the HMA-compatible API, for the user asking."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from search.banks.models import Bank
from search.hma.lookup import SignalHit, signal_lookup
from search.teams.models import Team
from search.teams.selectors import team_ids_of


def hma_banks(*, user: AbstractBaseUser, team: Team) -> QuerySet[Bank]:
    return Bank.objects.filter(team=team, team__in=team_ids_of(user)).order_by("name")


def hma_bank_get(*, user: AbstractBaseUser, team: Team, name: str) -> Bank | None:
    return hma_banks(user=user, team=team).filter(name=name).first()


def bank_ids_named(*, team: Team, names: Iterable[str]) -> set[int]:
    return set(Bank.objects.filter(team=team, name__in=[n.strip() for n in names]).values_list("id", flat=True))


def bank_config(bank: Bank) -> dict:
    """HMA's BankConfig: a bank here is on or off, so its ratio is 1.0 or 0.0."""
    return {"name": bank.name, "matching_enabled_ratio": 1.0 if bank.enabled else 0.0}


def hma_lookup(*, team: Team, signal_type: str, signal: str, bank_ids: set[int] | None = None) -> list[SignalHit]:
    return signal_lookup(team_id=team.id, signal_type=signal_type, signal=signal, bank_ids=bank_ids)


def hma_lookup_by_bank(*, team: Team, signal_type: str, signal: str, bank_ids: set[int] | None = None) -> dict:
    hits = hma_lookup(team=team, signal_type=signal_type, signal=signal, bank_ids=bank_ids)
    names = dict(Bank.objects.filter(id__in={hit.bank_id for hit in hits}).values_list("id", "name"))
    result: dict[str, list[dict]] = {}
    for hit in hits:
        result.setdefault(names[hit.bank_id], []).append(
            {"bank_content_id": hit.entry_id, "distance": str(hit.distance)}
        )
    return result
