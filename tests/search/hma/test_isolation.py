"""Team scope and roles on every endpoint of the HMA-compatible API (/hma/<team>/): another team's token
gets HMA's 404 and changes nothing, no token gets a 401, a role too low a 403 that changes nothing, and a
role high enough gets through. Real token auth, two teams, each with a bank holding a PDQ and an MD5."""

import hashlib
import io
from dataclasses import dataclass

import jsonschema
import pytest
from django.core.cache import cache
from django.urls import URLPattern, get_resolver, reverse
from rest_framework.test import APIClient

from copydetect.hashlists import HashEntry, SignalType
from search.banks import services as banks_services
from search.banks.models import Bank
from search.collection.models import ReferenceImage
from search.core.models import AuditEvent
from search.lookback.models import LookbackJob
from search.teams.models import Role, Team
from tests.factories import MembershipFactory, UserFactory, team_with, token_client
from tests.images import encode, scene
from tests.search.hma import contract

pytestmark = pytest.mark.django_db

BANK = "SHARED_NAME"  # both teams call their bank this: a name alone must never reach the other team's


@dataclass
class HmaWorld:
    admin: object
    team: Team
    bank: Bank
    pdq: str
    md5: str

    def client(self, role: Role) -> APIClient:
        return token_client(MembershipFactory(team=self.team, role=role).user)


def _world(seed: int) -> HmaWorld:
    admin = UserFactory()
    team = team_with(admin)
    bank = banks_services.bank_create(actor=admin, team=team, name=BANK)
    # Unrelated hashes (about 128 bits apart), so one team's PDQ is not within the other's threshold.
    pdq, md5 = hashlib.sha256(b"%d" % seed).hexdigest(), hashlib.md5(b"%d" % seed).hexdigest()
    banks_services.bank_entries_add(
        bank=bank,
        entries=[HashEntry(SignalType.PDQ, pdq, external_id=f"p{seed}"), HashEntry(SignalType.MD5, md5)],
    )
    return HmaWorld(admin, team, bank, pdq, md5)


@pytest.fixture(autouse=True)
def throttle_counters_cleared():
    # Throttle counters live in the cache; one test's requests must not count in the next.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def worlds(media_root):
    return _world(0x1111), _world(0x2222)


def _photo():
    handle = io.BytesIO(encode(scene(601)))
    handle.name = "photo.jpg"
    return handle


# (url name, method, body factory, body format, the least role that may do it); GET bodies are the query.
def _endpoints(w: HmaWorld):
    return [
        ("hash", "post", lambda: {"photo": _photo()}, "multipart", Role.VIEWER),
        ("raw_lookup", "get", lambda: {"signal": w.pdq, "signal_type": "pdq"}, None, Role.VIEWER),
        ("lookup", "get", lambda: {"signal": w.md5, "signal_type": "md5"}, None, Role.VIEWER),
        ("lookup", "post", lambda: {"photo": _photo()}, "multipart", Role.VIEWER),
        ("banks", "get", None, None, Role.VIEWER),
        ("bank", "get", None, None, Role.VIEWER),
        ("banks", "post", lambda: {"name": "NEW_BANK"}, "json", Role.ADMIN),
        ("bank", "put", lambda: {"enabled": False}, "json", Role.ADMIN),
        ("bank_signal", "post", lambda: {"pdq": "c" * 64}, "json", Role.ADMIN),
        ("bank", "delete", None, None, Role.ADMIN),  # last: the rows before need the bank
    ]


def _call(client: APIClient, w: HmaWorld, name: str, method: str, body, body_format):
    kwargs = {"team_slug": w.team.slug}
    if name in ("bank", "bank_signal"):
        kwargs["bank_name"] = BANK
    url = reverse(f"hma:{name}", kwargs=kwargs)
    if method == "get":
        return client.get(url, body() if body else None)
    return getattr(client, method)(url, body() if body else None, format=body_format)


def _snapshot(w: HmaWorld):
    return (
        sorted(Bank.objects.filter(team=w.team).values_list("id", "name", "enabled", "pdq_threshold")),
        sorted(
            ReferenceImage.objects.filter(bank__team=w.team).values_list(
                "id", "bank_id", "sha256", "disabled_until", "deleted_at"
            )
        ),
        sorted(LookbackJob.objects.filter(team=w.team).values_list("id", "state", "item_ids")),
        AuditEvent.objects.filter(team=w.team).count(),
    )


def _error(response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.content)
    body = response.json()
    assert set(body) == {"message"} and isinstance(body["message"], str), body
    return body


def test_every_hma_endpoint_and_method_is_in_the_table(worlds):
    served = set()
    for pattern in get_resolver("search.hma.urls").url_patterns:
        assert isinstance(pattern, URLPattern)
        view = pattern.callback.view_class
        if pattern.name == "not_found":
            continue  # answers every path that no endpoint takes with 404 (test_contract.py)
        for method in view.http_method_names:
            if method not in ("options", "head") and hasattr(view, method):
                served.add((pattern.name, method))
    assert served == {(row[0], row[1]) for row in _endpoints(worlds[0])}, "a new HMA endpoint needs a row"


def test_another_teams_token_gets_404_on_every_endpoint_and_nothing_changes(worlds):
    mine, theirs = worlds
    client = token_client(mine.admin)  # admin of their own team: a refusal here is scope, not role
    for name, method, body, body_format, _ in _endpoints(theirs):
        before = _snapshot(theirs)
        _error(_call(client, theirs, name, method, body, body_format), 404)
        assert _snapshot(theirs) == before, (name, method, "changed another team's data")


def test_a_bank_name_on_my_own_slug_reaches_only_my_bank(worlds):
    """Both banks are called the same: on my slug, the name is my bank, and their entries never match."""
    mine, theirs = worlds
    client = token_client(mine.admin)
    theirs_before = _snapshot(theirs)
    raw = client.get(
        reverse("hma:raw_lookup", kwargs={"team_slug": mine.team.slug}), {"signal": theirs.pdq, "signal_type": "pdq"}
    )
    assert raw.status_code == 200 and raw.json() == {"matches": []}
    own = client.get(
        reverse("hma:raw_lookup", kwargs={"team_slug": mine.team.slug}), {"signal": mine.pdq, "signal_type": "pdq"}
    ).json()["matches"]
    assert [ReferenceImage.objects.get(id=entry_id).bank_id for entry_id in own] == [mine.bank.id]
    md5 = client.get(
        reverse("hma:lookup", kwargs={"team_slug": mine.team.slug}),
        {"signal": theirs.md5, "signal_type": "md5", "banks": BANK},
    )
    assert md5.status_code == 200 and md5.json() == {}
    mine_hit = client.get(
        reverse("hma:lookup", kwargs={"team_slug": mine.team.slug}), {"signal": mine.md5, "signal_type": "md5"}
    ).json()
    assert list(mine_hit) == [BANK] and len(mine_hit[BANK]) == 1
    assert ReferenceImage.objects.get(id=mine_hit[BANK][0]["bank_content_id"]).bank_id == mine.bank.id
    mine_slug = {"team_slug": mine.team.slug, "bank_name": BANK}
    assert client.put(reverse("hma:bank", kwargs=mine_slug), {"enabled": False}, format="json").status_code == 200
    assert (
        client.post(reverse("hma:bank_signal", kwargs=mine_slug), {"md5": "e" * 32}, format="json").status_code == 200
    )
    assert client.delete(reverse("hma:bank", kwargs=mine_slug)).status_code == 200
    assert not Bank.objects.filter(id=mine.bank.id).exists()
    assert _snapshot(theirs) == theirs_before


@pytest.mark.parametrize("credentials", [None, "Token not-a-real-token"])
def test_no_valid_token_is_401_on_every_endpoint_and_nothing_changes(worlds, credentials):
    mine, _ = worlds
    client = APIClient()
    if credentials:
        client.credentials(HTTP_AUTHORIZATION=credentials)
    for name, method, body, body_format, _ in _endpoints(mine):
        before = _snapshot(mine)
        _error(_call(client, mine, name, method, body, body_format), 401)
        assert _snapshot(mine) == before, (name, method)


def test_a_session_without_membership_is_404_not_a_leak(client, worlds):
    """The API also accepts a browser session (its docs page): a signed-in stranger is a stranger."""
    mine, _ = worlds
    client.force_login(UserFactory())
    response = client.get(reverse("hma:banks", kwargs={"team_slug": mine.team.slug}))
    _error(response, 404)


@pytest.mark.parametrize("role", [Role.VIEWER, Role.UPLOADER, Role.MODERATOR])
def test_a_role_too_low_is_403_and_changes_nothing(worlds, role):
    mine, _ = worlds
    client = mine.client(role)
    for name, method, body, body_format, minimum in _endpoints(mine):
        if role.at_least(minimum):
            continue
        before = _snapshot(mine)
        body_of = _error(_call(client, mine, name, method, body, body_format), 403)
        assert "admin" in body_of["message"].lower(), body_of
        assert _snapshot(mine) == before, (role, name, method)


@pytest.mark.parametrize("role", list(Role))
def test_a_role_high_enough_gets_through_with_hmas_shapes(worlds, role):
    mine, _ = worlds
    client = mine.client(role)
    shapes = {
        ("hash", "post"): contract.HASH,
        ("raw_lookup", "get"): contract.RAW_LOOKUP_IDS,
        ("lookup", "get"): contract.MATCHES_BY_BANK,
        ("lookup", "post"): contract.MATCHES_BY_SIGNAL_TYPE,
        ("banks", "get"): contract.BANK_LIST,
        ("bank", "get"): contract.BANK_CONFIG,
        ("banks", "post"): contract.BANK_CONFIG,
        ("bank", "put"): contract.BANK_CONFIG,
        ("bank_signal", "post"): contract.SIGNALS_ADDED,
        ("bank", "delete"): contract.DONE,
    }
    for name, method, body, body_format, minimum in _endpoints(mine):
        if not role.at_least(minimum):
            continue
        response = _call(client, mine, name, method, body, body_format)
        assert response.status_code in (200, 201), (role, name, method, response.status_code, response.content)
        jsonschema.validate(response.json(), shapes[(name, method)])
    if role == Role.ADMIN:
        assert not Bank.objects.filter(id=mine.bank.id).exists()
        assert Bank.objects.filter(team=mine.team, name="NEW_BANK").exists()
    else:
        assert Bank.objects.filter(id=mine.bank.id, enabled=True).exists()
