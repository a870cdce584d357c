import pytest
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from search.teams import services
from search.teams.models import ApiToken
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/collections/"


def _client(header: str | None) -> APIClient:
    client = APIClient()
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    return client


def test_a_valid_token_authenticates_and_records_its_last_use(user):
    token, key = services.api_token_create(user=user, name="ci")
    response = _client(f"Token {key}").get(URL)
    assert response.status_code == 200 and response.json()["results"] == []
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_bearer_is_accepted_as_well(user):
    _, key = services.api_token_create(user=user, name="ci")
    assert _client(f"Bearer {key}").get(URL).status_code == 200


def test_the_key_is_stored_only_as_its_hash(user):
    token, key = services.api_token_create(user=user, name="ci")
    row = ApiToken.objects.get(id=token.id)
    assert key not in {row.key_hash, row.prefix, row.name} and row.key_hash == services.api_token_hash(key)
    assert key.startswith(row.prefix) and len(row.prefix) == 8


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "not_authenticated"),
        ("Token not-a-real-key", "authentication_failed"),
        ("Token", "authentication_failed"),
        ("Token two parts", "authentication_failed"),
    ],
)
def test_requests_without_a_valid_token_get_401_with_a_code(header, code):
    response = _client(header).get(URL)
    assert response.status_code == 401
    assert response.json()["code"] == code
    assert response["WWW-Authenticate"] == "Token"


def test_a_revoked_token_is_refused(user):
    token, key = services.api_token_create(user=user, name="ci")
    services.api_token_revoke(token=token)
    response = _client(f"Token {key}").get(URL)
    assert response.status_code == 401 and response.json()["code"] == "authentication_failed"


def test_the_token_of_a_deactivated_user_is_refused(user):
    _, key = services.api_token_create(user=user, name="ci")
    user.is_active = False
    user.save()
    assert _client(f"Token {key}").get(URL).status_code == 401


def test_the_management_command_prints_a_working_key(user, capsys):
    call_command("api_token_create", user.username, "--name", "nightly import")
    key = capsys.readouterr().out.strip()
    assert ApiToken.objects.get(user=user).name == "nightly import"
    assert _client(f"Token {key}").get(URL).status_code == 200


def test_the_command_refuses_an_unknown_user():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No user named"):
        call_command("api_token_create", "nobody")


def test_the_tokens_page_shows_a_new_key_once_then_only_its_prefix(client, user):
    client.force_login(user)
    page = client.post(reverse("search:api_tokens"), {"name": "crawler"})
    key = page.context["new_key"]
    assert page.status_code == 200 and key in page.content.decode()
    assert page["Cache-Control"] == "no-store"
    assert _client(f"Token {key}").get(URL).status_code == 200
    again = client.get(reverse("search:api_tokens")).content.decode()
    assert key not in again and f"{key[:8]}…" in again and "crawler" in again


def test_revoking_from_the_page_stops_the_key(client, user):
    client.force_login(user)
    key = client.post(reverse("search:api_tokens"), {"name": "crawler"}).context["new_key"]
    token = ApiToken.objects.get(user=user)
    client.post(reverse("search:api_token_revoke", args=[token.id]))
    assert _client(f"Token {key}").get(URL).status_code == 401
    assert "revoked" in client.get(reverse("search:api_tokens")).content.decode()


def test_another_users_token_cannot_be_revoked(client, user):
    token, key = services.api_token_create(user=UserFactory(), name="theirs")
    client.force_login(user)
    assert client.post(reverse("search:api_token_revoke", args=[token.id])).status_code == 404
    assert _client(f"Token {key}").get(URL).status_code == 200


def test_the_user_menu_links_to_the_tokens_page(client, user):
    client.force_login(user)
    assert reverse("search:api_tokens") in client.get(reverse("search:collection_list")).content.decode()


def test_a_logged_in_browser_session_may_use_the_api(client, user):
    client.force_login(user)
    assert client.get(URL).status_code == 200
