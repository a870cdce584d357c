"""Matching a query's signals against hash banks: which entries, how close, and the score a hit gets.

A bank decides its own matches (a PDQ hash within the bank's threshold, an equal MD5, an SSCD
descriptor at or above SSCD_BANK_MIN_SIMILARITY), as HMA does. A hit's final score sits in
[BANK_SCORE_FLOOR, 1], above any collection's threshold short of 1, so every bank hit is flagged and
queued; within that band a closer hit ranks higher.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from copydetect.pdq_index import PdqIndex

BANK_SCORE_FLOOR = 0.99
# SSCD's authors give cosine 0.75 as the copy threshold of sscd_disc_mixup descriptors (about 90%
# precision on DISC21; facebookresearch/sscd-copy-detection README).
SSCD_BANK_MIN_SIMILARITY = 0.75


@dataclass(frozen=True)
class BankHit:
    entry_id: int
    bank_id: int
    signal_type: str  # "pdq", "md5", "sscd"
    distance: int | None = None  # PDQ Hamming distance
    threshold: int | None = None  # the bank's PDQ threshold
    similarity: float | None = None  # SSCD cosine

    @property
    def closeness(self) -> float:
        """1 for an exact hit, towards 0 at the bank's limit."""
        if self.signal_type == "pdq":
            return 1.0 - self.distance / (self.threshold + 1)
        if self.signal_type == "sscd":
            return max(0.0, (self.similarity - SSCD_BANK_MIN_SIMILARITY) / (1.0 - SSCD_BANK_MIN_SIMILARITY))
        return 1.0

    @property
    def final_score(self) -> float:
        return BANK_SCORE_FLOOR + (1.0 - BANK_SCORE_FLOOR) * self.closeness


def pdq_bank_hits(*, index: PdqIndex, pdqs: Sequence[str], banks: Mapping[int, int]) -> list[BankHit]:
    """Entries within their bank's threshold (`banks`: bank id → threshold) of any of `pdqs` (a query's
    hash and its dihedral variants, which find turned and mirrored copies); each entry once, at its
    smallest distance."""
    best: dict[int, tuple[int, int]] = {}
    for pdq in pdqs:
        for match in index.lookup(pdq, banks=banks):
            if match.entry_id not in best or match.distance < best[match.entry_id][0]:
                best[match.entry_id] = (match.distance, match.bank_id)
    return [
        BankHit(entry_id=entry_id, bank_id=bank_id, signal_type="pdq", distance=distance, threshold=banks[bank_id])
        for entry_id, (distance, bank_id) in sorted(best.items(), key=lambda item: (item[1][0], item[0]))
    ]
