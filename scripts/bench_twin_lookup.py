"""What finding near-identical candidates costs a search: one `vectors_get` of the candidates' stored
descriptors (pipeline._candidates_near_identical), beside the search of the query's 6 views it follows.

    nice -n 10 .venv/bin/python scripts/bench_twin_lookup.py --rows 250 10000 --port 19710

Random unit vectors (512 dims) in one user collection of a Milvus Lite server of its own; every search
asks for the top 20 of 6 query vectors, every lookup fetches 20 stored rows by id.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from copydetect.milvus_lite import MilvusLiteServer
from copydetect.vector_store import VectorStore

DIM = 512
COLLECTION = 1


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    vectors = rng.normal(size=(n, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    return f"p50 {statistics.median(ordered):.1f} ms, p95 {ordered[int(0.95 * (len(ordered) - 1))]:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[250, 10_000])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as directory:
        server = MilvusLiteServer(Path(directory))
        if args.port:
            server.port = args.port
        server.start()
        try:
            for rows in args.rows:
                store = VectorStore(uri=server.uri)
                version = f"bench_twin_lookup_{rows}"
                store.collection_ensure(model_version=version, dim=DIM)
                for start in range(0, rows, 5000):
                    count = min(5000, rows - start)
                    store.vectors_upsert(
                        model_version=version,
                        ids=list(range(start, start + count)),
                        vectors=_unit(rng, count),
                        collection_ids=[COLLECTION] * count,
                    )
                store.collection_flush(model_version=version)
                searches, lookups = [], []
                for _ in range(args.repeats):
                    started = time.perf_counter()
                    hits = store.vectors_search(
                        model_version=version, vectors=_unit(rng, 6), top_k=20, collection_id=COLLECTION
                    )
                    searches.append((time.perf_counter() - started) * 1000)
                    ids = sorted({hit.id for view in hits for hit in view})[:20]
                    started = time.perf_counter()
                    found = store.vectors_get(model_version=version, ids=ids)
                    lookups.append((time.perf_counter() - started) * 1000)
                    assert len(found) == len(ids)
                print(f"{rows} rows: search of 6 views {_ms(searches)}; lookup of 20 stored vectors {_ms(lookups)}")
                store.collection_drop(model_version=version)
                store.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
