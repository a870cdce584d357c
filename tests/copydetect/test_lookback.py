import random

from copydetect.lookback import md5_pairs, pdq_pairs_within
from copydetect.signals import pdq_distance


def _flip(hex_hash: str, bits: int, rng: random.Random) -> str:
    value = int(hex_hash, 16)
    for bit in rng.sample(range(256), bits):
        value ^= 1 << bit
    return f"{value:064x}"


def test_pdq_pairs_agree_with_the_plain_distance_and_each_entry_threshold():
    rng = random.Random(3)
    entries = [f"{rng.getrandbits(256):064x}" for _ in range(5)]
    queries = [_flip(entries[0], 10, rng), _flip(entries[1], 30, rng), _flip(entries[1], 40, rng)]
    queries += [f"{rng.getrandbits(256):064x}" for _ in range(200)]
    thresholds = [31, 31, 31, 31, 5]
    pairs = pdq_pairs_within(query_pdqs=queries, entry_pdqs=entries, thresholds=thresholds)
    expected = {
        (q, e, pdq_distance(queries[q], entries[e]))
        for q in range(len(queries))
        for e in range(len(entries))
        if pdq_distance(queries[q], entries[e]) <= thresholds[e]
    }
    assert {(p.query_index, p.entry_index, p.distance) for p in pairs} == expected
    assert {(0, 0, 10), (1, 1, 30)} <= expected and not any(q == 2 for q, _, _ in expected)


def test_md5_pairs_are_exact():
    pairs = md5_pairs(query_md5s=["a" * 32, "b" * 32, "a" * 32], entry_md5s=["a" * 32, "c" * 32])
    assert [(p.query_index, p.entry_index) for p in pairs] == [(0, 0), (2, 0)]
