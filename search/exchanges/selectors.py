"""Reads of banks' exchanges, for the user asking (another team's bank is a 404 upstream of these)."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Q

from copydetect.exchanges import ExchangeKind
from search.banks.models import Bank
from search.collection.models import ReferenceImage
from search.exchanges.models import BankExchange, ExchangeRun
from search.teams.selectors import team_ids_of


@dataclass(frozen=True)
class ExchangeStatus:
    exchange: BankExchange | None
    runs: list[ExchangeRun]
    active_entries: int = 0
    disabled_entries: int = 0

    @property
    def last_run(self) -> ExchangeRun | None:
        return self.runs[0] if self.runs else None


def bank_exchange_status(*, user: AbstractBaseUser, bank: Bank, runs: int = 5) -> ExchangeStatus:
    exchange = BankExchange.objects.filter(bank=bank, bank__team__in=team_ids_of(user)).first()
    if exchange is None:
        return ExchangeStatus(exchange=None, runs=[])
    counts = ReferenceImage.objects.filter(
        bank=bank, source__startswith=ExchangeKind(exchange.kind).source_prefix
    ).aggregate(
        active=Count("id", filter=Q(disabled_until__isnull=True)),
        disabled=Count("id", filter=Q(disabled_until__isnull=False)),
    )
    return ExchangeStatus(
        exchange=exchange,
        runs=list(exchange.runs.all()[:runs]),
        active_entries=counts["active"],
        disabled_entries=counts["disabled"],
    )
