"""ThreatExchange through threatexchange's client, against the local /threat_updates stand-in."""

import hashlib
import time

import pytest

from copydetect.exchanges import ExchangeConfigError, ExchangeKind, FetchCounts, Removal, exchange_fetch
from copydetect.hashlists import SignalType
from tests.exchange_standins import ThreatExchangeStandIn
from tests.exchange_standins.threatexchange import TOKEN


def pdq(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


@pytest.fixture
def exchange():
    with ThreatExchangeStandIn() as stand_in:
        yield stand_in


def fetch(stand_in, checkpoint=None, token=TOKEN):
    return exchange_fetch(
        kind=ExchangeKind.THREATEXCHANGE,
        name="TE_BANK",
        config={"privacy_group": stand_in.privacy_group},
        credentials={"api_token": token},
        checkpoint=checkpoint,
        base_url=stand_in.base_url,
    )


def test_first_fetch_pages_through_every_update_and_maps_types(exchange):
    now = int(time.time())
    for number in range(1, 151):  # two pages of 100 (the library's page size)
        exchange.indicator_put(
            str(number), type="HASH_PDQ", indicator=pdq(str(number)), time=now - 1000 + number, tags=["csam"]
        )
    exchange.indicator_put("900", type="HASH_MD5", indicator="D41D8CD98F00B204E9800998ECF8427E", time=now - 10)
    exchange.indicator_put("901", type="URI", indicator="https://example.org/x", time=now - 9)
    exchange.indicator_put("902", type="HASH_PDQ", indicator="not-a-hash", time=now - 8)

    run = fetch(exchange)
    assert run.snapshot  # no checkpoint yet: this run lists everything upstream
    batches = list(run)
    counts = FetchCounts()
    for batch in batches:
        counts.add(batch)

    assert counts.batches == 2
    assert (counts.added, counts.removed, counts.skipped, counts.rejected) == (151, 0, 1, 1)
    additions = [entry for batch in batches for entry in batch.additions]
    first = next(entry for entry in additions if entry.signal == pdq("1"))
    assert (first.signal_type, first.tags, first.category) == (SignalType.PDQ, ("csam",), "POSITIVE_CLASS")
    md5 = next(entry for entry in additions if entry.signal_type is SignalType.MD5)
    assert md5.signal == "d41d8cd98f00b204e9800998ecf8427e"
    assert batches[-1].checkpoint["update_time"] == now - 8
    assert batches[-1].progress_timestamp == now - 8
    assert "not-a-hash" in counts.rejected_examples[0].signal
    first_request = exchange.requests[0]
    assert first_request.arg("access_token") == TOKEN and first_request.arg("limit") == "100"


def test_resumed_fetch_asks_from_the_checkpoint_and_turns_tombstones_into_removals(exchange):
    now = int(time.time())
    exchange.indicator_put("1", type="HASH_PDQ", indicator=pdq("1"), time=now - 500)
    exchange.indicator_put("2", type="HASH_PDQ", indicator=pdq("2"), time=now - 400)
    checkpoint = list(fetch(exchange))[-1].checkpoint

    exchange.indicator_delete("1", time=now - 100)
    exchange.indicator_put("3", type="HASH_PDQ", indicator=pdq("3"), time=now - 50, status="NON_MALICIOUS")
    exchange.requests.clear()
    run = fetch(exchange, checkpoint)
    assert not run.snapshot
    batches = list(run)

    assert exchange.requests[0].arg("start_time") == str(now - 400)
    removals = [removal for batch in batches for removal in batch.removals]
    additions = [entry for batch in batches for entry in batch.additions]
    assert removals == [Removal(signal_type=SignalType.PDQ, signal=pdq("1"))]
    # Indicator 2 comes back at the boundary (start_time is inclusive); applying it again changes nothing.
    assert {entry.signal: entry.category for entry in additions} == {
        pdq("2"): "POSITIVE_CLASS",
        pdq("3"): "NEGATIVE_CLASS",
    }


def test_an_abandoned_run_resumes_after_its_last_stored_batch(exchange):
    now = int(time.time())
    for number in range(1, 251):
        exchange.indicator_put(str(number), type="HASH_PDQ", indicator=pdq(str(number)), time=now - 1000 + number)
    first_batch = next(iter(fetch(exchange)))  # the worker stops after one batch (its budget)
    rest = list(fetch(exchange, first_batch.checkpoint))
    seen = {entry.signal for entry in first_batch.additions} | {
        entry.signal for batch in rest for entry in batch.additions
    }
    assert seen == {pdq(str(number)) for number in range(1, 251)}
    assert len(rest) == 2  # 151 updates from the checkpoint on (the boundary one again): two pages


def test_stale_checkpoint_starts_over_as_a_snapshot(exchange):
    stale = {"update_time": 1_700_000_000, "last_fetch_time": int(time.time()) - 86 * 24 * 3600}
    assert fetch(exchange, stale).snapshot


def test_refused_token_and_bad_settings(exchange):
    with pytest.raises(ExchangeConfigError, match="token"):
        fetch(exchange, token="not-a-token")
    with pytest.raises(ExchangeConfigError, match="privacy group"):
        exchange_fetch(kind="fb_threatexchange", name="X", config={}, credentials={"api_token": TOKEN}, checkpoint=None)
    wrong = "1234567890|zzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"
    with pytest.raises(Exception, match="400"):
        list(fetch(exchange, token=wrong))
