"""An in-process PDQ index for hash banks: exact lookup within a radius per bank, additions and
removals visible at once, no rebuild.

Layout (a small log-structured merge): immutable segments with multi-index hash tables (segment.py),
oldest and largest first — typically the one loaded from a snapshot file — plus a tail that new
entries are appended to and that is scanned in full. When the tail is full it becomes a segment;
a new segment is merged with the one before it while that one is at most `merge_ratio` times larger
and the two hold at most `merge_limit` entries, so the segments stay few and a merge never rebuilds
the big snapshot segment (a new snapshot does that, off the request path).

Removal marks a row dead; merges and snapshots leave dead rows out. Each entry id has at most one
live row: adding an id again replaces its earlier row.

Threads: one writer at a time (a lock), any number of readers without a lock. A reader takes the
current view (segments + tail) once; the writer fills tail rows before publishing the new count and
swaps in a new view after a freeze or merge, so a reader never sees a half-written row.

Keeping processes in step with the database: load the newest snapshot (its watermark says which
changes it holds), apply the database's changes after that watermark with `changes_apply`, then poll
for newer ones every few seconds. See snapshot.py.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from copydetect.pdq_index.codes import PDQ_WORDS, pdq_codes_check, pdq_codes_of_hex, pdq_distances_by_column
from copydetect.pdq_index.segment import PdqSegment, bank_ids_check, segment_build

# HMA's default: PDQ's "confident match" distance.
PDQ_DEFAULT_RADIUS = 31
PDQ_MAX_RADIUS = 256


@dataclass(frozen=True, order=True)
class PdqMatch:
    distance: int
    entry_id: int
    bank_id: int


class PdqChange(NamedTuple):
    """One entry as the database now has it: `pdq` None when it left the index (disabled, deleted)."""

    entry_id: int
    bank_id: int
    pdq: str | None


class _Tail:
    """Preallocated append-only rows, scanned in full; `count` is published after the rows are written.
    Codes are kept a word per row, (4, capacity), which scans three times faster than rows of four."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.columns = np.zeros((PDQ_WORDS, capacity), dtype=np.uint64)
        self.entry_ids = np.zeros(capacity, dtype=np.int64)
        self.bank_ids = np.zeros(capacity, dtype=np.int32)
        self.dead = np.zeros(capacity, dtype=bool)
        self.count = 0

    def append(self, codes: np.ndarray, entry_ids: np.ndarray, bank_ids: np.ndarray) -> None:
        start, end = self.count, self.count + len(entry_ids)
        self.columns[:, start:end] = codes.T
        self.entry_ids[start:end], self.bank_ids[start:end] = entry_ids, bank_ids
        self.count = end

    def rows_of(self, entry_ids: np.ndarray) -> np.ndarray:
        return np.flatnonzero(np.isin(self.entry_ids[: self.count], entry_ids))

    def search(self, query: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
        count = self.count
        distances = pdq_distances_by_column(self.columns[:, :count], query)
        rows = np.flatnonzero((distances <= radius) & ~self.dead[:count])
        return rows, distances[rows]

    def live_rows(self) -> np.ndarray:
        return np.flatnonzero(~self.dead[: self.count])

    def codes_of(self, rows: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(self.columns[:, rows].T)

    def nbytes(self) -> int:
        return self.columns.nbytes + self.entry_ids.nbytes + self.bank_ids.nbytes + self.dead.nbytes


class _View(NamedTuple):
    segments: tuple[PdqSegment, ...]
    tail: _Tail


class PdqIndex:
    def __init__(
        self,
        *,
        segments: Sequence[PdqSegment] = (),
        watermark: int = 0,
        tail_capacity: int = 32_768,
        merge_ratio: float = 4.0,
        merge_limit: int = 1_000_000,
    ) -> None:
        self._lock = threading.Lock()
        self._tail_capacity = tail_capacity
        self._merge_ratio = merge_ratio
        self._merge_limit = merge_limit
        self._view = _View(tuple(segments), _Tail(tail_capacity))
        self._live = sum(segment.live_count for segment in segments)
        # The database change the index holds everything up to (an id, a sequence number: the caller's).
        self.watermark = watermark

    @classmethod
    def from_arrays(
        cls, *, entry_ids: np.ndarray, bank_ids: np.ndarray, codes: np.ndarray, watermark: int = 0, **options
    ) -> PdqIndex:
        """One segment of these entries (entry ids unique), built at once."""
        segments = (segment_build(pdq_codes_check(codes), entry_ids, bank_ids),) if len(entry_ids) else ()
        return cls(segments=segments, watermark=watermark, **options)

    def __len__(self) -> int:
        """Live entries."""
        return self._live

    @property
    def segment_sizes(self) -> list[int]:
        view = self._view
        return [len(segment) for segment in view.segments] + [view.tail.count]

    def nbytes(self) -> int:
        """Bytes of the index's arrays (memory-mapped snapshot arrays included)."""
        view = self._view
        return sum(segment.nbytes() for segment in view.segments) + view.tail.nbytes()

    # --- writing --------------------------------------------------------------------------------

    def upsert(self, *, entry_ids: Sequence[int] | np.ndarray, bank_ids: Sequence[int] | np.ndarray, pdqs) -> None:
        """Add entries, replacing any live entry with the same id; `pdqs` are 64-hex strings or (n, 4)
        uint64 codes. Visible to lookups when this returns."""
        codes = pdq_codes_check(pdqs)
        ids = np.asarray(entry_ids, dtype=np.int64)
        banks = bank_ids_check(np.asarray(bank_ids, dtype=np.int64))
        if not len(ids) == len(banks) == len(codes):
            raise ValueError(f"{len(ids)} entry ids, {len(banks)} bank ids and {len(codes)} hashes")
        keep = _last_of_each(ids)
        ids, banks, codes = ids[keep], banks[keep], codes[keep]
        with self._lock:
            self._remove_locked(ids)
            self._append_locked(codes, ids, banks)

    def remove(self, entry_ids: Sequence[int] | np.ndarray) -> int:
        """Take entries out of lookups; returns how many were live."""
        ids = np.unique(np.asarray(entry_ids, dtype=np.int64))
        with self._lock:
            return self._remove_locked(ids)

    def changes_apply(self, changes: Iterable[PdqChange], *, watermark: int) -> None:
        """Apply database changes in their order (the last change of an entry wins) and move the
        watermark to `watermark`."""
        final: dict[int, PdqChange] = {}
        for change in changes:
            final[change.entry_id] = change
        added = [change for change in final.values() if change.pdq is not None]
        removed = [entry_id for entry_id, change in final.items() if change.pdq is None]
        if removed:
            self.remove(removed)
        if added:
            self.upsert(
                entry_ids=[c.entry_id for c in added],
                bank_ids=[c.bank_id for c in added],
                pdqs=[c.pdq for c in added],
            )
        with self._lock:
            self.watermark = max(self.watermark, watermark)

    def _remove_locked(self, ids: np.ndarray) -> int:
        if not len(ids):
            return 0
        removed = 0
        view = self._view
        for rows, dead in [(segment.rows_of(ids), segment.dead) for segment in view.segments] + [
            (view.tail.rows_of(ids), view.tail.dead)
        ]:
            rows = rows[~dead[rows]]
            dead[rows] = True
            removed += len(rows)
        self._live -= removed
        return removed

    def _append_locked(self, codes: np.ndarray, ids: np.ndarray, banks: np.ndarray) -> None:
        position = 0
        while position < len(ids):
            tail = self._view.tail
            if tail.count == 0 and len(ids) - position >= self._tail_capacity:
                # A big batch becomes a segment of its own instead of passing through the tail.
                rest = slice(position, len(ids))
                self._segments_add_locked(segment_build(codes[rest], ids[rest], banks[rest]), tail=tail)
                self._live += len(ids) - position
                return
            take = min(tail.capacity - tail.count, len(ids) - position)
            if take == 0:
                self._freeze_locked()
                continue
            part = slice(position, position + take)
            tail.append(codes[part], ids[part], banks[part])
            self._live += take
            position += take

    def _freeze_locked(self) -> None:
        tail = self._view.tail
        rows = tail.live_rows()
        segment = segment_build(tail.codes_of(rows), tail.entry_ids[rows], tail.bank_ids[rows]) if len(rows) else None
        # The tail's rows are in the segment now: a new, empty tail goes with it.
        self._segments_add_locked(segment, tail=_Tail(self._tail_capacity))

    def _segments_add_locked(self, segment: PdqSegment | None, *, tail: _Tail) -> None:
        segments = list(self._view.segments) + ([segment] if segment is not None else [])
        while len(segments) >= 2:
            older, newer = segments[-2].live_count, segments[-1].live_count
            if older > self._merge_ratio * newer or older + newer > self._merge_limit:
                break
            segments[-2:] = [_segments_merge(segments[-2], segments[-1])]
        self._view = _View(tuple(segments), tail)

    # --- reading --------------------------------------------------------------------------------

    def lookup(
        self,
        pdq: str | np.ndarray,
        *,
        banks: Mapping[int, int] | None = None,
        radius: int = PDQ_DEFAULT_RADIUS,
        limit: int | None = None,
    ) -> list[PdqMatch]:
        """Live entries within `radius` of `pdq` (64 hex or (4,) uint64), nearest first.

        `banks` (bank id → its radius) restricts the lookup to those banks, each with its own radius;
        `radius` then plays no part. Exact: every entry within the radius is found.
        """
        query = pdq_codes_of_hex([pdq])[0] if isinstance(pdq, str) else np.asarray(pdq, dtype=np.uint64)
        if banks is not None:
            if not banks:
                return []
            bank_keys = np.array(sorted(banks), dtype=np.int64)
            bank_radii = np.array([banks[key] for key in bank_keys.tolist()], dtype=np.int32)
            radius = int(bank_radii.max())
        if not 0 <= radius <= PDQ_MAX_RADIUS:
            raise ValueError(f"radius {radius} outside 0..{PDQ_MAX_RADIUS}")
        view = self._view
        found_ids, found_banks, found_distances = [], [], []
        for source in (*view.segments, view.tail):
            rows, distances = source.search(query, radius)
            if len(rows):
                found_ids.append(source.entry_ids[rows])
                found_banks.append(source.bank_ids[rows])
                found_distances.append(distances)
        if not found_ids:
            return []
        ids, bank_ids, distances = (np.concatenate(parts) for parts in (found_ids, found_banks, found_distances))
        if banks is not None:
            slot = np.minimum(np.searchsorted(bank_keys, bank_ids), len(bank_keys) - 1)
            wanted = (bank_keys[slot] == bank_ids) & (distances <= bank_radii[slot])
            ids, bank_ids, distances = ids[wanted], bank_ids[wanted], distances[wanted]
        order = np.lexsort((ids, distances))[:limit]
        return [
            PdqMatch(distance=int(d), entry_id=int(i), bank_id=int(b))
            for d, i, b in zip(distances[order].tolist(), ids[order].tolist(), bank_ids[order].tolist())
        ]

    def segment_compacted(self) -> PdqSegment:
        """One segment of every live entry: the one the index has when nothing was added or removed
        since it was built or loaded, else a new one."""
        view = self._view
        if len(view.segments) == 1 and view.tail.count == 0 and not view.segments[0].dead.any():
            return view.segments[0]
        entry_ids, bank_ids, codes = self.live_arrays()
        return segment_build(codes, entry_ids, bank_ids)

    def live_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(entry_ids, bank_ids, codes) of every live entry, for a snapshot."""
        view = self._view
        ids, banks, codes = [], [], []
        for segment in view.segments:
            alive = ~segment.dead
            ids.append(segment.entry_ids[alive])
            banks.append(segment.bank_ids[alive])
            codes.append(segment.codes[alive])
        rows = view.tail.live_rows()
        ids.append(view.tail.entry_ids[rows])
        banks.append(view.tail.bank_ids[rows])
        codes.append(view.tail.codes_of(rows))
        return np.concatenate(ids), np.concatenate(banks), np.concatenate(codes)


def _segments_merge(older: PdqSegment, newer: PdqSegment) -> PdqSegment:
    alive_old, alive_new = ~older.dead, ~newer.dead
    return segment_build(
        np.concatenate([older.codes[alive_old], newer.codes[alive_new]]),
        np.concatenate([older.entry_ids[alive_old], newer.entry_ids[alive_new]]),
        np.concatenate([older.bank_ids[alive_old], newer.bank_ids[alive_new]]),
    )


def _last_of_each(ids: np.ndarray) -> np.ndarray:
    """Positions of the last occurrence of each id, in their original order."""
    if len(ids) < 2:
        return np.arange(len(ids))
    reversed_ids = ids[::-1]
    _, first_in_reversed = np.unique(reversed_ids, return_index=True)
    return np.sort(len(ids) - 1 - first_in_reversed)
