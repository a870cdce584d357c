"""A bank's exchange: encrypted credentials, fetches through the worker task against local stand-ins,
removals upstream disabled (never deleted), snapshots, budgets and failures."""

import hashlib
import time

import pytest
from django.core.exceptions import PermissionDenied

from copydetect.exchanges import ExchangeConfigError
from copydetect.hashlists import HashEntry, SignalType
from search.banks import services as banks_services
from search.banks.models import BankEntry
from search.exchanges import services
from search.exchanges.credentials import credentials_decrypt
from search.exchanges.models import BankExchange, ExchangeRun
from search.teams.models import Role
from tests.exchange_standins import NCMECStandIn, StopNCIIStandIn
from tests.exchange_standins.ncmec import PASSWORD as NCMEC_PASSWORD
from tests.exchange_standins.ncmec import USER as NCMEC_USER
from tests.exchange_standins.stopncii import FETCH_KEY, SUBSCRIPTION_KEY
from tests.factories import MembershipFactory, UserFactory, team_with
from workers.tasks import exchanges as exchange_tasks

pytestmark = pytest.mark.django_db


def pdq(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


@pytest.fixture(autouse=True)
def _eager(eager_tasks):
    """The beat job queues fetches; they run in process here (a real worker runs them in tests/system)."""
    return eager_tasks


@pytest.fixture
def bank():
    admin = UserFactory()
    return banks_services.bank_create(actor=admin, team=team_with(admin), name="NCII")


@pytest.fixture
def stopncii():
    with StopNCIIStandIn() as stand_in:
        yield stand_in


def _stopncii_exchange(bank, stand_in) -> BankExchange:
    exchange = services.exchange_configure(
        actor=bank.created_by,
        bank=bank,
        kind="stop_ncii",
        config={},
        credentials={"fetch_function_key": FETCH_KEY, "subscription_key": SUBSCRIPTION_KEY},
    )
    BankExchange.objects.filter(id=exchange.id).update(base_url=stand_in.base_url)  # operators only
    exchange.refresh_from_db()
    return exchange


def _beat_tick() -> None:
    exchange_tasks.exchanges_fetch_due.apply().get()


def _entries(bank) -> dict[str, bool]:
    return {entry.signal: entry.disabled_until is None for entry in BankEntry.objects.filter(bank=bank)}


def test_credentials_are_encrypted_at_rest_and_only_admins_configure(bank):
    exchange = services.exchange_configure(
        actor=bank.created_by,
        bank=bank,
        kind="ncmec",
        config={"environment": "Industry"},
        credentials={"user": "esp-user-name", "password": "s3cret-pass"},
    )
    stored = BankExchange.objects.get(id=exchange.id).credentials_encrypted
    assert "s3cret-pass" not in stored and "esp-user-name" not in stored
    assert credentials_decrypt(stored) == {"user": "esp-user-name", "password": "s3cret-pass"}
    assert len(exchange.credentials_hint) == 8
    # Blank credentials keep the stored ones.
    services.exchange_configure(
        actor=bank.created_by, bank=bank, kind="ncmec", config={"environment": "Industry"}, credentials={}
    )
    assert (
        credentials_decrypt(BankExchange.objects.get(id=exchange.id).credentials_encrypted)["password"] == "s3cret-pass"
    )
    moderator = UserFactory()
    MembershipFactory(user=moderator, team=bank.team, role=Role.MODERATOR)
    with pytest.raises(PermissionDenied):
        services.exchange_configure(actor=moderator, bank=bank, kind="stop_ncii", config={}, credentials={})
    with pytest.raises(ExchangeConfigError, match="credentials needed"):
        services.exchange_configure(actor=bank.created_by, bank=bank, kind="tat", config={}, credentials={})


def test_beat_fetches_then_a_withdrawn_hash_is_disabled_not_deleted(bank, stopncii):
    now = int(time.time())
    for name in "abc":
        stopncii.hash_put(pdq(name), time=now - 300)
    exchange = _stopncii_exchange(bank, stopncii)

    _beat_tick()

    run = ExchangeRun.objects.get(exchange=exchange)
    assert (run.state, run.added, run.removed, run.snapshot) == (ExchangeRun.State.DONE, 3, 0, True)
    assert _entries(bank) == {pdq("a"): True, pdq("b"): True, pdq("c"): True}
    entry = BankEntry.objects.get(bank=bank, signal=pdq("a"))
    assert entry.source.startswith("stop_ncii:") and entry.signal_type == "pdq"
    exchange.refresh_from_db()
    assert exchange.checkpoint["update_time"] == now - 300 and exchange.last_success_at is not None

    _beat_tick()  # not due yet: nothing runs
    assert ExchangeRun.objects.filter(exchange=exchange).count() == 1

    stopncii.hash_put(pdq("a"), time=now - 10, status="Withdrawn")
    stopncii.hash_put(pdq("d"), time=now - 5)
    BankExchange.objects.filter(id=exchange.id).update(last_run_at=None)  # due again ("fetch now")
    stopncii.requests.clear()
    _beat_tick()

    assert stopncii.requests[0].arg("startTimestamp") == str(now - 300)  # resumed from the checkpoint
    latest = ExchangeRun.objects.filter(exchange=exchange).first()
    assert (latest.added, latest.removed, latest.snapshot) == (1, 1, False)
    assert _entries(bank) == {pdq("a"): False, pdq("b"): True, pdq("c"): True, pdq("d"): True}


def test_a_run_stopped_by_its_budget_resumes_at_the_next_tick(bank, stopncii, settings):
    now = int(time.time())
    for number in range(1700):  # three pages of 800
        stopncii.hash_put(pdq(str(number)), time=now - 5000 + number)
    exchange = _stopncii_exchange(bank, stopncii)
    exchange = services.exchange_claim(exchange_id=exchange.id)
    first = services.exchange_fetch_run(exchange=exchange, budget_seconds=0).run
    assert (first.state, first.batches, first.added) == (ExchangeRun.State.PARTIAL, 1, 800)

    assert exchange.id in services.exchanges_due_ids()  # a partial run is resumed without waiting
    _beat_tick()
    second = ExchangeRun.objects.filter(exchange=exchange).first()
    # StopNCII resumes a set it stopped inside from the set's start: the first 800 are already held.
    assert (second.state, second.added, second.already_held) == (ExchangeRun.State.DONE, 900, 800)
    assert BankEntry.objects.filter(bank=bank).count() == 1700


def test_failed_fetch_is_recorded_without_the_credentials(bank, stopncii):
    exchange = services.exchange_configure(
        actor=bank.created_by,
        bank=bank,
        kind="stop_ncii",
        config={},
        credentials={"fetch_function_key": FETCH_KEY, "subscription_key": "wrong-subscription-key"},
    )
    BankExchange.objects.filter(id=exchange.id).update(base_url=stopncii.base_url)
    _beat_tick()
    run = ExchangeRun.objects.get(exchange=exchange)
    exchange.refresh_from_db()
    assert run.state == ExchangeRun.State.FAILED and "401" in run.error
    assert "wrong-subscription-key" not in run.error
    assert exchange.state == BankExchange.State.FAILED and exchange.last_error == run.error


def test_signal_file_snapshot_disables_what_the_file_no_longer_lists(bank, settings, tmp_path):
    settings.ISC = settings.ISC.replace(import_roots=(str(tmp_path),))
    folder = tmp_path / bank.team.slug
    folder.mkdir()
    path = folder / "list.txt"
    path.write_text(f"pdq {pdq('a')}\npdq {pdq('b')}\n")
    banks_services.bank_entries_add(bank=bank, entries=[HashEntry(SignalType.PDQ, pdq("by-hand"))])
    exchange = services.exchange_configure(
        actor=bank.created_by, bank=bank, kind="local_file", config={"filename": str(path)}
    )
    _beat_tick()
    path.write_text(f"pdq {pdq('b')}\n")
    BankExchange.objects.filter(id=exchange.id).update(last_run_at=None)
    _beat_tick()
    assert _entries(bank) == {pdq("a"): False, pdq("b"): True, pdq("by-hand"): True}
    assert ExchangeRun.objects.filter(exchange=exchange).first().removed == 1
    # Back in the file: enabled again.
    path.write_text(f"pdq {pdq('a')}\npdq {pdq('b')}\n")
    BankExchange.objects.filter(id=exchange.id).update(last_run_at=None)
    _beat_tick()
    assert _entries(bank)[pdq("a")] is True
    with pytest.raises(ExchangeConfigError, match="import folders"):
        services.exchange_configure(
            actor=bank.created_by, bank=bank, kind="local_file", config={"filename": "/etc/passwd"}
        )


def test_ncmec_tombstone_disables_every_signal_of_the_entry(bank):
    now = int(time.time())
    with NCMECStandIn() as ncmec:
        ncmec.entry_put("e1", member_id=5, time=now - 7200, fingerprints={"pdq": pdq("1"), "md5": "ab" * 16})
        ncmec.entry_put("e2", member_id=5, time=now - 7100, fingerprints={"pdq": pdq("2")})
        exchange = services.exchange_configure(
            actor=bank.created_by,
            bank=bank,
            kind="ncmec",
            config={"environment": "test_Industry"},
            credentials={"user": NCMEC_USER, "password": NCMEC_PASSWORD},
        )
        BankExchange.objects.filter(id=exchange.id).update(base_url=ncmec.base_url)
        _beat_tick()
        assert BankEntry.objects.filter(bank=bank, external_id="5-e1").count() == 2
        ncmec.entry_delete("e1", member_id=5, time=int(time.time()))
        time.sleep(6)  # NCMEC reads up to five seconds ago
        BankExchange.objects.filter(id=exchange.id).update(last_run_at=None)
        _beat_tick()
    assert _entries(bank) == {pdq("1"): False, "ab" * 16: False, pdq("2"): True}
