"""Multi-index hashing layout: the 256 bits cut into 12 chunks, and which chunk values to probe.

Each 64-bit word gives three chunks of 21, 21 and 22 bits. If two hashes are within Hamming
distance r, then (pigeonhole, with r = 12a + b, 0 <= b < 12) one of the first b + 1 chunks differs
in at most a bits or one of the others in at most a - 1 bits: otherwise the distance would be at
least (b + 1)(a + 1) + (11 - b)a = r + 1. Probing every chunk value within those flips therefore
finds every hash within r, exactly (Norouzi, Punjani and Fleet, "Fast exact search in Hamming
space with multi-index hashing", 2014).

At r = 31 that is 8 chunks with up to 2 flipped bits and 4 with 1: about 2,000 probes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np

CHUNK_COUNT = 12
# (word, shift, width) of each chunk
CHUNKS: tuple[tuple[int, int, int], ...] = tuple(
    (word, shift, width) for word in range(4) for shift, width in ((0, 21), (21, 21), (42, 22))
)


class Probe(NamedTuple):
    chunk: int
    flips: int


def probe_plan(radius: int) -> tuple[Probe, ...]:
    """The chunks to probe and how many bits to flip in each, for an exact search within `radius`."""
    if radius < 0:
        return ()
    most, extra = divmod(radius, CHUNK_COUNT)
    plan = []
    for chunk in range(CHUNK_COUNT):
        flips = most if chunk <= extra else most - 1
        if flips >= 0:
            plan.append(Probe(chunk, flips))
    return tuple(plan)


def probe_count(radius: int) -> int:
    return sum(flip_mask_count(CHUNKS[chunk][2], flips) for chunk, flips in probe_plan(radius))


def chunk_values(codes: np.ndarray, chunk: int) -> np.ndarray:
    """uint32 value of `chunk` in every row of codes (n, 4) uint64."""
    word, shift, width = CHUNKS[chunk]
    return ((codes[:, word] >> np.uint64(shift)) & np.uint64((1 << width) - 1)).astype(np.uint32)


def chunk_value(query: np.ndarray, chunk: int) -> int:
    word, shift, width = CHUNKS[chunk]
    return (int(query[word]) >> shift) & ((1 << width) - 1)


def flip_mask_count(width: int, flips: int) -> int:
    return sum(math.comb(width, count) for count in range(min(flips, width) + 1))


@lru_cache(maxsize=64)
def flip_masks(width: int, flips: int) -> np.ndarray:
    """Every `width`-bit mask with at most `flips` bits set (0 first), as uint32.

    A prefix of a chunk has the same masks: (m ^ v) >> s = (m >> s) ^ (v >> s), and the m >> s of
    all width-bit masks with at most f bits set are all the shorter masks with at most f bits set.
    """
    levels = [np.zeros(1, dtype=np.uint32)]
    highest = [np.full(1, -1)]
    for _ in range(min(flips, width)):
        masks, tops = [], []
        for bit in range(width):  # extend each mask of the last level by one bit above its highest
            below = highest[-1] < bit
            masks.append(levels[-1][below] | np.uint32(1 << bit))
            tops.append(np.full(int(below.sum()), bit))
        levels.append(np.concatenate(masks))
        highest.append(np.concatenate(tops))
    array = np.concatenate(levels)
    array.setflags(write=False)
    return array


@dataclass(frozen=True)
class ProbeSet:
    """Every table slot a lookup at one radius reads, for one set of table widths, as flat arrays so a
    lookup does a handful of vectorised steps instead of a dozen per chunk."""

    chunks: tuple[int, ...]  # the probed chunks
    shifts: tuple[int, ...]  # per probed chunk: width - table bits (low bits the table ignores)
    masks: np.ndarray  # uint32, the flip masks of every probed chunk, one after the other
    position: np.ndarray  # intp, for each mask: its chunk's place in `chunks`
    table_offset: np.ndarray  # int64, for each mask: where its chunk's table starts in the flat tables
    chunk_of: np.ndarray  # int64, for each mask: its chunk number


def table_starts(table_bits: tuple[int, ...]) -> np.ndarray:
    """Where each chunk's table (2**bits + 1 offsets) starts in the flat array of all of them."""
    sizes = np.array([(1 << bits) + 1 for bits in table_bits], dtype=np.int64)
    return np.concatenate([[0], np.cumsum(sizes)[:-1]])


@lru_cache(maxsize=256)
def probe_set(radius: int, table_bits: tuple[int, ...]) -> ProbeSet:
    plan = probe_plan(radius)
    starts = table_starts(table_bits)
    masks = [flip_masks(table_bits[chunk], flips) for chunk, flips in plan]
    counts = [len(m) for m in masks]
    chunks = tuple(chunk for chunk, _ in plan)
    return ProbeSet(
        chunks=chunks,
        shifts=tuple(CHUNKS[chunk][2] - table_bits[chunk] for chunk in chunks),
        masks=np.concatenate(masks) if masks else np.empty(0, np.uint32),
        position=np.repeat(np.arange(len(chunks)), counts),
        table_offset=np.repeat(starts[list(chunks)], counts) if chunks else np.empty(0, np.int64),
        chunk_of=np.repeat(np.array(chunks, dtype=np.int64), counts),
    )
