import os

import numpy as np
import pytest

from copydetect.pdq_index import PdqChange, PdqIndex, pdq_hex_of_codes
from copydetect.pdq_index.snapshot import (
    PdqSnapshotWriter,
    SnapshotCorrupt,
    pdq_snapshot_load,
    pdq_snapshot_write,
)


def _codes(seed: int, count: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2**64, size=(count, 4), dtype=np.uint64)


def _near(code: np.ndarray, bits: int) -> np.ndarray:
    out = code.copy()
    for bit in range(bits):
        out[bit // 64] ^= np.uint64(1) << np.uint64(bit % 64)
    return out


def _results(index: PdqIndex, queries: np.ndarray, **options) -> list:
    return [[(m.entry_id, m.bank_id, m.distance) for m in index.lookup(q, **options)] for q in queries]


def test_a_snapshot_loads_as_memory_maps_and_answers_like_the_index_it_came_from(tmp_path):
    codes = _codes(1, 30_000)
    index = PdqIndex.from_arrays(
        entry_ids=np.arange(30_000) * 2, bank_ids=np.arange(30_000) % 5, codes=codes, watermark=77
    )
    index.remove([0, 2, 4])
    index.upsert(entry_ids=[10**7], bank_ids=[9], pdqs=_near(codes[10], 3)[None])
    path = tmp_path / "pdq.idx"
    assert pdq_snapshot_write(path, index) == 30_000 - 3 + 1
    loaded = pdq_snapshot_load(path, verify=True)
    assert loaded.watermark == 77 and len(loaded) == len(index)
    segment = loaded._view.segments[0]
    assert isinstance(segment.codes, np.memmap) and isinstance(segment.postings, np.memmap)
    queries = np.concatenate([codes[:50], [_near(codes[10], 10)]])
    assert _results(loaded, queries) == _results(index, queries)
    assert _results(loaded, queries, banks={1: 31, 9: 31}) == _results(index, queries, banks={1: 31, 9: 31})


def test_after_loading_the_changes_since_the_watermark_are_applied_without_a_rebuild(tmp_path):
    codes = _codes(2, 5_000)
    writer = PdqSnapshotWriter(tmp_path / "pdq.idx")
    for start in range(0, 5_000, 1_000):  # streamed from the database a page at a time
        writer.add(
            entry_ids=np.arange(start, start + 1_000),
            bank_ids=np.ones(1_000, int),
            pdqs=pdq_hex_of_codes(codes[start : start + 1_000]),
        )
    assert writer.close(watermark=5_000) == 5_000
    index = pdq_snapshot_load(tmp_path / "pdq.idx")
    new = _codes(3, 1)[0]
    index.changes_apply([PdqChange(9_999, 2, pdq_hex_of_codes(new[None])[0]), PdqChange(17, 1, None)], watermark=5_002)
    assert index.watermark == 5_002
    assert [m.entry_id for m in index.lookup(new)] == [9_999]
    assert index.lookup(codes[17]) == []
    assert index.segment_sizes == [5_000, 1]  # the mapped segment is kept; the addition sits in the tail
    # a snapshot of the updated index carries both
    pdq_snapshot_write(tmp_path / "next.idx", index)
    again = pdq_snapshot_load(tmp_path / "next.idx", verify=True)
    assert again.watermark == 5_002 and len(again) == 5_000
    assert [m.entry_id for m in again.lookup(new)] == [9_999] and again.lookup(codes[17]) == []


def test_replacing_the_file_leaves_loaded_indexes_working(tmp_path):
    path = tmp_path / "pdq.idx"
    first = _codes(4, 2_000)
    pdq_snapshot_write(
        path, PdqIndex.from_arrays(entry_ids=np.arange(2_000), bank_ids=np.zeros(2_000, int), codes=first)
    )
    old = pdq_snapshot_load(path)
    second = _codes(5, 1_000)
    pdq_snapshot_write(
        path, PdqIndex.from_arrays(entry_ids=np.arange(1_000), bank_ids=np.zeros(1_000, int), codes=second, watermark=9)
    )
    assert [m.entry_id for m in old.lookup(first[1_500])] == [1_500]  # its map holds the old file
    new = pdq_snapshot_load(path)
    assert new.watermark == 9 and [m.entry_id for m in new.lookup(second[5])] == [5]
    assert [p.name for p in tmp_path.iterdir()] == ["pdq.idx"]  # no temporary left behind


def test_an_empty_index_round_trips(tmp_path):
    pdq_snapshot_write(tmp_path / "empty.idx", PdqIndex(watermark=3))
    loaded = pdq_snapshot_load(tmp_path / "empty.idx", verify=True)
    assert len(loaded) == 0 and loaded.watermark == 3 and loaded.lookup("0" * 64) == []


def test_damaged_files_are_refused(tmp_path):
    path = tmp_path / "pdq.idx"
    pdq_snapshot_write(
        path, PdqIndex.from_arrays(entry_ids=np.arange(3_000), bank_ids=np.zeros(3_000, int), codes=_codes(6, 3_000))
    )
    data = path.read_bytes()

    (tmp_path / "truncated.idx").write_bytes(data[: len(data) - 4096])
    with pytest.raises(SnapshotCorrupt, match="truncated"):
        pdq_snapshot_load(tmp_path / "truncated.idx")

    flipped = bytearray(data)
    flipped[-10_000] ^= 0xFF
    (tmp_path / "flipped.idx").write_bytes(bytes(flipped))
    pdq_snapshot_load(tmp_path / "flipped.idx")  # sizes are fine: only the checksums tell
    with pytest.raises(SnapshotCorrupt, match="checksum"):
        pdq_snapshot_load(tmp_path / "flipped.idx", verify=True)

    (tmp_path / "other.idx").write_bytes(b"not a snapshot at all")
    with pytest.raises(SnapshotCorrupt, match="not a PDQ index snapshot"):
        pdq_snapshot_load(tmp_path / "other.idx")
    assert os.path.exists(path)


def test_an_unchanged_index_is_written_again_byte_for_byte_without_a_rebuild(tmp_path):
    index = PdqIndex.from_arrays(
        entry_ids=np.arange(4_000), bank_ids=np.zeros(4_000, int), codes=_codes(7, 4_000), watermark=12
    )
    pdq_snapshot_write(tmp_path / "first.idx", index)
    loaded = pdq_snapshot_load(tmp_path / "first.idx")
    assert loaded.segment_compacted() is loaded._view.segments[0]  # reused, not rebuilt
    pdq_snapshot_write(tmp_path / "second.idx", loaded)
    assert (tmp_path / "first.idx").read_bytes() == (tmp_path / "second.idx").read_bytes()
    loaded.remove([5])
    assert loaded.segment_compacted() is not loaded._view.segments[0]
