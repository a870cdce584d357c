"""Milvus at a million vectors: insert, index build, search latency, recall, server memory.

    nice -n 10 .venv/bin/python scripts/bench_milvus_million.py                 # 1,000,000 rows
    nice -n 10 .venv/bin/python scripts/bench_milvus_million.py --count 100000 --index HNSW --m 16 \\
        --ef-construction 200 --search-values 16,32,64,128 --layout partition-key

    nice -n 10 .venv/bin/python scripts/bench_milvus_million.py --server standalone --search-values 16,32,64

Starts its own Milvus Lite server (or, with --server standalone, the real Milvus 2.3.5 standalone of
copydetect/milvus_standalone.py) in a temporary folder (stopped at the end, also on Ctrl-C) and
goes through copydetect.vector_store, the same code the workers use. The data imitate SSCD
descriptors of a platform with a few hundred user collections:

- 512-d, unit length, inner product;
- user collections of very different sizes (log-normal, largest ~100× the smallest);
- each user collection draws its images from a few dozen "topics" (cluster centres), topics shared
  between collections, each vector = its topic centre + noise (cosine to the centre 0.55-0.8);
- queries: half are edited copies of a stored vector (cosine ~0.9 to it), half new images from the
  same topics; each query is searched inside the user collection it came from.

Recall@10 is measured against exact search done with numpy in chunks (bounded memory).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil

from copydetect.milvus_lite import MilvusLiteServer
from copydetect.milvus_standalone import MilvusStandaloneServer
from copydetect.vector_store import IndexSpec, VectorStore

MODEL_VERSION = "bench/million"
TOP_K = 10
EXACT_CHUNK_ROWS = 50_000  # rows per matrix product in the exact search: 50k x 512 x 4 B = 100 MB
GENERATE_CHUNK_ROWS = 50_000


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1_000_000, help="vectors to insert")
    parser.add_argument("--dim", type=int, default=512, help="SSCD's dimension")
    parser.add_argument("--user-collections", type=int, default=300)
    parser.add_argument("--topics", type=int, default=3_000, help="cluster centres shared by all collections")
    parser.add_argument("--topics-per-collection", type=int, default=40)
    parser.add_argument(
        "--layout",
        choices=["partition-key", "filter"],
        default="partition-key",
        help="collection_id as partition key (the product), or a plain field and a filtered search (before)",
    )
    parser.add_argument("--server", choices=["lite", "standalone"], default="lite", help="which Milvus to start")
    parser.add_argument("--index", default="HNSW", choices=["HNSW", "HNSW_SQ", "IVF_SQ8", "IVF_FLAT"])
    parser.add_argument("--m", type=int, default=16, help="HNSW / HNSW_SQ: graph degree")
    parser.add_argument("--ef-construction", type=int, default=200, help="HNSW / HNSW_SQ")
    parser.add_argument("--nlist", type=int, default=1024, help="IVF_*: clusters")
    parser.add_argument(
        "--search-values", default="16,32,64,128", help="comma-separated ef (HNSW*) or nprobe (IVF_*) to try"
    )
    parser.add_argument("--queries", type=int, default=100, help="single queries per setting (also the recall sample)")
    parser.add_argument("--batches", type=int, default=5, help="batches per batch size")
    parser.add_argument("--batch-sizes", default="10,100")
    parser.add_argument("--insert-batch", type=int, default=10_000, help="rows per vectors_upsert call")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="keep the server's data here (default: a temporary folder, removed at the end); a second run "
        "with the same folder and arguments finds the rows in place and goes straight to the searches",
    )
    parser.add_argument("--progress-every", type=int, default=100_000, help="print the insert rate every N rows")
    return parser.parse_args()


@dataclass
class Corpus:
    vectors: np.ndarray  # (count, dim) float32, unit rows; row i has id i
    owners: np.ndarray  # (count,) user collection id of each row
    queries: np.ndarray  # (n, dim)
    query_owners: np.ndarray  # (n,)


def normalised(matrix: np.ndarray) -> np.ndarray:
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def collection_sizes(rng: np.random.Generator, count: int, collections: int) -> np.ndarray:
    weights = rng.lognormal(mean=0.0, sigma=1.2, size=collections)
    sizes = np.maximum(1, np.floor(weights / weights.sum() * count)).astype(np.int64)
    sizes[np.argmax(sizes)] += count - sizes.sum()  # exact total
    return sizes


def noisy(rng: np.random.Generator, centres: np.ndarray, low: float, high: float) -> np.ndarray:
    """Unit vectors around `centres`; noise norm drawn in [low, high] (cosine to centre 1/sqrt(1+s²))."""
    noise = normalised(rng.standard_normal(centres.shape, dtype=np.float32))
    scale = rng.uniform(low, high, size=(len(centres), 1)).astype(np.float32)
    return normalised(centres + scale * noise)


def corpus_build(args: argparse.Namespace) -> Corpus:
    rng = np.random.default_rng(args.seed)
    centres = normalised(rng.standard_normal((args.topics, args.dim), dtype=np.float32))
    sizes = collection_sizes(rng, args.count, args.user_collections)
    owners = np.repeat(np.arange(1, args.user_collections + 1), sizes)
    topics_of = rng.integers(0, args.topics, size=(args.user_collections, args.topics_per_collection))
    topic_of_row = topics_of[owners - 1, rng.integers(0, args.topics_per_collection, size=args.count)]
    vectors = np.empty((args.count, args.dim), dtype=np.float32)
    for first in range(0, args.count, GENERATE_CHUNK_ROWS):
        last = min(first + GENERATE_CHUNK_ROWS, args.count)
        vectors[first:last] = noisy(rng, centres[topic_of_row[first:last]], 0.75, 1.5)
    # Shuffle rows so that ids and insertion order do not follow user collections.
    order = rng.permutation(args.count)
    vectors, owners, topic_of_row = vectors[order], owners[order], topic_of_row[order]

    half = args.queries // 2
    sources = rng.choice(args.count, size=args.queries, replace=False)
    copies = noisy(rng, vectors[sources[:half]], 0.4, 0.55)  # edited copies: cosine ~0.9 to their source
    fresh = noisy(rng, centres[topic_of_row[sources[half:]]], 0.75, 1.5)  # new images of the same topics
    return Corpus(
        vectors=vectors,
        owners=owners.astype(np.int64),
        queries=np.concatenate([copies, fresh]),
        query_owners=owners[sources].astype(np.int64),
    )


def exact_top_k(corpus: Corpus, *, filtered: bool) -> list[set[int]]:
    """Exact top-k ids per query by brute force, in chunks of rows to bound memory."""
    count = len(corpus.queries)
    best_scores = np.full((count, TOP_K), -np.inf, dtype=np.float32)
    best_ids = np.zeros((count, TOP_K), dtype=np.int64)
    for first in range(0, len(corpus.vectors), EXACT_CHUNK_ROWS):
        chunk = corpus.vectors[first : first + EXACT_CHUNK_ROWS]
        scores = corpus.queries @ chunk.T
        if filtered:
            scores[corpus.query_owners[:, None] != corpus.owners[None, first : first + len(chunk)]] = -np.inf
        ids = np.broadcast_to(np.arange(first, first + len(chunk)), scores.shape)
        merged_scores = np.concatenate([best_scores, scores], axis=1)
        merged_ids = np.concatenate([best_ids, ids], axis=1)
        keep = np.argpartition(-merged_scores, TOP_K - 1, axis=1)[:, :TOP_K]
        best_scores = np.take_along_axis(merged_scores, keep, axis=1)
        best_ids = np.take_along_axis(merged_ids, keep, axis=1)
    return [set(row[np.isfinite(scores)].tolist()) for row, scores in zip(best_ids, best_scores)]


def server_memory(process: psutil.Process) -> tuple[float, float]:
    """Resident and peak resident memory of the server process tree, in GiB (Linux /proc)."""
    rss = peak = 0.0
    for member in [process, *process.children(recursive=True)]:
        status = Path(f"/proc/{member.pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        rss += int(fields["VmRSS"].split()[0]) * 1024
        peak += int(fields["VmHWM"].split()[0]) * 1024
    return rss / 2**30, peak / 2**30


def index_wait(process: psutil.Process, data_dir: Path, *, poll: float = 5.0, idle_share: float = 0.05) -> None:
    """Wait until Milvus Lite's background index builder is done.

    Milvus Lite 3.2.2 reports every row as indexed as soon as it is written (describe_index), and
    builds the per-segment indexes afterwards on one background thread; searches meanwhile fall back
    to brute force on the unindexed segments. Done = one index file per segment file and the server
    idle (under `idle_share` of one core) for two polls in a row.
    """
    idle_polls = 0
    while idle_polls < 2:
        before = sum(process.cpu_times()[:2])
        time.sleep(poll)
        busy = (sum(process.cpu_times()[:2]) - before) / poll
        segments, indexes = segment_files(data_dir)
        idle_polls = idle_polls + 1 if busy < idle_share and indexes >= segments else 0


def segment_files(data_dir: Path) -> tuple[int, int]:
    """(segment data files, vector index files) in the server's data folder."""
    return len(list(data_dir.rglob("*.parquet"))), len(list(data_dir.rglob("*.idx")))


def percentiles(values: list[float]) -> str:
    return f"p50 {np.percentile(values, 50):7.1f} ms  p95 {np.percentile(values, 95):7.1f} ms"


def timed_ms(operation) -> float:
    start = time.perf_counter()
    operation()
    return (time.perf_counter() - start) * 1000


def single_query_runs(store: VectorStore, corpus: Corpus, *, filtered: bool) -> tuple[list[float], list[set[int]]]:
    """One query per call, each inside its own user collection (or unfiltered): latencies and hit ids."""
    latencies, found = [], []
    for query, owner in zip(corpus.queries, corpus.query_owners):
        start = time.perf_counter()
        hits = store.vectors_search(
            model_version=MODEL_VERSION,
            vectors=query[None, :],
            top_k=TOP_K,
            collection_id=int(owner) if filtered else None,
        )[0]
        latencies.append((time.perf_counter() - start) * 1000)
        found.append({hit.id for hit in hits})
    return latencies, found


def batch_latencies(store: VectorStore, corpus: Corpus, *, batch: int, rounds: int, filtered: bool) -> list[float]:
    """Batches of queries in one call; a filtered batch stays in one user collection, as the product's
    query views do."""
    latencies = []
    for round_index in range(rounds):
        first = (round_index * batch) % len(corpus.queries)
        queries = corpus.queries[first : first + batch]
        collection_id = int(corpus.query_owners[first]) if filtered else None
        start = time.perf_counter()
        store.vectors_search(model_version=MODEL_VERSION, vectors=queries, top_k=TOP_K, collection_id=collection_id)
        latencies.append((time.perf_counter() - start) * 1000)
    return latencies


def recall(found: list[set[int]], exact: list[set[int]]) -> float:
    return sum(len(hits & truth) for hits, truth in zip(found, exact)) / sum(len(truth) for truth in exact)


def index_spec(args: argparse.Namespace, search_value: int) -> IndexSpec:
    if args.index.startswith("HNSW"):
        build = {"M": args.m, "efConstruction": args.ef_construction}
        if args.index == "HNSW_SQ":
            build["sq_type"] = "SQ8"
        return IndexSpec(kind=args.index, build=build, search={"ef": search_value})
    return IndexSpec(kind=args.index, build={"nlist": args.nlist}, search={"nprobe": search_value})


def describe_index(args: argparse.Namespace) -> str:
    if args.index.startswith("HNSW"):
        return f"{args.index} M={args.m} efConstruction={args.ef_construction}"
    return f"{args.index} nlist={args.nlist}"


def rpc_floor_ms(server_uri: str, token: str, rounds: int = 200) -> list[float]:
    """Latency of a search over a 16-row collection: client, gRPC and server overhead, no index work."""
    store = VectorStore(uri=server_uri, token=token)
    version = "bench/rpc-floor"
    store.collection_ensure(model_version=version, dim=8)
    vectors = normalised(np.random.default_rng(1).standard_normal((16, 8), dtype=np.float32))
    store.vectors_upsert(model_version=version, ids=range(16), vectors=vectors, collection_ids=[1] * 16)
    store.collection_flush(model_version=version)
    latencies = [
        timed_ms(lambda: store.vectors_search(model_version=version, vectors=vectors[:1], top_k=10, collection_id=1))
        for _ in range(rounds)
    ]
    store.collection_drop(model_version=version)
    store.close()
    return latencies


def corpus_load(
    builder: VectorStore, corpus: Corpus, args: argparse.Namespace, process: psutil.Process, data_dir: Path
) -> None:
    """Insert every row through vectors_upsert (the product's path), then wait for the index build."""
    print(f"server memory before insert: {server_memory(process)[0]:.2f} GiB", flush=True)
    start = last_report = time.perf_counter()
    reported_rows = 0
    for first in range(0, args.count, args.insert_batch):
        last = min(first + args.insert_batch, args.count)
        builder.vectors_upsert(
            model_version=MODEL_VERSION,
            ids=range(first, last),
            vectors=corpus.vectors[first:last],
            collection_ids=corpus.owners[first:last],
        )
        if last - reported_rows >= args.progress_every or last == args.count:
            now = time.perf_counter()
            print(
                f"  inserted {last:,} rows in {now - start:.0f} s; last {last - reported_rows:,} at "
                f"{(last - reported_rows) / (now - last_report):,.0f} vectors/s; server "
                f"{server_memory(process)[0]:.2f} GiB",
                flush=True,
            )
            reported_rows, last_report = last, now
    insert_seconds = time.perf_counter() - start
    print(
        f"insert: {insert_seconds:.1f} s ({args.count / insert_seconds:,.0f} vectors/s, "
        f"vectors_upsert batches of {args.insert_batch:,}); server memory {server_memory(process)[0]:.2f} GiB",
        flush=True,
    )
    start = time.perf_counter()
    builder.collection_flush(model_version=MODEL_VERSION, timeout=7200)
    flush_seconds = time.perf_counter() - start
    if args.server == "lite":
        index_wait(process, data_dir)
    index_seconds = time.perf_counter() - start
    rss, peak = server_memory(process)
    segments, indexes = segment_files(data_dir)
    print(
        f"index build: {index_seconds:.1f} s until the server's background builder went idle "
        f"(collection_flush returned after {flush_seconds:.1f} s); {segments} segment files, "
        f"{indexes} index files"
    )
    print(f"server memory after index: {rss:.2f} GiB resident, peak so far {peak:.2f} GiB")
    print(f"rows stored: {builder.vectors_count(model_version=MODEL_VERSION):,}", flush=True)


def main() -> None:
    # `kill` (SIGTERM) unwinds like Ctrl-C, so the finally below stops the server.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    args = parse_args()
    search_values = [int(value) for value in args.search_values.split(",")]
    batch_sizes = [int(value) for value in args.batch_sizes.split(",")]
    num_partitions = None if args.layout == "filter" else 64

    started = time.perf_counter()
    corpus = corpus_build(args)
    sizes = np.bincount(corpus.owners)[1:]
    print(
        f"data: {args.count:,} x {args.dim}-d unit vectors, IP, {args.user_collections} user collections "
        f"(rows: min {sizes.min():,}, median {int(np.median(sizes)):,}, max {sizes.max():,}), "
        f"{args.topics:,} topics; generated in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    started = time.perf_counter()
    exact_filtered = exact_top_k(corpus, filtered=True)
    exact_all = exact_top_k(corpus, filtered=False)
    queried_sizes = sizes[corpus.query_owners - 1]
    print(
        f"exact top-{TOP_K} (numpy, {len(corpus.queries)} queries, both scopes): "
        f"{time.perf_counter() - started:.1f} s; queried collections hold median {int(np.median(queried_sizes)):,} rows",
        flush=True,
    )
    print(f"index: {describe_index(args)}; layout: {args.layout}; client pid {os.getpid()}")

    with contextlib.ExitStack() as stack:
        if args.data_dir:
            args.data_dir.mkdir(parents=True, exist_ok=True)
            data_dir = str(args.data_dir)
        else:
            data_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench_milvus_million_"))
        if args.server == "standalone":
            server = MilvusStandaloneServer(Path(data_dir), password="bench-only-password").start()
            token = server.token
            print(f"Milvus standalone {server.uri} started in {server.started_in:.1f} s")
        else:
            server = MilvusLiteServer(Path(data_dir)).start()
            token = ""
        process = psutil.Process(server.process.pid)
        try:
            floor = rpc_floor_ms(server.uri, token)
            print(f"RPC floor (search over 16 rows, filtered): {percentiles(floor)}")
            builder = VectorStore(
                uri=server.uri,
                token=token,
                timeout=3600,
                index=index_spec(args, search_values[0]),
                num_partitions=num_partitions,
            )
            builder.collection_ensure(model_version=MODEL_VERSION, dim=args.dim, metric="IP")
            print(f"partition key: {builder.collection_partitioned(model_version=MODEL_VERSION)}")
            stored = builder.vectors_count(model_version=MODEL_VERSION)
            if stored == args.count:
                print(f"{stored:,} rows already stored in {data_dir}: insert and index build skipped")
                if args.server == "lite":
                    index_wait(process, Path(data_dir))
            else:
                if stored:
                    sys.exit(f"{data_dir} holds {stored:,} rows, not {args.count:,}: use an empty --data-dir")
                corpus_load(builder, corpus, args, process, Path(data_dir))
            builder.close()

            for value in search_values:
                store = VectorStore(uri=server.uri, token=token, timeout=600, index=index_spec(args, value))
                store.collection_ensure(model_version=MODEL_VERSION, dim=args.dim, metric="IP")
                name = "ef" if args.index.startswith("HNSW") else "nprobe"
                store.vectors_search(model_version=MODEL_VERSION, vectors=corpus.queries[:1], top_k=TOP_K)  # warm-up
                print(f"--- {name}={value} (effective {store_search_params(store, TOP_K)}), top_k={TOP_K}")
                for filtered in (True, False):
                    scope = "filtered to the query's collection" if filtered else "unfiltered (all collections)"
                    singles, found = single_query_runs(store, corpus, filtered=filtered)
                    line = f"{scope:38s} single query: {percentiles(singles)}"
                    for batch in batch_sizes:
                        batches = batch_latencies(store, corpus, batch=batch, rounds=args.batches, filtered=filtered)
                        line += f" | batch {batch}: p50 {np.percentile(batches, 50):.1f} ms, p95 {np.percentile(batches, 95):.1f} ms"
                    exact = exact_filtered if filtered else exact_all
                    line += f" | recall@{TOP_K} {recall(found, exact):.3f}"
                    print(line, flush=True)
                store.close()
            rss, peak = server_memory(process)
            print(f"server memory after searches: {rss:.2f} GiB resident, peak {peak:.2f} GiB")
        finally:
            server.stop()


def store_search_params(store: VectorStore, top_k: int) -> dict[str, int]:
    return store.index.search_params(top_k)


if __name__ == "__main__":
    main()
