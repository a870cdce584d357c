"""One immutable run of PDQ entries with its multi-index hash tables.

Rows are ordered by entry id (so an entry is found by binary search, for removal). For each of the
12 chunks (layout.py) the segment keeps `postings[k]`, the row numbers ordered by the chunk's
leading `table_bits[k]` bits, and a table of where the rows of each such value start: with `t` the
chunk's table inside the flat `tables`, a bucket is `postings[k][t[v]:t[v + 1]]`. The tables have
about one bucket per row (at most the chunk's full width), so a probe reads about one candidate.
Candidates are then compared in full and kept within the radius.

Arrays may be read-only memory maps of a snapshot file (snapshot.py): processes that map the same
file share its pages. Only `dead` (removed rows) is private and writeable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from copydetect.pdq_index.codes import pdq_distances
from copydetect.pdq_index.layout import (
    CHUNK_COUNT,
    CHUNKS,
    chunk_value,
    chunk_values,
    flip_mask_count,
    probe_plan,
    probe_set,
    table_starts,
)

MIN_TABLE_BITS = 8
# Scan every row instead of probing when the probes would read more than this share of the rows:
# a probed candidate is a random read, a scanned row a sequential one, several times cheaper.
SCAN_SHARE = 0.1


@dataclass(frozen=True, eq=False)
class PdqSegment:
    codes: np.ndarray  # (n, 4) uint64
    entry_ids: np.ndarray  # (n,) int64, ascending, unique
    bank_ids: np.ndarray  # (n,) int32
    postings: np.ndarray  # (CHUNK_COUNT, n) int32
    tables: np.ndarray  # int32: per chunk 2**bits + 1 offsets into its postings, one after the other
    table_bits: tuple[int, ...]
    dead: np.ndarray  # (n,) bool, this process's removals

    def __len__(self) -> int:
        return len(self.entry_ids)

    @property
    def live_count(self) -> int:
        return len(self) - int(np.count_nonzero(self.dead))

    def nbytes(self) -> int:
        arrays = (self.codes, self.entry_ids, self.bank_ids, self.postings, self.dead, self.tables)
        return sum(array.nbytes for array in arrays)

    def rows_of(self, entry_ids: np.ndarray) -> np.ndarray:
        """Rows holding these entry ids (ids not here are skipped)."""
        positions = np.searchsorted(self.entry_ids, entry_ids)
        inside = positions < len(self)
        positions, wanted = positions[inside], entry_ids[inside]
        return positions[self.entry_ids[positions] == wanted]

    def search(self, query: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
        """Live rows within `radius` of `query` (4,) uint64, each once, with their distances."""
        if self._scan_is_cheaper(radius):
            distances = pdq_distances(self.codes, query)
            rows = np.flatnonzero(distances <= radius)
            distances = distances[rows]
        else:
            rows, distances = self._probe(query, radius)
        alive = ~self.dead[rows]
        return rows[alive], distances[alive]

    def _probe(self, query: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
        probes = probe_set(radius, self.table_bits)
        prefixes = np.array(
            [chunk_value(query, chunk) >> shift for chunk, shift in zip(probes.chunks, probes.shifts)],
            dtype=np.uint32,
        )
        slots = (probes.masks ^ prefixes[probes.position]).astype(np.int64) + probes.table_offset
        begin = self.tables[slots].astype(np.int64)
        length = self.tables[slots + 1] - begin
        total = int(length.sum())
        if total == 0:
            return np.empty(0, np.int64), np.empty(0, np.int32)
        start = begin + probes.chunk_of * len(self)
        ends = np.cumsum(length)
        positions = np.repeat(start - (ends - length), length) + np.arange(total)
        candidates = self.postings.reshape(-1)[positions]
        # take() gathers rows several times faster than fancy indexing of a 2-D array.
        distances = pdq_distances(np.take(self.codes, candidates, axis=0), query)
        near = distances <= radius
        rows, first = np.unique(candidates[near], return_index=True)  # a row may come from several chunks
        return rows.astype(np.int64), distances[near][first]

    def _scan_is_cheaper(self, radius: int) -> bool:
        expected = sum(
            flip_mask_count(self.table_bits[chunk], flips) * len(self) / (1 << self.table_bits[chunk])
            for chunk, flips in probe_plan(radius)
        )
        return expected >= SCAN_SHARE * len(self)


def segment_build(codes: np.ndarray, entry_ids: np.ndarray, bank_ids: np.ndarray) -> PdqSegment:
    """A segment of these entries (any order; entry ids must be unique)."""
    entry_ids = np.asarray(entry_ids, dtype=np.int64)
    order = np.argsort(entry_ids, kind="stable")
    entry_ids = entry_ids[order]
    if len(entry_ids) > 1 and not np.all(entry_ids[1:] != entry_ids[:-1]):
        duplicate = int(entry_ids[1:][entry_ids[1:] == entry_ids[:-1]][0])
        raise ValueError(f"entry id {duplicate} appears twice")
    codes = np.ascontiguousarray(codes[order], dtype=np.uint64)
    bank_ids = bank_ids_check(np.asarray(bank_ids)[order])
    count = len(entry_ids)
    table_bits = tuple(table_bits_for(count, CHUNKS[chunk][2]) for chunk in range(CHUNK_COUNT))
    postings = np.empty((CHUNK_COUNT, count), dtype=np.int32)
    starts = table_starts(table_bits)
    tables = np.zeros(int(starts[-1]) + (1 << table_bits[-1]) + 1, dtype=np.int32)
    for chunk in range(CHUNK_COUNT):
        width, bits = CHUNKS[chunk][2], table_bits[chunk]
        keys = chunk_values(codes, chunk) >> np.uint32(width - bits)
        postings[chunk] = np.argsort(keys)
        table = tables[starts[chunk] : starts[chunk] + (1 << bits) + 1]
        np.cumsum(np.bincount(keys, minlength=1 << bits), out=table[1:])
    return PdqSegment(
        codes=codes,
        entry_ids=entry_ids,
        bank_ids=bank_ids,
        postings=postings,
        tables=tables,
        table_bits=table_bits,
        dead=np.zeros(count, dtype=bool),
    )


def table_bits_for(count: int, width: int) -> int:
    """About one bucket per row, within [MIN_TABLE_BITS, width]."""
    return max(MIN_TABLE_BITS, min(width, math.ceil(math.log2(max(count, 2)))))


def bank_ids_check(bank_ids: np.ndarray) -> np.ndarray:
    if len(bank_ids) and (bank_ids.min() < 0 or bank_ids.max() > np.iinfo(np.int32).max):
        raise ValueError("bank ids must lie in 0 .. 2**31 - 1")
    return bank_ids.astype(np.int32)
