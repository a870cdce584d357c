"""The bank page's exchange section: configure (admins), fetch now (admins)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from copydetect.exchanges import ExchangeConfigError
from search.banks import selectors as banks_selectors
from search.core.permissions import MANAGE, membership_of
from search.exchanges import selectors, services
from search.exchanges.forms import ExchangeForm


def _admin_bank(request: HttpRequest, bank_id: int):
    bank = banks_selectors.bank_get(user=request.user, bank_id=bank_id)
    membership = membership_of(user=request.user, team=bank.team_id)
    if membership is None or not membership.at_least(MANAGE):
        raise PermissionDenied("Only the team's admins can do this.")
    return bank


@login_required
@require_POST
def bank_exchange_configure(request: HttpRequest, bank_id: int) -> HttpResponse:
    bank = _admin_bank(request, bank_id)
    form = ExchangeForm(request.POST)
    if not form.is_valid():
        messages.error(
            request, "Exchange not saved: " + "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())
        )
        return redirect("search:bank_detail", bank_id=bank.id)
    try:
        services.exchange_configure(actor=request.user, bank=bank, **form.service_arguments())
    except ExchangeConfigError as error:
        messages.error(request, f"Exchange not saved: {error}")
    else:
        messages.success(request, "Exchange saved; it fetches at the next beat tick.")
    return redirect("search:bank_detail", bank_id=bank.id)


@login_required
@require_POST
def bank_exchange_fetch(request: HttpRequest, bank_id: int) -> HttpResponse:
    bank = _admin_bank(request, bank_id)
    status = selectors.bank_exchange_status(user=request.user, bank=bank)
    if status.exchange is not None:
        services.exchange_fetch_requested(actor=request.user, exchange=status.exchange)
        messages.success(request, "Fetch requested: it starts within a minute.")
    return redirect("search:bank_detail", bank_id=bank.id)
