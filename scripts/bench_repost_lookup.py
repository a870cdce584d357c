"""Finding a new query's near-identical earlier twin: the full scan against the re-post index.

    taskset -c 0 .venv/bin/python scripts/bench_repost_lookup.py --earlier 20000 --probes 50
    taskset -c 0 .venv/bin/python scripts/bench_repost_lookup.py --earlier 100000 --seed 2

Builds a throw-away SQLite database (migrated) and a Milvus Lite server in a temporary folder, fills one
user collection with `--earlier` leading queries (512-d unit descriptors stored as the rows store them,
float16), adds them to the re-post index through copydetect/reposts.py, then times, per probe query
(half re-posts of a stored query at cosine ~0.95, half new pictures), search/verdicts.near_duplicate_leader
without candidates (the scan over every earlier query) and with the candidates the index proposes (the
query task's path: one filtered Milvus search plus one database read of at most 16 rows). Both must name
the same leader for every probe; the script fails otherwise.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

# The site's packages (isc_site, search) are not installed; the engines are.
DIM = 512


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--earlier", type=int, default=20_000, help="earlier leading queries in the collection")
    parser.add_argument("--probes", type=int, default=50, help="queries looked up (half of them re-posts)")
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args()


def unit_rows(rng: np.random.Generator, count: int) -> np.ndarray:
    rows = rng.standard_normal((count, DIM)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def at_cosine(rng: np.random.Generator, vector: np.ndarray, cosine: float) -> np.ndarray:
    other = rng.standard_normal(DIM).astype(np.float32)
    other -= other.dot(vector) * vector
    other /= np.linalg.norm(other)
    return cosine * vector + np.sqrt(1 - cosine**2) * other


def server_idle_wait(process: psutil.Process, *, poll: float = 3.0, idle_share: float = 0.05) -> None:
    """Milvus Lite builds segment indexes on a background thread after a flush and searches the
    unindexed segments by brute force meanwhile: wait until the server is idle for two polls."""
    idle_polls = 0
    while idle_polls < 2:
        before = sum(sum(member.cpu_times()[:2]) for member in [process, *process.children(recursive=True)])
        time.sleep(poll)
        after = sum(sum(member.cpu_times()[:2]) for member in [process, *process.children(recursive=True)])
        idle_polls = idle_polls + 1 if (after - before) / poll < idle_share else 0


def query_row(collection, name: str, descriptor: np.ndarray, version: str, *, sha256: str):
    """An unsaved query row holding `descriptor` as the query task stores it."""
    from search.queries.models import QueryImage
    from search.review import verdicts

    return QueryImage(
        collection=collection,
        sha256=sha256,
        original_name=f"{name}.jpg",
        file=f"queries/{name}.jpg",
        width=640,
        height=480,
        descriptor=verdicts.descriptor_pack(descriptor),
        descriptor_version=version,
    )


def percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered):.1f} ms, p95 {p95:.1f} ms, mean {statistics.fmean(ordered):.1f} ms"


def main() -> int:
    args = parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-reposts-"))
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'db.sqlite3'}"
    os.environ["ISC_DATA_DIR"] = str(workdir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "isc_site.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from copydetect.milvus_lite import MilvusLiteServer
    from copydetect.reposts import repost_candidates, repost_key, repost_leaders_add
    from copydetect.vector_store import VectorStore
    from search.collection.models import Collection
    from search.queries.models import QueryImage
    from search.review import verdicts
    from search.teams.models import Team

    call_command("migrate", verbosity=0)
    rng = np.random.default_rng(args.seed)
    team = Team.objects.create(name="bench", slug="bench")
    collection = Collection.objects.create(name="bench", team=team)
    vectors = unit_rows(rng, args.earlier)
    version = "bench/1"
    print(f"filling {args.earlier:,} earlier queries ...", flush=True)
    started = time.perf_counter()
    for start in range(0, args.earlier, 5000):
        QueryImage.objects.bulk_create(
            [
                query_row(collection, f"q{start + offset}", vector, version, sha256=f"{start + offset:064x}")
                for offset, vector in enumerate(vectors[start : start + 5000])
            ]
        )
    ids = list(QueryImage.objects.order_by("id").values_list("id", flat=True))
    print(f"database rows: {time.perf_counter() - started:.1f} s", flush=True)

    server = MilvusLiteServer(workdir / "milvus").start()
    store = VectorStore(uri=server.uri)
    try:
        started = time.perf_counter()
        repost_leaders_add(
            store=store,
            descriptor_version=version,
            query_ids=ids,
            vectors=vectors,
            collection_ids=[collection.id] * len(ids),
        )
        store.collection_flush(model_version=repost_key(version))
        print(f"re-post index: {len(ids):,} leaders added in {time.perf_counter() - started:.1f} s", flush=True)
        started = time.perf_counter()
        server_idle_wait(psutil.Process(server.process.pid))
        print(f"index built in the background: {time.perf_counter() - started:.1f} s", flush=True)
        repost_candidates(store=store, descriptor_version=version, vector=vectors[0], collection_id=collection.id)
        scan_ms: list[float] = []
        index_ms: list[float] = []
        search_ms: list[float] = []
        found = 0
        for probe_index in range(args.probes):
            if probe_index % 2 == 0:
                twin = int(rng.integers(len(ids)))
                descriptor = at_cosine(rng, vectors[twin], 0.95)
                expected = ids[twin]
            else:
                descriptor, expected = unit_rows(rng, 1)[0], None
            probe = query_row(collection, f"probe{probe_index}", descriptor, version, sha256=f"probe{probe_index:059x}")
            probe.near_duplicate_of_id = ids[0]  # a follower: later probes never take it for a leader
            probe.save()
            started = time.perf_counter()
            scanned = verdicts.near_duplicate_leader(query=probe)
            scan_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            candidates = repost_candidates(
                store=store, descriptor_version=version, vector=descriptor, collection_id=collection.id
            )
            searched = time.perf_counter()
            indexed = verdicts.near_duplicate_leader(query=probe, candidate_ids=candidates)
            index_ms.append((time.perf_counter() - started) * 1000)
            search_ms.append((searched - started) * 1000)
            names = [leader.id if leader else None for leader in (scanned, indexed)]
            if names != [expected, expected]:
                print(f"probe {probe_index}: expected {expected}, scan {names[0]}, index {names[1]}", file=sys.stderr)
                return 1
            found += expected is not None
        print(f"{args.probes} probes ({found} re-posts found by both, the others by neither), seed {args.seed}")
        print(f"full scan:      {percentiles(scan_ms)}")
        print(f"re-post index:  {percentiles(index_ms)} (of which the Milvus search {percentiles(search_ms)})")
    finally:
        store.close()
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
