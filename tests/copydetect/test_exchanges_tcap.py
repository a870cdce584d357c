"""TCAP (Tech Against Terrorism) through threatexchange's TAT client, against the local stand-in."""

import hashlib

import pytest

from copydetect.exchanges import ExchangeKind, Removal, exchange_fetch
from copydetect.hashlists import SignalType
from tests.exchange_standins import TCAPStandIn
from tests.exchange_standins.tcap import JWT, PASSWORD, USERNAME


def pdq(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def md5(seed: str) -> str:
    return hashlib.md5(seed.encode()).hexdigest()


@pytest.fixture
def exchange():
    with TCAPStandIn() as stand_in:
        yield stand_in


def fetch(stand_in, checkpoint=None, password=PASSWORD):
    return exchange_fetch(
        kind=ExchangeKind.TCAP,
        name="TCAP",
        config={},
        credentials={"username": USERNAME, "password": password},
        checkpoint=checkpoint,
        base_url=stand_in.base_url,
    )


def test_pages_keep_image_md5_and_skip_video_md5(exchange):
    exchange.record_put(1, hash_digest=pdq("1"), algorithm="PDQ", file_type="jpg", time=1_764_000_001.5)
    exchange.record_put(2, hash_digest=md5("2"), algorithm="MD5", file_type="png", time=1_764_000_002.5)
    exchange.record_put(3, hash_digest=md5("3"), algorithm="MD5", file_type="mp4", time=1_764_000_003.5)
    exchange.record_put(4, hash_digest="zz", algorithm="PDQ", file_type="jpg", time=1_764_000_004.5)
    exchange.record_put(5, hash_digest=pdq("5"), algorithm="PDQ", file_type="jpg", time=1_764_000_005.5)

    batches = list(fetch(exchange))

    assert len(batches) == 3  # two records a page
    additions = {entry.signal: entry for batch in batches for entry in batch.additions}
    assert set(additions) == {pdq("1"), md5("2"), pdq("5")}
    assert additions[md5("2")].signal_type is SignalType.MD5
    assert additions[pdq("1")].tags == ("far-right",)
    assert sum(batch.skipped for batch in batches) == 1
    assert sum(len(batch.rejected) for batch in batches) == 1
    assert batches[-1].checkpoint == {"checkpoint": "1764000005.5,5"}
    assert batches[-1].progress_timestamp == 1_764_000_005
    pages = [request for request in exchange.requests if request.method == "GET"]
    assert all(request.headers["Authorization"] == f"Bearer {JWT}" for request in pages)
    assert [request.arg("offset") for request in pages] == ["", "2", "4"]


def test_resume_after_checkpoint_and_deletions(exchange):
    exchange.record_put(1, hash_digest=pdq("1"), algorithm="PDQ", file_type="jpg", time=1_764_000_001.0)
    checkpoint = list(fetch(exchange))[-1].checkpoint
    exchange.record_put(1, hash_digest=pdq("1"), algorithm="PDQ", file_type="jpg", time=1_764_000_010.0, deleted=True)
    exchange.record_put(2, hash_digest=pdq("2"), algorithm="PDQ", file_type="jpg", time=1_764_000_011.0)
    exchange.requests.clear()

    batches = list(fetch(exchange, checkpoint))

    assert exchange.requests[-1].arg("after") == "1764000001.0,1"
    assert [removal for batch in batches for removal in batch.removals] == [
        Removal(signal_type=SignalType.PDQ, signal=pdq("1"))
    ]
    assert [entry.signal for batch in batches for entry in batch.additions] == [pdq("2")]


def test_refused_login(exchange):
    with pytest.raises(Exception, match="400"):
        list(fetch(exchange, password="wrong"))
