"""PDQ hash-bank lookup at scale: build, memory, single-query latency, recall, time to visibility.

    nice -n 10 .venv/bin/python scripts/bench_pdq_index.py --count 1000000 --compare
    nice -n 10 .venv/bin/python scripts/bench_pdq_index.py --count 10000000 --seed 2

Data (no image is hashed: 10M pictures are not at hand; the model is calibrated on real PDQ hashes):
each hash thresholds 256 correlated Gaussian values at their median, as PDQ thresholds its 256 DCT
coefficients, so every hash has exactly 128 ones; the correlation comes from 8 shared latent factors
(weight 0.25). `--calibrate PHOTOS` compares it with real hashes: on 415 photos from Debian packages
(gcompris-qt-data, lomiri-wallpapers, scratch, stellarium-data; scripts/fetch_photos.py) PDQ gave
pairwise distances of sd 8.5 (min 68) and 22-bit chunk near-collisions 1.4 times (median over chunks;
max 5.0) what uniform bits give; the model gives sd 12.3 (min 80) and 1.6 times (max 4.4). On top, 20 %
of the entries are near-duplicate variants of another entry (1-40 bits flipped, as lists hold variants
of one picture) and 1 % repeat another entry's hash exactly (one picture in two banks): clusters that
make multi-index hashing read more candidates. Entries are spread over 50 banks of uneven size.

Queries: half are planted near-duplicates of a random entry at a known distance (0, 4, 8, 16, 24, 28
or 31 bits): recall at radius 31 must be 1; half are new hashes from the same model (most uploads
match nothing). For `--verify` queries the whole answer is compared with a brute-force scan.

Latency is one query at a time in this process (the index uses one thread); `--processes 2` also runs
the queries in two processes at once, each mapping the same snapshot file, as two web workers on
the 2 cores would. Memory: the process's resident set (RSS) and the arrays' own size; for the
processes, their unique (USS) and proportional (PSS) sets, which count shared file pages once.

`--compare` measures the alternatives on the same data: faiss IndexBinaryFlat (brute force, 2 threads),
faiss IndexBinaryMultiHash (16 tables of 16 bits, nflip 1: exact at 31, as threatexchange's
PDQMultiHashIndex), and threatexchange's PDQIndex2 (faiss IndexFlatL2 over 256 floats per hash,
HMA 2.0's default); each is skipped when its estimated memory exceeds `--memory-limit-gb`.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
import psutil

from copydetect.bank_lookup import pdq_bank_hits
from copydetect.pdq_index import PdqIndex, pdq_hex_of_codes
from copydetect.pdq_index.codes import pdq_distances
from copydetect.pdq_index.snapshot import pdq_snapshot_load, pdq_snapshot_write

PLANTED_DISTANCES = (0, 4, 8, 16, 24, 28, 31)
LATENT_FACTORS, LATENT_WEIGHT = 8, 0.25
BANKS = 50
GIB = 2**30


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1_000_000, help="entries in the index")
    parser.add_argument("--queries", type=int, default=2_000, help="single-query lookups timed")
    parser.add_argument("--verify", type=int, default=200, help="queries checked against a brute-force scan")
    parser.add_argument("--radius", type=int, default=31)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--processes", type=int, default=2, help="processes sharing one snapshot (0: skip)")
    parser.add_argument("--compare", action="store_true", help="also measure faiss and threatexchange indexes")
    parser.add_argument("--memory-limit-gb", type=float, default=6.0)
    parser.add_argument("--workdir", help="where the snapshot file goes (default: a temporary folder)")
    parser.add_argument(
        "--calibrate",
        metavar="PHOTOS",
        help="only compare the model with the PDQ of the pictures under this folder (e.g. the output of "
        "scripts/fetch_photos.py) and exit",
    )
    return parser.parse_args()


# --- data ------------------------------------------------------------------------------------------


def pdq_like_codes(rng: np.random.Generator, count: int) -> np.ndarray:
    """(count, 4) uint64 codes with exactly 128 ones each, correlated through the latent factors (the
    same factors for every seed: they stand for what pictures have in common)."""
    loadings = np.random.default_rng(12345).standard_normal((256, LATENT_FACTORS)).astype(np.float32)
    out = np.empty((count, 4), dtype=np.uint64)
    for start in range(0, count, 100_000):
        rows = min(100_000, count - start)
        values = rng.standard_normal((rows, 256), dtype=np.float32)
        values += LATENT_WEIGHT * (rng.standard_normal((rows, LATENT_FACTORS), dtype=np.float32) @ loadings.T)
        median = np.partition(values, 127, axis=1)[:, 127:128]
        out[start : start + rows] = np.packbits(values > median, axis=1).view("<u8")
    return out


def bits_flip(rng: np.random.Generator, codes: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Each row with exactly counts[i] distinct bits flipped."""
    flipped = codes.copy()
    # A random order of the 256 bits per row (uint8: 256 bytes a row); the first counts[i] are flipped.
    order = rng.permuted(np.tile(np.arange(256, dtype=np.uint8), (len(codes), 1)), axis=1)
    for column in range(int(counts.max(initial=0))):
        rows = np.flatnonzero(counts > column)
        bits = order[rows, column].astype(np.int64)
        flipped[rows, bits // 64] ^= np.left_shift(np.uint64(1), (bits % 64).astype(np.uint64))
    return flipped


def entries_make(rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    codes = pdq_like_codes(rng, count)
    variants = rng.random(count) < 0.20
    sources = rng.integers(0, count, size=count)
    for start in range(0, count, 200_000):  # in slices: the bit permutations take 256 bytes per row
        part = slice(start, start + 200_000)
        rows = np.flatnonzero(variants[part]) + start
        codes[rows] = bits_flip(rng, codes[sources[rows]], rng.integers(1, 41, size=len(rows)))
    repeats = np.flatnonzero(rng.random(count) < 0.01)
    codes[repeats] = codes[sources[repeats]]
    entry_ids = np.arange(1, count + 1, dtype=np.int64) * 7  # sparse ids, as a table with deletions
    bank_sizes = rng.lognormal(0, 1.2, BANKS)
    bank_ids = rng.choice(np.arange(1, BANKS + 1), size=count, p=bank_sizes / bank_sizes.sum()).astype(np.int32)
    return entry_ids, bank_ids, codes


def queries_make(rng: np.random.Generator, codes: np.ndarray, count: int):
    planted = count // 2
    targets = rng.integers(0, len(codes), size=planted)
    distances = np.resize(np.array(PLANTED_DISTANCES), planted)
    near = bits_flip(rng, codes[targets], distances)
    misses = pdq_like_codes(rng, count - planted)
    return near, targets, distances, misses


# --- measuring -----------------------------------------------------------------------------------


def rss() -> int:
    return psutil.Process().memory_info().rss


def percentiles(seconds: list[float]) -> str:
    ms = np.array(seconds) * 1000
    return (
        f"p50 {np.percentile(ms, 50):.2f} ms, p95 {np.percentile(ms, 95):.2f} ms, "
        f"p99 {np.percentile(ms, 99):.2f} ms, max {ms.max():.2f} ms"
    )


def timed(function, queries) -> tuple[list[float], list]:
    seconds, results = [], []
    for query in queries:
        started = time.perf_counter()
        results.append(function(query))
        seconds.append(time.perf_counter() - started)
    return seconds, results


def say(text: str) -> None:
    print(text, flush=True)


def shared_lookups(path: str, queries: np.ndarray, radius: int, start, done, out) -> None:
    index = pdq_snapshot_load(path)
    index.lookup(queries[0], radius=radius)
    start.wait()
    seconds, _ = timed(partial(index.lookup, radius=radius), queries)
    memory = psutil.Process().memory_full_info()
    out.put((seconds, memory.rss, memory.uss, memory.pss))
    done.wait()  # stay mapped until every process has measured: shared pages count as shared


# --- the index of this repository ----------------------------------------------------------------


def bench_ours(args, entry_ids, bank_ids, codes, near, targets, planted, misses, workdir: Path) -> None:
    say("\n## copydetect.pdq_index (multi-index hashing, 12 chunks)")
    before = rss()
    started = time.perf_counter()
    index = PdqIndex.from_arrays(entry_ids=entry_ids, bank_ids=bank_ids, codes=codes)
    build = time.perf_counter() - started
    gc.collect()
    say(
        f"build: {build:.1f} s; arrays {index.nbytes() / GIB:.2f} GiB "
        f"({index.nbytes() / len(entry_ids):.0f} bytes/entry); RSS +{(rss() - before) / GIB:.2f} GiB"
    )

    path = workdir / "pdq.idx"
    started = time.perf_counter()
    pdq_snapshot_write(path, index)
    say(f"snapshot write: {time.perf_counter() - started:.1f} s, {path.stat().st_size / GIB:.2f} GiB on disk")
    del index
    gc.collect()
    before = rss()
    started = time.perf_counter()
    index = pdq_snapshot_load(path)
    say(f"snapshot load (memory map): {(time.perf_counter() - started) * 1000:.1f} ms")

    radius = args.radius
    seconds_near, found_near = timed(partial(index.lookup, radius=radius), near)
    seconds_miss, found_miss = timed(partial(index.lookup, radius=radius), misses)
    say(f"RSS after the lookups (mapped pages touched so far): +{(rss() - before) / GIB:.2f} GiB")
    say(f"lookup, planted near-duplicates ({len(near)}): {percentiles(seconds_near)}")
    say(f"lookup, new hashes ({len(misses)}): {percentiles(seconds_miss)}")
    say(f"lookup, all ({len(near) + len(misses)}): {percentiles(seconds_near + seconds_miss)}")
    recall_report(found_near, entry_ids[targets], planted)
    say(
        f"matches per query: planted median {statistics.median(len(r) for r in found_near)}, "
        f"max {max(len(r) for r in found_near)}; new hashes: {sum(len(r) > 0 for r in found_miss)} "
        f"of {len(misses)} matched something"
    )
    exactness_check(args, index, entry_ids, codes, near, misses)

    banks = {bank: radius for bank in (1, 2, 3)}
    seconds, _ = timed(lambda q: index.lookup(q, banks=banks), near[: len(near) // 2])
    say(f"lookup restricted to 3 banks: {percentiles(seconds)}")
    seconds, _ = timed(partial(index.lookup, radius=47), near[:300])
    say(f"lookup at radius 47 (300 queries): {percentiles(seconds)}")
    # As a query's worker looks it up (copydetect.bank_lookup): its hash and its 7 other dihedral
    # variants, in the team's banks; a turned or mirrored variant of a new picture is a new hash.
    variant_rng = np.random.default_rng(args.seed + 1000)
    dihedral = [[query, *pdq_like_codes(variant_rng, 7)] for query in near[:500]]
    seconds, _ = timed(lambda variants: pdq_bank_hits(index=index, pdqs=variants, banks=banks), dihedral)
    say(f"a query's 8 dihedral variants in 3 banks (500 queries): {percentiles(seconds)}")

    visibility_report(index, args, codes)
    if args.processes:
        processes_report(args, path, np.concatenate([near, misses]))


def recall_report(found, target_ids, planted_distances) -> None:
    hits = {distance: [0, 0] for distance in PLANTED_DISTANCES}
    for matches, target, distance in zip(found, target_ids.tolist(), planted_distances.tolist()):
        hits[distance][1] += 1
        hits[distance][0] += any(m.entry_id == target and m.distance == distance for m in matches)
    total = sum(h for h, _ in hits.values()), sum(n for _, n in hits.values())
    per_distance = ", ".join(f"{d}: {h}/{n}" for d, (h, n) in hits.items())
    say(f"recall of planted near-duplicates at radius 31: {total[0]}/{total[1]} ({per_distance})")


def exactness_check(args, index, entry_ids, codes, near, misses) -> None:
    queries = np.concatenate([near[: args.verify // 2], misses[: args.verify // 2]])
    mismatches = 0
    for query in queries:
        distances = pdq_distances(codes, query)
        truth = set(entry_ids[distances <= args.radius].tolist())
        mismatches += truth != {m.entry_id for m in index.lookup(query, radius=args.radius)}
    say(f"exact against a brute-force scan: {len(queries) - mismatches}/{len(queries)} queries identical")
    if mismatches:
        sys.exit("the index missed or invented matches")


def visibility_report(index: PdqIndex, args, codes) -> None:
    rng = np.random.default_rng(args.seed + 100)
    delays = []
    next_id = 10**12
    for _ in range(200):
        code = codes[rng.integers(len(codes))].copy()
        code[0] ^= np.uint64(0xFFFF)  # 16 bits away from an existing entry
        started = time.perf_counter()
        index.upsert(entry_ids=[next_id], bank_ids=[1], pdqs=code[None])
        found = any(m.entry_id == next_id for m in index.lookup(code, radius=0))
        delays.append(time.perf_counter() - started)
        assert found
        next_id += 1
    say(f"one addition, upsert + a lookup that finds it: {percentiles(delays)}")

    # A sync loop applying pages of 1,000 changes: through the tail, its freezes and merges.
    batch_seconds = []
    total = 300_000
    new_codes = pdq_like_codes(rng, total)
    started = time.perf_counter()
    for start in range(0, total, 1_000):
        batch_started = time.perf_counter()
        index.upsert(
            entry_ids=np.arange(next_id + start, next_id + start + 1_000),
            bank_ids=np.ones(1_000, dtype=np.int32),
            pdqs=new_codes[start : start + 1_000],
        )
        batch_seconds.append(time.perf_counter() - batch_started)
    elapsed = time.perf_counter() - started
    say(
        f"{total:,} additions in pages of 1,000: {total / elapsed:,.0f} entries/s; per page "
        f"{percentiles(batch_seconds)} (the slowest pages freeze the tail and merge segments)"
    )
    say(f"segments now (entries; the last is the tail): {index.segment_sizes}")
    queries = codes[rng.integers(0, len(codes), size=1_000)]
    seconds, _ = timed(partial(index.lookup, radius=args.radius), queries)
    say(f"lookup with those segments present: {percentiles(seconds)}")
    removed = np.arange(next_id, next_id + 10_000)
    started = time.perf_counter()
    index.remove(removed)
    say(f"removing 10,000 entries: {(time.perf_counter() - started) * 1000:.1f} ms")


def processes_report(args, path: Path, queries: np.ndarray) -> None:
    context = multiprocessing.get_context("spawn")
    start, done, out = context.Event(), context.Event(), context.Queue()
    workers = [
        context.Process(target=shared_lookups, args=(str(path), queries, args.radius, start, done, out))
        for _ in range(args.processes)
    ]
    for worker in workers:
        worker.start()
    time.sleep(2)
    start.set()
    results = [out.get() for _ in workers]
    done.set()
    for worker in workers:
        worker.join()
    seconds = [s for result in results for s in result[0]]
    say(f"{args.processes} processes at once, each mapping the snapshot: {percentiles(seconds)}")
    for number, (_, resident, unique, proportional) in enumerate(results, 1):
        say(
            f"  process {number}: RSS {resident / GIB:.2f} GiB, USS {unique / GIB:.2f} GiB, "
            f"PSS {proportional / GIB:.2f} GiB"
        )


# --- the alternatives ----------------------------------------------------------------------------


def bench_alternatives(args, codes, near, targets, misses, workdir: Path) -> None:
    """Each alternative in a process of its own, so that its memory is measured alone and freed."""
    sample = 100  # near-duplicates and as many new hashes: brute force over 10M rows is slow
    paths = {name: workdir / f"{name}.npy" for name in ("codes", "near", "misses")}
    for name, array in (("codes", codes), ("near", near[:sample]), ("misses", misses[:sample])):
        np.save(paths[name], array)
    context = multiprocessing.get_context("spawn")
    for name, bytes_per_entry in ALTERNATIVES.items():
        say(f"\n## {name}")
        estimate = bytes_per_entry * len(codes) / GIB
        if estimate > args.memory_limit_gb:
            say(f"skipped: about {estimate:.1f} GiB ({bytes_per_entry} bytes/entry, measured at 1M)")
            continue
        out = context.Queue()
        worker = context.Process(
            target=alternative_measure, args=(name, {k: str(v) for k, v in paths.items()}, args.radius, out)
        )
        worker.start()
        lines, found = out.get()
        worker.join()
        for line in lines:
            say(line)
        hits = sum(int(t) in set(rows) for rows, t in zip(found, targets[:sample].tolist()))
        say(f"recall of planted near-duplicates at radius 31: {hits}/{len(found)}")


ALTERNATIVES = {  # name: bytes per entry measured at 1M, to skip what would not fit
    "faiss IndexBinaryFlat (brute force, 2 threads)": 40,
    "faiss IndexBinaryMultiHash 16x16, nflip 1": 340,
    "threatexchange PDQIndex2 (HMA 2.0)": 1300,
}


def alternative_measure(name: str, paths: dict[str, str], radius: int, out) -> None:
    import faiss

    faiss.omp_set_num_threads(2)
    codes, near, misses = (np.load(paths[key]) for key in ("codes", "near", "misses"))
    build = {
        "faiss IndexBinaryFlat (brute force, 2 threads)": _faiss_flat,
        "faiss IndexBinaryMultiHash 16x16, nflip 1": _faiss_multihash,
        "threatexchange PDQIndex2 (HMA 2.0)": _te_index2,
    }[name]
    lines = []
    before = rss()
    started = time.perf_counter()
    search = build(codes)
    lines.append(f"build: {time.perf_counter() - started:.1f} s; RSS +{(rss() - before) / GIB:.2f} GiB")
    seconds_near, found = timed(partial(search, radius=radius), near)
    seconds_miss, _ = timed(partial(search, radius=radius), misses)
    lines.append(f"lookup ({len(near) + len(misses)} queries): {percentiles(seconds_near + seconds_miss)}")
    started = time.perf_counter()
    search.add(codes[:1] ^ np.uint64(0xFFFF))
    lines.append(f"adding one entry: {(time.perf_counter() - started) * 1000:.2f} ms")
    out.put((lines, found))


class _Search:
    """A lookup function with an `add`, over rows numbered as in `codes`."""

    def __init__(self, lookup, add) -> None:
        self._lookup, self.add = lookup, add

    def __call__(self, query: np.ndarray, radius: int) -> list[int]:
        return self._lookup(query, radius)


def _faiss_flat(codes):
    import faiss

    index = faiss.IndexBinaryFlat(256)
    index.add(_as_bytes(codes))
    return _Search(
        lambda q, r: _faiss_rows(index.range_search(_as_bytes(q[None]), r + 1)), lambda c: index.add(_as_bytes(c))
    )


def _faiss_multihash(codes):
    import faiss

    index = faiss.IndexBinaryMultiHash(256, 16, 16)
    index.add(_as_bytes(codes))
    index.nflip = 1
    return _Search(
        lambda q, r: _faiss_rows(index.range_search(_as_bytes(q[None]), r + 1)), lambda c: index.add(_as_bytes(c))
    )


def _as_bytes(codes: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(codes).view(np.uint8).reshape(-1, 32)


def _faiss_rows(answer) -> list[int]:
    limits, _, labels = answer
    return labels[limits[0] : limits[1]].tolist()


def _te_index2(codes):
    from threatexchange.signal_type.pdq.pdq_index2 import PDQIndex2

    index = PDQIndex2(entries=zip(pdq_hex_of_codes(codes), range(len(codes))))
    return _Search(
        lambda q, r: [m.metadata for m in index.query(pdq_hex_of_codes(q[None])[0])],
        lambda c: index.add(pdq_hex_of_codes(c)[0], -1),
    )


def calibration_report(folder: Path, seed: int) -> None:
    """How the model's hashes compare with real ones: pairwise distances and chunk collisions."""
    from PIL import Image

    from copydetect.pdq_index import pdq_codes_of_hex
    from copydetect.pdq_index.layout import CHUNKS, chunk_values
    from copydetect.signals import image_signals_compute

    hashes = []
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"}:
            with Image.open(path) as picture:
                hashes.append(image_signals_compute(image=picture.convert("RGB")).pdq)
    real = pdq_codes_of_hex(hashes)
    model = pdq_like_codes(np.random.default_rng(seed), len(real))
    uniform = np.random.default_rng(seed).integers(0, 2**64, size=(len(real), 4), dtype=np.uint64)
    for name, codes in (("real photos", real), ("this model", model), ("uniform bits", uniform)):
        upper = np.triu_indices(len(codes), 1)
        distances = np.stack([pdq_distances(codes, code) for code in codes])[upper]
        ratios = []
        for chunk, (_, _, width) in enumerate(CHUNKS):
            values = chunk_values(codes, chunk)
            near = np.bitwise_count(values[:, None] ^ values[None, :])[upper] <= 2
            ratios.append(near.mean() / ((1 + width + width * (width - 1) / 2) / 2**width))
        say(
            f"{name} ({len(codes)}): pairwise distance mean {distances.mean():.1f}, sd {distances.std():.1f}, "
            f"min {distances.min()}; chunk pairs within 2 bits, times uniform: median {np.median(ratios):.1f}, "
            f"max {max(ratios):.1f}"
        )


def main() -> None:
    args = parse_args()
    if args.calibrate:
        calibration_report(Path(args.calibrate), args.seed)
        return
    say(f"# PDQ index benchmark: {args.count:,} entries, seed {args.seed}, radius {args.radius}")
    say(
        f"machine: {os.cpu_count()} cores, {psutil.virtual_memory().total / GIB:.0f} GiB; load average "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())} (shared with other sessions)"
    )
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    entry_ids, bank_ids, codes = entries_make(rng, args.count)
    near, targets, planted, misses = queries_make(rng, codes, args.queries)
    say(f"data generated in {time.perf_counter() - started:.0f} s")
    with tempfile.TemporaryDirectory(dir=args.workdir) as folder:
        bench_ours(args, entry_ids, bank_ids, codes, near, targets, planted, misses, Path(folder))
    if args.compare:
        with tempfile.TemporaryDirectory(dir=args.workdir) as folder:
            bench_alternatives(args, codes, near, targets, misses, Path(folder))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    say(f"\npeak RSS of this process: {peak / GIB:.2f} GiB; load average at the end {load}")


if __name__ == "__main__":
    main()
