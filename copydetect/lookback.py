"""Look-back's hash part: which earlier queries a batch of new bank entries matches, from the PDQ and
MD5 stored on the query rows. No index is built: the new entries are few and the queries of the window
are read once per batch, so one vectorised XOR and popcount over all (query, entry) pairs does it
(4 64-bit words a pair; 100,000 queries against 1,000 entries is 4e8 word operations, a few seconds on
one core).

The stored PDQ is the query as received; the live lookup also tries its seven turned and mirrored
variants, which look-back does not have, so a turned copy found live may be missed here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Query × entry pairs compared at once: the XOR holds 32 bytes a pair (64 MiB at this size).
PAIRS_AT_ONCE = 2_000_000


@dataclass(frozen=True)
class HashPair:
    query_index: int  # position in the queries given
    entry_index: int  # position in the entries given
    signal_type: str  # "pdq" or "md5"
    distance: int | None  # PDQ Hamming distance; None for MD5


def pdq_words(hashes: Sequence[str]) -> np.ndarray:
    """(n, 4) uint64 of 64-hex PDQ hashes."""
    if not hashes:
        return np.zeros((0, 4), dtype=np.uint64)
    raw = np.frombuffer(bytes.fromhex("".join(hashes)), dtype=">u8")
    return raw.reshape(len(hashes), 4).astype(np.uint64)


def pdq_pairs_within(
    *, query_pdqs: Sequence[str], entry_pdqs: Sequence[str], thresholds: Sequence[int]
) -> list[HashPair]:
    """Pairs whose Hamming distance is at most the entry's threshold (its bank's)."""
    if not query_pdqs or not entry_pdqs:
        return []
    entries = pdq_words(entry_pdqs)
    limits = np.asarray(thresholds, dtype=np.int32)
    pairs: list[HashPair] = []
    chunk = max(1, PAIRS_AT_ONCE // len(entry_pdqs))
    for start in range(0, len(query_pdqs), chunk):
        queries = pdq_words(query_pdqs[start : start + chunk])
        distances = np.bitwise_count(queries[:, None, :] ^ entries[None, :, :]).sum(axis=2, dtype=np.int32)
        rows, columns = np.nonzero(distances <= limits[None, :])
        pairs.extend(
            HashPair(query_index=start + int(r), entry_index=int(c), signal_type="pdq", distance=int(distances[r, c]))
            for r, c in zip(rows, columns)
        )
    return pairs


def md5_pairs(*, query_md5s: Sequence[str], entry_md5s: Sequence[str]) -> list[HashPair]:
    positions: dict[str, list[int]] = {}
    for index, md5 in enumerate(entry_md5s):
        positions.setdefault(md5, []).append(index)
    return [
        HashPair(query_index=q, entry_index=e, signal_type="md5", distance=None)
        for q, md5 in enumerate(query_md5s)
        for e in positions.get(md5, ())
    ]


# A bank hit's score, as the live bank lookup gives it: above any collection threshold short of 1, so
# it is flagged and queued; closer hits rank higher within the band.
BANK_SCORE_FLOOR = 0.99


def hash_pair_score(*, distance: int | None, threshold: int | None) -> float:
    closeness = 1.0 if distance is None or threshold is None else 1.0 - distance / (threshold + 1)
    return BANK_SCORE_FLOOR + (1.0 - BANK_SCORE_FLOOR) * closeness
