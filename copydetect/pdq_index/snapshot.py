"""Snapshot files: a whole PDQ index in one file that processes map instead of rebuilding.

Keeping every process in step with the database (the engine part; the database side is the site's):

1. A periodic job streams the enabled entries of enabled banks from the database, with the change
   watermark it read them at, into `PdqSnapshotWriter`; the file is written beside the old one and
   renamed over it, so readers see the old file or the new one, never half of one.
2. A process (web or worker) opens the newest snapshot with `pdq_snapshot_load`: the arrays are
   memory maps, so loading takes milliseconds whatever the size, and every process that maps the
   file shares one copy of its pages. It then asks the database for the changes after the
   snapshot's watermark and applies them (`PdqIndex.changes_apply`), and polls for newer ones every
   few seconds: an addition is visible in the next poll, without any rebuild.
3. When a newer snapshot appears, a process loads it and replays the changes after its watermark
   in the background, then swaps the index object; old maps stay valid until dropped. Nothing
   rebuilds on the request path, and no process waits for another (HMA rebuilds its index in each
   process on a timer, and its users report reload stampedes and lock-ups: ThreatExchange #1813).

Layout (little-endian): 8-byte magic, 8-byte header length, a JSON header (format, count,
watermark, table bits, and the offset, dtype, shape and CRC-32 of each array), then the arrays,
each starting on a 64-byte boundary: codes, entry ids, bank ids, postings and tables (segment.py).
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Sequence
from os import PathLike
from pathlib import Path

import numpy as np

from copydetect.pdq_index.codes import pdq_codes_check
from copydetect.pdq_index.index import PdqIndex
from copydetect.pdq_index.layout import CHUNK_COUNT
from copydetect.pdq_index.segment import PdqSegment, bank_ids_check, segment_build

MAGIC = b"PDQIDX\x00\x01"
FORMAT = 1
_ALIGN = 64


class SnapshotCorrupt(ValueError):
    """The file is not a snapshot this code can read, or its contents do not match its header."""


def pdq_snapshot_write(path: str | PathLike[str], index: PdqIndex) -> int:
    """A snapshot of the index's live entries at its watermark; returns the entries written."""
    return _segment_write(path, index.segment_compacted(), watermark=index.watermark)


def pdq_snapshot_load(path: str | PathLike[str], *, verify: bool = False, **options) -> PdqIndex:
    """The index of a snapshot file, its arrays memory-mapped read-only. `verify` checks every array's
    CRC-32 (reads the whole file); sizes and the header are always checked. `options` go to PdqIndex."""
    path = Path(path)
    with path.open("rb") as file:
        magic, header_length = file.read(8), file.read(8)
        if magic != MAGIC or len(header_length) != 8:
            raise SnapshotCorrupt(f"{path.name} is not a PDQ index snapshot")
        (length,) = struct.unpack("<Q", header_length)
        try:
            header = json.loads(file.read(length))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise SnapshotCorrupt(f"{path.name}: unreadable header") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        found = header.get("format") if isinstance(header, dict) else None
        raise SnapshotCorrupt(f"{path.name}: format {found}, this code reads {FORMAT}")
    try:
        arrays = _arrays_map(path, header, verify=verify)
    except (KeyError, TypeError, ValueError) as error:
        if isinstance(error, SnapshotCorrupt):
            raise
        raise SnapshotCorrupt(f"{path.name}: malformed header ({error})") from None
    count = header["count"]
    _shapes_check(path, header, arrays)
    segments = ()
    if count:
        segments = (
            PdqSegment(
                codes=arrays["codes"],
                entry_ids=arrays["entry_ids"],
                bank_ids=arrays["bank_ids"],
                postings=arrays["postings"],
                tables=arrays["tables"],
                table_bits=tuple(header["table_bits"]),
                dead=np.zeros(count, dtype=bool),
            ),
        )
    return PdqIndex(segments=segments, watermark=header["watermark"], **options)


def _shapes_check(path: Path, header: dict, arrays: dict[str, np.ndarray]) -> None:
    count, bits = header["count"], header["table_bits"]
    expected = {"codes": (count, 4), "entry_ids": (count,), "bank_ids": (count,), "postings": (CHUNK_COUNT, count)}
    expected["tables"] = (sum((1 << chunk_bits) + 1 for chunk_bits in bits),)
    for name, shape in expected.items():
        if name not in arrays or arrays[name].shape != shape:
            raise SnapshotCorrupt(f"{path.name}: {name} should have shape {shape}")


def _arrays_map(path: Path, header: dict, *, verify: bool) -> dict[str, np.ndarray]:
    size = path.stat().st_size
    arrays = {}
    for name, spec in header["arrays"].items():
        dtype, shape, offset = np.dtype(spec["dtype"]), tuple(spec["shape"]), int(spec["offset"])
        end = offset + dtype.itemsize * int(np.prod(shape, dtype=np.int64))
        if end > size:
            raise SnapshotCorrupt(f"{path.name}: truncated ({size:,} bytes, {name} ends at {end:,})")
        array = (
            np.memmap(path, mode="r", dtype=dtype, offset=offset, shape=shape)
            if end > offset
            else np.empty(shape, dtype)
        )
        if verify and zlib.crc32(_bytes_of(array)) != spec["crc32"]:
            raise SnapshotCorrupt(f"{path.name}: {name} does not match its checksum")
        arrays[name] = array
    return arrays


class PdqSnapshotWriter:
    """Builds a snapshot from batches streamed out of the database (a few bytes per entry are held,
    not objects): `add` per batch, then `close(watermark=...)`."""

    def __init__(self, path: str | PathLike[str]) -> None:
        self._path = Path(path)
        self._entry_ids: list[np.ndarray] = []
        self._bank_ids: list[np.ndarray] = []
        self._codes: list[np.ndarray] = []

    def add(self, *, entry_ids: Sequence[int] | np.ndarray, bank_ids: Sequence[int] | np.ndarray, pdqs) -> None:
        codes = pdq_codes_check(pdqs)
        ids, banks = np.asarray(entry_ids, dtype=np.int64), bank_ids_check(np.asarray(bank_ids, dtype=np.int64))
        if not len(ids) == len(banks) == len(codes):
            raise ValueError(f"{len(ids)} entry ids, {len(banks)} bank ids and {len(codes)} hashes")
        self._entry_ids.append(ids)
        self._bank_ids.append(banks)
        self._codes.append(codes)

    def close(self, *, watermark: int) -> int:
        """Writes the file (atomically); returns the number of entries."""
        entry_ids = np.concatenate(self._entry_ids) if self._entry_ids else np.empty(0, np.int64)
        bank_ids = np.concatenate(self._bank_ids) if self._bank_ids else np.empty(0, np.int32)
        codes = np.concatenate(self._codes) if self._codes else np.empty((0, 4), np.uint64)
        self._entry_ids, self._bank_ids, self._codes = [], [], []
        return _segment_write(self._path, segment_build(codes, entry_ids, bank_ids), watermark=watermark)


def _segment_write(path: str | PathLike[str], segment: PdqSegment, *, watermark: int) -> int:
    path = Path(path)
    arrays = {
        "codes": segment.codes,
        "entry_ids": segment.entry_ids,
        "bank_ids": segment.bank_ids,
        "postings": segment.postings,
        "tables": segment.tables,
    }
    specs, offset = {}, 0
    for name, array in arrays.items():
        specs[name] = {
            "dtype": array.dtype.newbyteorder("<").str,
            "shape": list(array.shape),
            "offset": offset,
            "crc32": zlib.crc32(_bytes_of(array)),
        }
        offset = _aligned(offset + array.nbytes)
    header_base = {
        "format": FORMAT,
        "count": len(segment),
        "watermark": int(watermark),
        "table_bits": list(segment.table_bits),
    }
    # Offsets so far are relative to the data start, which depends on the header's own length: the
    # header written with a far larger start is longer than the real one can be.
    data_start = _aligned(16 + len(_header_bytes(header_base, specs, 10**15)))
    header = _header_bytes(header_base, specs, data_start)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with temporary.open("wb") as file:
            file.write(MAGIC + struct.pack("<Q", len(header)) + header)
            for name, array in arrays.items():
                file.seek(data_start + specs[name]["offset"])
                file.write(_bytes_of(array.astype(array.dtype.newbyteorder("<"), copy=False)))
            file.truncate(data_start + offset)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return len(segment)


def _header_bytes(base: dict, specs: dict, data_start: int) -> bytes:
    arrays = {name: {**spec, "offset": spec["offset"] + data_start} for name, spec in specs.items()}
    return json.dumps({**base, "arrays": arrays}, separators=(",", ":")).encode()


def _bytes_of(array: np.ndarray) -> np.ndarray:
    """The array's bytes as a flat uint8 view (a copy only when it is not contiguous)."""
    return np.ascontiguousarray(array).reshape(-1).view(np.uint8)


def _aligned(offset: int) -> int:
    return -(-offset // _ALIGN) * _ALIGN
