import threading

import numpy as np
import pytest

from copydetect.imaging import image_decode
from copydetect.pdq_index import PdqChange, PdqIndex, pdq_codes_of_hex, pdq_hex_of_codes
from copydetect.pdq_index.codes import pdq_distances
from copydetect.pdq_index.layout import probe_plan
from copydetect.signals import image_signals_compute
from tests.images import encode, scene


def _random_codes(rng: np.random.Generator, count: int) -> np.ndarray:
    return rng.integers(0, 2**64, size=(count, 4), dtype=np.uint64)


def _flipped(rng: np.random.Generator, code: np.ndarray, bits: int) -> np.ndarray:
    out = code.copy()
    for bit in rng.choice(256, size=bits, replace=False):
        out[bit // 64] ^= np.uint64(1) << np.uint64(bit % 64)
    return out


def _clustered(rng: np.random.Generator, count: int) -> np.ndarray:
    """Families of near-duplicates (as hash lists hold), so buckets are uneven and matches many."""
    seeds = _random_codes(rng, max(count // 20, 1))
    family = rng.integers(0, len(seeds), size=count)
    return np.stack([_flipped(rng, seeds[f], int(rng.integers(0, 40))) for f in family])


def _truth(codes: np.ndarray, entry_ids: np.ndarray, query: np.ndarray, radius: int) -> dict[int, int]:
    distances = pdq_distances(codes, query)
    near = distances <= radius
    return dict(zip(entry_ids[near].tolist(), distances[near].tolist()))


def _found(index: PdqIndex, query, **options) -> dict[int, int]:
    return {match.entry_id: match.distance for match in index.lookup(query, **options)}


def test_hex_and_codes_convert_both_ways():
    hashes = ["f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22", "0" * 63 + "1"]
    codes = pdq_codes_of_hex(hashes)
    assert codes.shape == (2, 4) and codes.dtype == np.uint64
    assert pdq_hex_of_codes(codes) == hashes
    assert pdq_distances(codes, codes[1]).tolist() == [pdq_distances(codes[:1], codes[1])[0], 0]
    with pytest.raises(ValueError, match="not 64"):
        pdq_codes_of_hex(["abc"])
    with pytest.raises(ValueError, match="hash 1 is not hexadecimal"):
        pdq_codes_of_hex(["0" * 64, "g" * 64])


@pytest.mark.parametrize("radius", [0, 1, 11, 12, 23, 31, 40, 47])
def test_the_probe_plan_satisfies_the_pigeonhole_bound(radius):
    # A hash within `radius` must differ in at most `flips` bits in one planned chunk: sum of
    # (flips + 1) over all 12 chunks (0 for unplanned) must exceed the radius.
    plan = {probe.chunk: probe.flips for probe in probe_plan(radius)}
    assert sum(plan.get(chunk, -1) + 1 for chunk in range(12)) == radius + 1


@pytest.mark.parametrize("data", ["uniform", "clustered"])
def test_lookups_are_exact_at_every_radius(data):
    rng = np.random.default_rng(1)
    codes = _random_codes(rng, 20_000) if data == "uniform" else _clustered(rng, 20_000)
    entry_ids = rng.choice(10**9, size=len(codes), replace=False)
    index = PdqIndex.from_arrays(entry_ids=entry_ids, bank_ids=np.zeros(len(codes), int), codes=codes)
    for radius in (0, 8, 31, 47, 64, 100):
        for _ in range(15):
            query = _flipped(rng, codes[rng.integers(len(codes))], int(rng.integers(0, radius + 1)))
            assert _found(index, query, radius=radius) == _truth(codes, entry_ids, query, radius)


def test_each_bank_is_searched_within_its_own_radius():
    rng = np.random.default_rng(2)
    base = _random_codes(rng, 1)[0]
    near = [_flipped(rng, base, bits) for bits in (5, 20, 30, 45)]
    index = PdqIndex()
    index.upsert(entry_ids=[1, 2, 3, 4, 5], bank_ids=[10, 10, 20, 20, 30], pdqs=np.stack(near + [base]))
    assert _found(index, base) == {1: 5, 2: 20, 3: 30, 5: 0}
    assert _found(index, base, banks={10: 10, 20: 31}) == {1: 5, 3: 30}
    assert _found(index, base, banks={20: 50}) == {3: 30, 4: 45}
    assert _found(index, base, banks={}) == {}
    matches = index.lookup(base, banks={10: 31, 30: 0})
    assert [(m.entry_id, m.bank_id, m.distance) for m in matches] == [(5, 30, 0), (1, 10, 5), (2, 10, 20)]


def test_an_addition_is_visible_at_once_and_a_removal_too():
    rng = np.random.default_rng(3)
    codes = _random_codes(rng, 50_000)
    index = PdqIndex.from_arrays(entry_ids=np.arange(50_000), bank_ids=np.ones(50_000, int), codes=codes)
    new = _random_codes(rng, 1)
    index.upsert(entry_ids=[10**6], bank_ids=[2], pdqs=pdq_hex_of_codes(new))
    assert _found(index, pdq_hex_of_codes(new)[0]) == {10**6: 0}
    assert len(index) == 50_001
    assert index.remove([10**6, 7, 123456789]) == 2
    assert _found(index, new[0]) == {}
    assert _found(index, codes[7]) == {}
    assert len(index) == 49_999
    index.upsert(entry_ids=[7], bank_ids=[1], pdqs=codes[7:8])  # enabled again
    assert _found(index, codes[7]) == {7: 0}


def test_upserting_an_id_again_replaces_its_hash():
    rng = np.random.default_rng(4)
    first, second = _random_codes(rng, 2)
    index = PdqIndex.from_arrays(entry_ids=[1], bank_ids=[1], codes=first[None])
    index.upsert(entry_ids=[1], bank_ids=[5], pdqs=second[None])
    assert _found(index, first) == {}
    assert [(m.entry_id, m.bank_id) for m in index.lookup(second)] == [(1, 5)]
    index.upsert(entry_ids=[2, 2], bank_ids=[1, 1], pdqs=np.stack([first, second]))  # the last one wins
    assert _found(index, first) == {} and _found(index, second) == {1: 0, 2: 0}
    assert len(index) == 2


def test_changes_apply_in_order_and_move_the_watermark():
    rng = np.random.default_rng(5)
    a, b, c = pdq_hex_of_codes(_random_codes(rng, 3))
    index = PdqIndex(watermark=100)
    index.changes_apply(
        [PdqChange(1, 1, a), PdqChange(2, 1, b), PdqChange(2, 1, None), PdqChange(3, 2, c), PdqChange(1, 1, None)],
        watermark=105,
    )
    assert index.watermark == 105
    assert len(index) == 1 and _found(index, c) == {3: 0}
    index.changes_apply([PdqChange(1, 1, a)], watermark=103)  # an older watermark does not move it back
    assert index.watermark == 105 and _found(index, a) == {1: 0}


def test_the_tail_turns_into_segments_that_merge_and_drop_removed_rows():
    rng = np.random.default_rng(6)
    codes = _clustered(rng, 5_000)
    index = PdqIndex(tail_capacity=256, merge_ratio=4, merge_limit=100_000)
    for start in range(0, 5_000, 100):
        index.upsert(
            entry_ids=np.arange(start, start + 100), bank_ids=np.zeros(100, int), pdqs=codes[start : start + 100]
        )
    removed = np.arange(0, 5_000, 3)
    index.remove(removed)
    for start in range(5_000, 6_000, 100):  # more freezes and merges after the removals
        index.upsert(entry_ids=np.arange(start, start + 100), bank_ids=np.zeros(100, int), pdqs=_random_codes(rng, 100))
    sizes = index.segment_sizes
    assert len(sizes) <= 8, sizes  # geometric sizes: few segments
    assert len(index) == 6_000 - len(removed)
    alive_ids = np.setdiff1d(np.arange(5_000), removed)
    for probe in rng.choice(alive_ids, 40):
        assert _found(index, codes[probe]) == _truth(codes[alive_ids], alive_ids, codes[probe], 31)


def test_a_big_batch_becomes_a_segment_directly():
    rng = np.random.default_rng(7)
    index = PdqIndex(tail_capacity=1_000)
    index.upsert(entry_ids=np.arange(5_000), bank_ids=np.zeros(5_000, int), pdqs=_random_codes(rng, 5_000))
    assert index.segment_sizes == [5_000, 0]


def test_readers_see_every_entry_added_before_their_lookup_while_a_writer_adds():
    rng = np.random.default_rng(8)
    codes = _random_codes(rng, 6_000)
    index = PdqIndex(tail_capacity=500, merge_limit=10_000)
    added = 0  # entries 0 .. added-1 are in the index
    errors: list[str] = []
    stop = threading.Event()

    def read() -> None:
        local = np.random.default_rng(9)
        while not stop.is_set():
            ready = added
            if not ready:
                continue
            probe = int(local.integers(ready))
            if probe not in _found(index, codes[probe], radius=0):
                errors.append(f"entry {probe} missing with {ready} added")

    readers = [threading.Thread(target=read) for _ in range(2)]
    for reader in readers:
        reader.start()
    for start in range(0, 6_000, 50):
        index.upsert(entry_ids=np.arange(start, start + 50), bank_ids=np.zeros(50, int), pdqs=codes[start : start + 50])
        added = start + 50
    stop.set()
    for reader in readers:
        reader.join()
    assert not errors, errors[:3]


def test_real_pdq_hashes_find_their_reencoded_picture():
    pictures = [scene(seed) for seed in range(50, 62)]
    hashes = [image_signals_compute(image=picture).pdq for picture in pictures]
    index = PdqIndex()
    index.upsert(entry_ids=range(100, 112), bank_ids=[1] * 12, pdqs=hashes)
    for number, picture in enumerate(pictures):
        copy = image_decode(encode(picture.resize((360, 270)), "JPEG", quality=70), max_pixels=10**7).image
        matches = index.lookup(image_signals_compute(image=copy).pdq)
        assert [m.entry_id for m in matches] == [100 + number]


def test_bad_arguments_are_refused():
    index = PdqIndex()
    with pytest.raises(ValueError, match="2 entry ids, 1 bank ids"):
        index.upsert(entry_ids=[1, 2], bank_ids=[1], pdqs=["0" * 64, "1" * 64])
    with pytest.raises(ValueError, match="bank ids"):
        index.upsert(entry_ids=[1], bank_ids=[-1], pdqs=["0" * 64])
    with pytest.raises(ValueError, match="radius"):
        index.lookup("0" * 64, radius=300)
    with pytest.raises(ValueError, match="appears twice"):
        PdqIndex.from_arrays(entry_ids=[1, 1], bank_ids=[1, 1], codes=np.zeros((2, 4), np.uint64))
