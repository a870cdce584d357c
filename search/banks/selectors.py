"""Reads of hash banks, always for the user asking: another team's bank is a 404."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Q, QuerySet
from django.shortcuts import get_object_or_404

from search.banks.models import Bank, BankEntry, BankImport
from search.teams.models import Team
from search.teams.selectors import team_ids_of


def bank_list(*, user: AbstractBaseUser, team: Team) -> QuerySet[Bank]:
    return (
        Bank.objects.filter(team=team, team__in=team_ids_of(user))
        .annotate(
            entry_count=Count("entries", distinct=True),
            disabled_count=Count("entries", filter=Q(entries__disabled_until__isnull=False), distinct=True),
        )
        .order_by("name")
    )


def bank_get(*, user: AbstractBaseUser, bank_id: int) -> Bank:
    return get_object_or_404(Bank.objects.select_related("team"), id=bank_id, team__in=team_ids_of(user))


def bank_entry_list(*, user: AbstractBaseUser, bank: Bank, search: str = "") -> QuerySet[BankEntry]:
    entries = BankEntry.objects.filter(bank=bank, bank__team__in=team_ids_of(user)).order_by("-id")
    if search:
        entries = entries.filter(
            Q(external_id__icontains=search) | Q(signal__startswith=search.lower()) | Q(tags__icontains=search)
        )
    return entries


def bank_signal_counts(*, bank: Bank) -> dict[str, int]:
    return dict(bank.entries.values_list("signal_type").annotate(n=Count("id")).order_by())


def bank_import_list(*, user: AbstractBaseUser, bank: Bank, limit: int = 10) -> list[BankImport]:
    return list(BankImport.objects.filter(bank=bank, bank__team__in=team_ids_of(user)).order_by("-id")[:limit])


def bank_import_get(*, user: AbstractBaseUser, job_id: int) -> BankImport:
    return get_object_or_404(
        BankImport.objects.select_related("bank__team"), id=job_id, bank__team__in=team_ids_of(user)
    )
