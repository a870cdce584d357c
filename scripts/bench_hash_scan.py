"""Times the two linear hash scans of this branch on random PDQ hashes (no Django, no database):

- an HMA-compatible PDQ lookup (search/hma/lookup.py): one query hash against a team's N PDQ entries;
- a look-back batch (copydetect/lookback.py): Q query hashes of the window against E new entries.

    .venv/bin/python scripts/bench_hash_scan.py [--seed 1]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from copydetect.lookback import pdq_pairs_within, pdq_words


def _hashes(rng: np.random.Generator, n: int) -> list[str]:
    return [row.tobytes().hex() for row in rng.integers(0, 256, size=(n, 32), dtype=np.uint8)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    for entries in (100_000, 1_000_000):
        words = pdq_words(_hashes(rng, entries))
        queries = pdq_words(_hashes(rng, 50))
        times = []
        for query in queries:
            started = time.perf_counter()
            distances = np.bitwise_count(words ^ query).sum(axis=1, dtype=np.int32)
            np.nonzero(distances <= 31)
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        print(
            f"HMA PDQ lookup over {entries:>9,} entries: median {statistics.median(times):6.1f} ms, "
            f"p95 {times[int(0.95 * len(times)) - 1]:6.1f} ms, memory {words.nbytes / 2**20:.0f} MiB"
        )
    for query_count, entry_count in ((100_000, 100), (100_000, 1_000)):
        query_pdqs, entry_pdqs = _hashes(rng, query_count), _hashes(rng, entry_count)
        started = time.perf_counter()
        pdq_pairs_within(query_pdqs=query_pdqs, entry_pdqs=entry_pdqs, thresholds=[31] * entry_count)
        print(
            f"look-back PDQ batch: {query_count:,} queries x {entry_count:,} entries: "
            f"{(time.perf_counter() - started):.2f} s"
        )


if __name__ == "__main__":
    main()
