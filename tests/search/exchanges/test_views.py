"""The exchange section of the bank page: admins configure and ask for a fetch; the page shows the last
run's counts; other teams see nothing."""

import pytest
from django.test import Client
from django.urls import reverse

from search.banks import services as banks_services
from search.exchanges.models import BankExchange, ExchangeRun
from search.teams.models import Role
from tests.factories import MembershipFactory, UserFactory, team_with

pytestmark = pytest.mark.django_db


@pytest.fixture
def bank():
    admin = UserFactory()
    return banks_services.bank_create(actor=admin, team=team_with(admin), name="TE bank")


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_admin_configures_and_the_page_shows_the_last_run(bank):
    client = _client(bank.created_by)
    response = client.post(
        reverse("search:bank_exchange_configure", args=[bank.id]),
        {
            "kind": "fb_threatexchange",
            "enabled": "on",
            "interval_minutes": 30,
            "privacy_group": 1012185296055235,
            "api_token": "1234567890|abcdefghijklmnopqrstuvwxyz",
        },
    )
    assert response.status_code == 302
    exchange = BankExchange.objects.get(bank=bank)
    assert (exchange.kind, exchange.interval_minutes, exchange.config) == (
        "fb_threatexchange",
        30,
        {"privacy_group": 1012185296055235},
    )
    ExchangeRun.objects.create(
        exchange=exchange, state=ExchangeRun.State.DONE, added=12, removed=3, skipped=4, rejected=1
    )
    page = client.get(reverse("search:bank_detail", args=[bank.id])).content.decode()
    assert "Meta ThreatExchange" in page and "+12 new" in page and "3 removed" in page and "Fetch now" in page
    assert "abcdefghijklmnopqrstuvwxyz" not in page  # credentials are never shown back
    client.post(reverse("search:bank_exchange_fetch", args=[bank.id]))
    exchange.refresh_from_db()
    assert exchange.last_run_at is None and exchange.is_due


def test_moderators_see_the_status_but_cannot_configure_and_other_teams_get_404(bank):
    moderator = UserFactory()
    MembershipFactory(user=moderator, team=bank.team, role=Role.MODERATOR)
    url = reverse("search:bank_exchange_configure", args=[bank.id])
    assert _client(moderator).post(url, {"kind": "stop_ncii", "interval_minutes": 60}).status_code == 403
    page = _client(moderator).get(reverse("search:bank_detail", args=[bank.id])).content.decode()
    assert "follows no exchange" in page and "Follow an exchange" not in page
    outsider = UserFactory()
    team_with(outsider)
    assert _client(outsider).post(url, {"kind": "stop_ncii", "interval_minutes": 60}).status_code == 404
    assert not BankExchange.objects.exists()
