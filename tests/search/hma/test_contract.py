"""The HMA-compatible endpoints against HMA 2.0's documented shapes (tests/search/hma/contract.py), with
real token auth, two teams, and the lookups' answers checked against the hashes."""

import io

import jsonschema
import pytest
from django.urls import reverse
from PIL import Image
from rest_framework.test import APIClient

from copydetect.signals import image_signals_compute
from search.teams.models import Role
from tests.factories import MembershipFactory, UserFactory, team_with, token_client
from tests.images import encode, scene
from tests.search.hma import contract

pytestmark = pytest.mark.django_db


def check(response, status: int, schema: dict):
    assert response.status_code == status, response.content
    body = response.json()
    jsonschema.validate(body, schema)
    return body


@pytest.fixture
def admin():
    return UserFactory()


@pytest.fixture
def team(admin):
    return team_with(admin)


@pytest.fixture
def api(admin):
    return token_client(admin)


def url(team, name: str, **kwargs) -> str:
    return reverse(f"hma:{name}", kwargs={"team_slug": team.slug, **kwargs})


def _flip(hex_hash: str, bits: int) -> str:
    value = int(hex_hash, 16)
    for bit in range(bits):
        value ^= 1 << (bit * 7)
    return f"{value:064x}"


def _photo(data: bytes):
    handle = io.BytesIO(data)
    handle.name = "photo.jpg"
    return handle


def test_hash_answers_pdq_and_md5_of_the_photo(api, team):
    data = encode(scene(501))
    body = check(api.post(url(team, "hash"), {"photo": _photo(data)}, format="multipart"), 200, contract.HASH)
    expected = image_signals_compute(image=Image.open(io.BytesIO(data)).convert("RGB"), data=data)
    assert body == {"pdq": expected.pdq, "md5": expected.md5}
    check(api.post(url(team, "hash"), {"video": _photo(data)}, format="multipart"), 400, contract.ERROR)
    check(api.post(url(team, "hash"), {}, format="multipart"), 400, contract.ERROR)


def test_banks_create_list_get_update_delete(api, team):
    created = check(api.post(url(team, "banks"), {"name": "TEST_BANK"}, format="json"), 201, contract.BANK_CONFIG)
    assert created == {"name": "TEST_BANK", "matching_enabled_ratio": 1.0}
    check(api.post(url(team, "banks"), {"name": "TEST_BANK"}, format="json"), 403, contract.ERROR)
    check(api.post(url(team, "banks"), {"name": "HALF", "enabled_ratio": 0.5}, format="json"), 400, contract.ERROR)
    check(api.post(url(team, "banks"), {"name": "OFF", "enabled": False}, format="json"), 201, contract.BANK_CONFIG)
    listed = check(api.get(url(team, "banks")), 200, contract.BANK_LIST)
    assert listed == [
        {"name": "OFF", "matching_enabled_ratio": 0.0},
        {"name": "TEST_BANK", "matching_enabled_ratio": 1.0},
    ]
    check(api.get(url(team, "bank", bank_name="TEST_BANK")), 200, contract.BANK_CONFIG)
    missing = check(api.get(url(team, "bank", bank_name="NOPE")), 404, contract.ERROR)
    assert "NOPE" in missing["message"]
    updated = check(
        api.put(url(team, "bank", bank_name="TEST_BANK"), {"enabled": False}, format="json"), 200, contract.BANK_CONFIG
    )
    assert updated["matching_enabled_ratio"] == 0.0
    check(api.put(url(team, "bank", bank_name="TEST_BANK"), {"name": "OFF"}, format="json"), 403, contract.ERROR)
    check(api.delete(url(team, "bank", bank_name="OFF")), 200, contract.DONE)
    assert [bank["name"] for bank in api.get(url(team, "banks")).json()] == ["TEST_BANK"]


def test_signals_added_then_looked_up_raw_and_by_bank(api, team):
    api.post(url(team, "banks"), {"name": "TEST_BANK"}, format="json")
    data = encode(scene(502))
    signals = image_signals_compute(image=Image.open(io.BytesIO(data)).convert("RGB"), data=data)
    added = check(
        api.post(
            url(team, "bank_signal", bank_name="TEST_BANK"), {"pdq": signals.pdq, "md5": signals.md5}, format="json"
        ),
        200,
        contract.SIGNALS_ADDED,
    )
    assert added["signals"] == {"pdq": signals.pdq, "md5": signals.md5}
    check(api.post(url(team, "bank_signal", bank_name="TEST_BANK"), {"pdq": "zz"}, format="json"), 400, contract.ERROR)
    check(api.post(url(team, "bank_signal", bank_name="TEST_BANK"), {"tmk": "00"}, format="json"), 400, contract.ERROR)

    near = _flip(signals.pdq, 5)
    raw = check(api.get(url(team, "raw_lookup"), {"signal": near, "signal_type": "pdq"}), 200, contract.RAW_LOOKUP_IDS)
    assert raw == {"matches": [added["id"]]}
    raw = check(
        api.get(url(team, "raw_lookup"), {"signal": near, "signal_type": "pdq", "include_distance": "true"}),
        200,
        contract.RAW_LOOKUP_DISTANCES,
    )
    assert raw == {"matches": [{"bank_content_id": added["id"], "distance": "5"}]}
    far = _flip(signals.pdq, 32)
    assert api.get(url(team, "raw_lookup"), {"signal": far, "signal_type": "pdq"}).json() == {"matches": []}
    missing = check(api.get(url(team, "raw_lookup"), {"signal_type": "pdq"}), 400, contract.ERROR)
    assert missing["message"] == "signal is required"

    by_bank = check(api.get(url(team, "lookup"), {"signal": near, "signal_type": "pdq"}), 200, contract.MATCHES_BY_BANK)
    assert by_bank == {"TEST_BANK": [{"bank_content_id": added["id"], "distance": "5"}]}
    md5 = check(
        api.get(url(team, "lookup"), {"signal": signals.md5, "signal_type": "video_md5"}), 200, contract.MATCHES_BY_BANK
    )
    assert list(md5) == ["TEST_BANK"] and md5["TEST_BANK"][0]["distance"] == "0"
    assert api.get(url(team, "lookup"), {"signal": near, "signal_type": "pdq", "banks": "OTHER"}).json() == {}

    uploaded = check(
        api.post(url(team, "lookup"), {"photo": _photo(data)}, format="multipart"), 200, contract.MATCHES_BY_SIGNAL_TYPE
    )
    assert set(uploaded) == {"pdq", "md5"} and uploaded["pdq"]["TEST_BANK"][0]["distance"] == "0"

    # A disabled bank matches nothing; enabled again, it matches at the next request (no rebuild).
    api.put(url(team, "bank", bank_name="TEST_BANK"), {"enabled": False}, format="json")
    assert api.get(url(team, "raw_lookup"), {"signal": near, "signal_type": "pdq"}).json() == {"matches": []}
    api.put(url(team, "bank", bank_name="TEST_BANK"), {"enabled": True}, format="json")
    other = _flip(f"{int(signals.pdq, 16) ^ ((1 << 256) - 1):064x}", 0)
    api.post(url(team, "bank_signal", bank_name="TEST_BANK"), {"pdq": other}, format="json")
    assert len(api.get(url(team, "raw_lookup"), {"signal": other, "signal_type": "pdq"}).json()["matches"]) == 1


def test_token_auth_team_scope_and_roles(api, team, admin):
    api.post(url(team, "banks"), {"name": "TEST_BANK"}, format="json")
    check(APIClient().get(url(team, "banks")), 401, contract.ERROR)
    outsider = UserFactory()
    team_with(outsider)
    check(token_client(outsider).get(url(team, "banks")), 404, contract.ERROR)
    check(
        token_client(outsider).get(url(team, "raw_lookup"), {"signal": "f" * 64, "signal_type": "pdq"}),
        404,
        contract.ERROR,
    )
    moderator = UserFactory()
    MembershipFactory(user=moderator, team=team, role=Role.MODERATOR)
    client = token_client(moderator)
    check(client.get(url(team, "raw_lookup"), {"signal": "f" * 64, "signal_type": "pdq"}), 200, contract.RAW_LOOKUP_IDS)
    check(client.post(url(team, "banks"), {"name": "MINE"}, format="json"), 403, contract.ERROR)
    check(
        client.post(url(team, "bank_signal", bank_name="TEST_BANK"), {"pdq": "f" * 64}, format="json"),
        403,
        contract.ERROR,
    )


def test_bank_names_and_bodies_are_what_the_schema_says(api, team):
    for body in (
        {"name": "lower"},  # HMA's UPPER_WITH_UNDERSCORE
        {"name": "OK", "colour": "red"},  # unknown field
        {"name": "OK", "enabled": "true"},  # a boolean is a JSON boolean
    ):
        check(api.post(url(team, "banks"), body, format="json"), 400, contract.ERROR)
    # Lone surrogates (JSON allows them, UTF-8 does not): refused before the database, and an error that
    # quotes one is still written (a 500 once).
    for raw in ('{"name": "\\ud800"}', '{"\\ud800": 1, "name": "OK"}'):
        check(api.post(url(team, "banks"), raw, content_type="application/json"), 400, contract.ERROR)
    form = api.post(url(team, "banks"), {"name": "OK", "enabled": "0"})  # HMA's bank bodies are JSON
    check(form, 415, contract.ERROR)
    check(api.post(url(team, "banks"), {"name": "OK"}, format="json"), 201, contract.BANK_CONFIG)
    assert api.options(url(team, "bank", bank_name="OK")).status_code == 200  # a 500 once


def test_signal_bodies_and_lookups_take_exact_names_and_hashes(api, team):
    api.post(url(team, "banks"), {"name": "TEST_BANK"}, format="json")
    signal = url(team, "bank_signal", bank_name="TEST_BANK")
    for body in ({"pdq": "f" * 64, "extra": {}}, {"PDQ": "f" * 64}, {"pdq": " " + "f" * 64}, {"md5": "f" * 64}):
        check(api.post(signal, body, format="json"), 400, contract.ERROR)
    for params in ({"signal": "", "signal_type": ""}, {"signal": "f" * 64, "signal_type": "sscd"}):
        check(api.get(url(team, "raw_lookup"), params), 400, contract.ERROR)
    check(api.get(url(team, "raw_lookup"), {"signal": "f" * 64, "signal_type": "pdq"}), 200, contract.RAW_LOOKUP_IDS)


def test_unknown_hma_paths_answer_hma_errors(api, team):
    for path in (f"/hma/{team.slug}/nothing", "/hma/not a slug/c/banks", f"/hma/{team.slug}/c/bank/A/B/signal"):
        check(api.get(path), 404, contract.ERROR)
    assert api.get(url(team, "banks"), {"page_size": 1}).status_code == 400  # no paging: unknown parameter
