"""NCMEC through threatexchange's client and its time-window fetch, against the local XML stand-in."""

import hashlib
import time

import pytest

from copydetect.exchanges import ExchangeConfigError, ExchangeKind, Removal, exchange_fetch
from copydetect.hashlists import SignalType
from tests.exchange_standins import NCMECStandIn
from tests.exchange_standins.ncmec import PASSWORD, USER


def pdq(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def md5(seed: str) -> str:
    return hashlib.md5(seed.encode()).hexdigest()


@pytest.fixture
def exchange():
    with NCMECStandIn() as stand_in:
        yield stand_in


def fetch(stand_in, checkpoint=None, config=None, password=PASSWORD):
    return exchange_fetch(
        kind=ExchangeKind.NCMEC,
        name="NCMEC",
        config=config or {"environment": "test_Industry"},
        credentials={"user": USER, "password": password},
        checkpoint=checkpoint,
        base_url=stand_in.base_url,
    )


def collect(run):
    batches = list(run)
    additions = [entry for batch in batches for entry in batch.additions]
    removals = [removal for batch in batches for removal in batch.removals]
    return batches, additions, removals


def test_entries_over_many_pages_and_windows(exchange):
    now = int(time.time())
    for number in range(10):  # spread over ten days, more than a page
        exchange.entry_put(
            f"e{number}",
            member_id=42,
            time=now - 86400 * (10 - number),
            fingerprints={"md5": md5(str(number)), "pdq": pdq(str(number)), "sha1": "a" * 40},
        )
    exchange.entry_put("v1", member_id=42, time=now - 3600, fingerprints={"md5": md5("video")}, kind="video")

    batches, additions, removals = collect(fetch(exchange))

    assert removals == []
    assert {(entry.external_id, entry.signal_type) for entry in additions} == {
        (f"42-e{number}", signal_type) for number in range(10) for signal_type in (SignalType.PDQ, SignalType.MD5)
    }
    entry = next(entry for entry in additions if entry.external_id == "42-e3" and entry.signal_type is SignalType.PDQ)
    assert (entry.signal, entry.tags, entry.source) == (pdq("3"), ("A1",), "ncmec:42")
    assert sum(batch.skipped for batch in batches) == 10  # the SHA-1s (the video entry sits outside `images`)
    assert batches[-1].checkpoint["paging_info"] is None  # the whole range was read
    assert batches[-1].checkpoint["get_entries_max_ts"] >= now - 10
    assert all(request.headers["Authorization"].startswith("Basic ") for request in exchange.requests)


def test_resume_reads_only_the_new_range_and_tombstones_remove_whole_entries(exchange):
    now = int(time.time())
    exchange.entry_put("e1", member_id=7, time=now - 7200, fingerprints={"pdq": pdq("1"), "md5": md5("1")})
    exchange.entry_put("e2", member_id=7, time=now - 7100, fingerprints={"pdq": pdq("2")})
    checkpoint = list(fetch(exchange))[-1].checkpoint

    exchange.entry_delete("e1", member_id=7, time=now - 2)
    exchange.entry_put("e3", member_id=7, time=now - 1, fingerprints={"pdq": pdq("3")})
    time.sleep(6)  # the library reads up to five seconds ago
    exchange.requests.clear()
    batches, additions, removals = collect(fetch(exchange, checkpoint))

    assert removals == [Removal(external_id="7-e1")]
    assert [entry.external_id for entry in additions] == ["7-e3"]
    assert exchange.requests[0].arg("from") != ""


def test_member_filter(exchange):
    now = int(time.time())
    for number in range(5):
        exchange.entry_put(
            f"e{number}",
            member_id=1 if number % 2 else 2,
            time=now - 60 + number,
            fingerprints={"pdq": pdq(str(number))},
        )
    _, additions, _ = collect(fetch(exchange, config={"environment": "test_Industry", "only_esp_ids": [1]}))
    assert {entry.external_id for entry in additions} == {"1-e1", "1-e3"}


def test_a_run_stopped_mid_page_resumes_inside_the_range(exchange):
    now = int(time.time())
    # Five entries of one second: whatever windows the library's probing tries, the one that holds them holds all
    # five, so it is read as two pages of three (entries a second apart could fall into windows of three or fewer,
    # one page each, and no run would stop mid-page).
    for number in range(5):
        exchange.entry_put(f"e{number}", member_id=1, time=now - 60, fingerprints={"pdq": pdq(str(number))})
    seen = []
    for batch in fetch(exchange):
        seen.extend(entry.external_id for entry in batch.additions)
        if batch.checkpoint["paging_info"]:  # the worker's budget ends here
            stored = batch.checkpoint
            break
    assert len(seen) == 3
    resumed = fetch(exchange, stored)
    assert not resumed.snapshot
    _, additions, _ = collect(resumed)
    assert sorted(seen + [entry.external_id for entry in additions]) == [f"1-e{number}" for number in range(5)]


def test_settings_and_refused_password(exchange):
    with pytest.raises(ExchangeConfigError, match="environment"):
        fetch(exchange, config={"environment": "Nowhere"})
    with pytest.raises(ExchangeConfigError, match="password"):
        exchange_fetch(kind="ncmec", name="N", config={}, credentials={"user": "u"}, checkpoint=None)
    with pytest.raises(Exception, match="401"):
        list(fetch(exchange, password="wrong"))
