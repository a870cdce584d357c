import pytest
from rest_framework.test import APIClient

from tests.images import image_upload
from tests.search.api.conftest import token_client

pytestmark = pytest.mark.django_db


def _rates(settings, **rates) -> None:
    settings.ISC_API = {**settings.ISC_API, "THROTTLE_RATES": {**settings.ISC_API["THROTTLE_RATES"], **rates}}


def test_past_the_user_rate_requests_get_429_throttled_with_retry_after(api, settings):
    _rates(settings, user="3/minute")
    assert [api.get("/api/collections/").status_code for _ in range(3)] == [200, 200, 200]
    response = api.get("/api/collections/")
    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "throttled" and 0 < body["retry_after_seconds"] <= 60
    assert 0 < int(response["Retry-After"]) <= 60


def test_the_limit_counts_per_user(api, stranger_api, settings):
    _rates(settings, user="2/minute")
    api.get("/api/collections/")
    api.get("/api/collections/")
    assert api.get("/api/collections/").status_code == 429
    assert stranger_api.get("/api/collections/").status_code == 200


def test_uploads_have_their_own_lower_limit(api, collection, media_root, settings):
    _rates(settings, upload="1/minute")
    url = f"/api/collections/{collection.id}/references/"
    assert api.post(url, {"file": image_upload("a.jpg", 1)}, format="multipart").status_code == 201
    assert api.post(url, {"file": image_upload("b.jpg", 2)}, format="multipart").json()["code"] == "throttled"
    assert api.get(url).status_code == 200, "reading is not an upload"


def test_anonymous_requests_are_limited_per_address(settings):
    _rates(settings, anon="2/minute")
    anonymous = APIClient()
    codes = [anonymous.get("/api/collections/").json()["code"] for _ in range(3)]
    assert codes == ["not_authenticated", "not_authenticated", "throttled"]


def test_guessing_tokens_is_limited_like_anonymous_requests(settings):
    _rates(settings, anon="2/minute")
    guesser = APIClient()
    guesser.credentials(HTTP_AUTHORIZATION="Token guess")
    codes = [guesser.get("/api/collections/").json()["code"] for _ in range(3)]
    assert codes == ["authentication_failed", "authentication_failed", "throttled"]


def test_token_clients_are_not_slowed_by_the_anonymous_limit(user, settings):
    _rates(settings, anon="1/minute")
    client = token_client(user)
    assert [client.get("/api/collections/").status_code for _ in range(3)] == [200, 200, 200]
