"""Benchmark copydetect.vector_store on a fresh Milvus Lite server started for the run.

    .venv/bin/python scripts/bench_vector_store.py [--count 20000] [--dim 512]

Reports insert time, index build (flush until the HNSW index covers every row), single-query
latency (p50 / p95, top_k 20 inside one user collection), batch-of-100 latency, and recall@20
of the HNSW answers against exact search with numpy.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from copydetect.milvus_lite import MilvusLiteServer  # noqa: E402
from copydetect.vector_store import VectorStore  # noqa: E402

MODEL_VERSION = "bench/random-unit"
TOP_K = 20


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=20_000, help="vectors to insert")
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=1_000, help="vectors per upsert call")
    parser.add_argument("--user-collections", type=int, default=4, help="collection_id values, round robin")
    parser.add_argument("--single-queries", type=int, default=200)
    parser.add_argument("--batches", type=int, default=10, help="batches of 100 queries")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def unit_vectors(rng: np.random.Generator, count: int, dim: int) -> np.ndarray:
    vectors = rng.standard_normal((count, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def milliseconds_since(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def percentile(values: list[float], fraction: float) -> float:
    return float(np.percentile(values, fraction * 100))


def insert_all(store: VectorStore, vectors: np.ndarray, owners: np.ndarray, batch_size: int) -> float:
    start = time.perf_counter()
    for first in range(0, len(vectors), batch_size):
        last = first + batch_size
        store.vectors_upsert(
            model_version=MODEL_VERSION,
            ids=range(first, min(last, len(vectors))),
            vectors=vectors[first:last],
            collection_ids=owners[first:last],
        )
    return time.perf_counter() - start


def single_query_latencies(store: VectorStore, queries: np.ndarray, collection_id: int) -> list[float]:
    latencies = []
    for query in queries:
        start = time.perf_counter()
        store.vectors_search(
            model_version=MODEL_VERSION, vectors=query[None, :], top_k=TOP_K, collection_id=collection_id
        )
        latencies.append(milliseconds_since(start))
    return latencies


def batch_latencies(store: VectorStore, query_batches: list[np.ndarray], collection_id: int) -> list[float]:
    latencies = []
    for batch in query_batches:
        start = time.perf_counter()
        store.vectors_search(model_version=MODEL_VERSION, vectors=batch, top_k=TOP_K, collection_id=collection_id)
        latencies.append(milliseconds_since(start))
    return latencies


def recall_at_k(
    store: VectorStore, queries: np.ndarray, vectors: np.ndarray, owners: np.ndarray, collection_id: int
) -> float:
    member_ids = np.flatnonzero(owners == collection_id)
    similarities = queries @ vectors[member_ids].T
    exact = member_ids[np.argsort(-similarities, axis=1)[:, :TOP_K]]
    found = store.vectors_search(model_version=MODEL_VERSION, vectors=queries, top_k=TOP_K, collection_id=collection_id)
    overlaps = [len(set(row.tolist()) & {hit.id for hit in hits}) for row, hits in zip(exact, found)]
    return sum(overlaps) / (TOP_K * len(queries))


def main() -> None:
    args = parse_args()
    rng = np.random.default_rng(args.seed)
    vectors = unit_vectors(rng, args.count, args.dim)
    owners = np.arange(args.count) % args.user_collections
    single_queries = unit_vectors(rng, args.single_queries, args.dim)
    query_batches = [unit_vectors(rng, 100, args.dim) for _ in range(args.batches)]
    filtered_collection = 0

    with tempfile.TemporaryDirectory(prefix="bench_milvus_") as data_dir:
        server = MilvusLiteServer(Path(data_dir)).start()
        store = VectorStore(uri=server.uri, timeout=300)
        try:
            store.collection_ensure(model_version=MODEL_VERSION, dim=args.dim, metric="IP")
            insert_seconds = insert_all(store, vectors, owners, args.batch_size)
            start = time.perf_counter()
            store.collection_flush(model_version=MODEL_VERSION)
            index_seconds = time.perf_counter() - start
            store.vectors_search(model_version=MODEL_VERSION, vectors=single_queries[:1], top_k=TOP_K)  # warm-up
            singles = single_query_latencies(store, single_queries, filtered_collection)
            batches = batch_latencies(store, query_batches, filtered_collection)
            recall = recall_at_k(store, query_batches[0], vectors, owners, filtered_collection)
            stored = store.vectors_count(model_version=MODEL_VERSION)
        finally:
            store.close()
            server.stop()

    per_collection = args.count // args.user_collections
    print(f"vectors: {args.count} x {args.dim}-d unit, IP, HNSW M=16 efConstruction=200; rows stored: {stored}")
    print(
        f"insert: {insert_seconds:.2f} s in batches of {args.batch_size} ({args.count / insert_seconds:,.0f} vectors/s)"
    )
    print(f"index build (flush until indexed): {index_seconds:.2f} s")
    print(
        f"single query, top_k {TOP_K}, filter to 1 of {args.user_collections} collections "
        f"(~{per_collection} rows), n={len(singles)}: p50 {percentile(singles, 0.5):.1f} ms, "
        f"p95 {percentile(singles, 0.95):.1f} ms"
    )
    print(
        f"batch of 100 queries, n={len(batches)}: median {statistics.median(batches):.1f} ms "
        f"({statistics.median(batches) / 100:.2f} ms/query), max {max(batches):.1f} ms"
    )
    print(f"recall@{TOP_K} vs exact (filtered, 100 queries): {recall:.3f}")


if __name__ == "__main__":
    main()
