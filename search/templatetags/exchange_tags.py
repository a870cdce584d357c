"""The bank page's exchange panel, so the bank view need not know about exchanges."""

from django import template

from search.core.permissions import MANAGE, membership_of
from search.exchanges import selectors
from search.exchanges.forms import ExchangeForm

register = template.Library()


@register.inclusion_tag("search/_bank_exchange.html", takes_context=True)
def bank_exchange_panel(context, bank):
    user = context["request"].user
    status = selectors.bank_exchange_status(user=user, bank=bank)
    membership = membership_of(user=user, team=bank.team_id)
    exchange = status.exchange
    initial = {}
    if exchange is not None:
        config = exchange.config
        initial = {
            "kind": exchange.kind,
            "enabled": exchange.enabled,
            "interval_minutes": exchange.interval_minutes,
            "privacy_group": config.get("privacy_group"),
            "environment": config.get("environment"),
            "only_esp_ids": ",".join(str(i) for i in config.get("only_esp_ids", [])),
            "filename": config.get("filename", ""),
            "file_signal_type": config.get("signal_type", ""),
        }
    return {
        "bank": bank,
        "status": status,
        "is_admin": membership is not None and membership.at_least(MANAGE),
        "form": ExchangeForm(initial=initial),
        "csrf_token": context.get("csrf_token"),
    }
