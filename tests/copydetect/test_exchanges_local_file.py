"""threatexchange's file exchange, read whole on every fetch."""

import hashlib

from copydetect.exchanges import ExchangeKind, exchange_fetch
from copydetect.hashlists import SignalType


def pdq(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def fetch(path, signal_type=None, checkpoint=None):
    return exchange_fetch(
        kind=ExchangeKind.LOCAL_FILE,
        name="FILE",
        config={"filename": str(path), "signal_type": signal_type},
        credentials={},
        checkpoint=checkpoint,
    )


def test_typed_lines_with_the_library_names(tmp_path):
    path = tmp_path / "signals.txt"
    md5 = hashlib.md5(b"x").hexdigest()
    path.write_text(f"pdq {pdq('a')}\nvideo_md5 {md5.upper()}\nurl https://example.org\npdq 1234\n\n")

    run = fetch(path)
    batches = list(run)

    assert run.snapshot and len(batches) == 1
    batch = batches[0]
    assert {(entry.signal_type, entry.signal) for entry in batch.additions} == {
        (SignalType.PDQ, pdq("a")),
        (SignalType.MD5, md5),
    }
    assert batch.skipped == 1 and len(batch.rejected) == 1
    assert "64 hex" in batch.rejected[0].reason
    assert batch.checkpoint == {}


def test_every_fetch_is_a_snapshot_of_the_file(tmp_path):
    path = tmp_path / "signals.txt"
    path.write_text(f"{pdq('a')}\n{pdq('b')}\n")
    first = list(fetch(path, signal_type="pdq"))
    path.write_text(f"{pdq('b')}\n")
    second = fetch(path, signal_type="pdq", checkpoint=first[-1].checkpoint)
    assert second.snapshot  # the file cannot say what went: what this run lacks was removed
    assert [entry.signal for batch in second for entry in batch.additions] == [pdq("b")]
