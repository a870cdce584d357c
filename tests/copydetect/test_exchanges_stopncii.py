"""StopNCII through threatexchange's client, against the local FetchHashes stand-in."""

import hashlib
import time

import pytest
from threatexchange.exchanges.clients.stopncii import api as stopncii
from threatexchange.exchanges.impl import stop_ncii_api

from copydetect.exchanges import ExchangeConfigError, ExchangeKind, Removal, exchange_fetch
from copydetect.hashlists import SignalType
from tests.exchange_standins import StopNCIIStandIn
from tests.exchange_standins.stopncii import FETCH_KEY, SUBSCRIPTION_KEY


def pdq(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


@pytest.fixture
def exchange():
    with StopNCIIStandIn() as stand_in:
        yield stand_in


def fetch(stand_in, checkpoint=None, *, subscription_key=SUBSCRIPTION_KEY):
    return exchange_fetch(
        kind=ExchangeKind.STOPNCII,
        name="NCII",
        config={},
        credentials={"fetch_function_key": FETCH_KEY, "subscription_key": subscription_key},
        checkpoint=checkpoint,
        base_url=stand_in.base_url,
    )


def test_fetch_sends_both_keys_and_maps_feedback(exchange):
    now = int(time.time())
    exchange.hash_put(pdq("a"), time=now - 300, feedback=["Blocked"])
    exchange.hash_put(pdq("b"), time=now - 200)
    exchange.hash_put("ab" * 16, time=now - 100, signal_type="VideoMD5")

    batches = list(fetch(exchange))

    additions = [entry for batch in batches for entry in batch.additions]
    assert {entry.signal for entry in additions} == {pdq("a"), pdq("b")}
    blocked = next(entry for entry in additions if entry.signal == pdq("a"))
    assert (blocked.signal_type, blocked.category, blocked.tags) == (SignalType.PDQ, "POSITIVE_CLASS", ("ncii",))
    assert sum(batch.skipped for batch in batches) == 1  # video MD5: not an image signal
    assert batches[-1].checkpoint["update_time"] == now - 100
    request = exchange.requests[0]
    assert request.headers["x-functions-key"] == FETCH_KEY
    assert request.headers["Ocp-Apim-Subscription-Key"] == SUBSCRIPTION_KEY
    assert request.arg("startTimestamp") == "10"  # the library's start of time


def test_withdrawn_and_deleted_cases_become_removals(exchange):
    now = int(time.time())
    for name in "abc":
        exchange.hash_put(pdq(name), time=now - 300)
    checkpoint = list(fetch(exchange))[-1].checkpoint

    exchange.hash_put(pdq("a"), time=now - 50, status="Withdrawn")
    exchange.hash_put(pdq("b"), time=now - 40, status="Deleted")
    exchange.requests.clear()
    batches = list(fetch(exchange, checkpoint))

    assert exchange.requests[0].arg("startTimestamp") == str(now - 300)
    removals = {removal for batch in batches for removal in batch.removals}
    assert removals == {
        Removal(signal_type=SignalType.PDQ, signal=pdq("a")),
        Removal(signal_type=SignalType.PDQ, signal=pdq("b")),
    }


def test_the_library_itself_keeps_withdrawn_hashes():
    """Why StopNCII is fetched through our own record mapping: threatexchange 1.2.17 compares the hash
    text with the case statuses, so a withdrawn hash stays live. If this fails, the library was fixed."""
    record = stopncii.StopNCIIHashRecord(
        lastModtimestamp=1,
        signalType=stopncii.StopNCIISignalType.ImagePDQ,
        hashValue=pdq("w"),
        hashStatus=stopncii.StopNCIICaseStatus.Withdrawn,
        caseNumbers={"1": stopncii.StopNCIICaseStatus.Withdrawn},
    )
    (_, _), metadata = stop_ncii_api._get_delta_mapping(record)
    assert metadata is not None


def test_pages_and_resume_mid_stream(exchange):
    now = int(time.time())
    for number in range(1700):  # 800 a page: three pages
        exchange.hash_put(pdq(str(number)), time=now - 5000 + number)
    batches = list(fetch(exchange))
    assert [len(batch.additions) for batch in batches] == [800, 800, 100]
    assert [request.arg("nextPageToken") for request in exchange.requests] == ["", "800", "1600"]
    # Mid-set pages keep the set's start: a run stopped there reads the whole set again, losing nothing.
    assert [batch.checkpoint["update_time"] for batch in batches] == [10, 10, now - 5000 + 1699]
    resumed = list(fetch(exchange, batches[0].checkpoint))
    assert sum(len(batch.additions) for batch in resumed) == 1700


def test_stale_checkpoint_and_refused_key(exchange):
    stale = {"update_time": 100, "last_fetch_time": int(time.time()) - 31 * 24 * 3600}
    assert fetch(exchange, stale).snapshot
    assert not fetch(exchange, {"update_time": 100, "last_fetch_time": int(time.time())}).snapshot
    with pytest.raises(Exception, match="401"):
        list(fetch(exchange, subscription_key="wrong"))
    with pytest.raises(ExchangeConfigError, match="subscription_key"):
        exchange_fetch(kind="stop_ncii", name="N", config={}, credentials={"fetch_function_key": "k"}, checkpoint=None)
