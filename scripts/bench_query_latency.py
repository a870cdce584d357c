"""Time of `pipeline.query_search` (the worker's search call: SSCD on the query views, Milvus Lite search,
SIFT of the query, loading and verifying the candidates' features, scoring) at several verify_top_k,
on a make_benchmark folder indexed into a Milvus Lite server of its own.

    taskset -c 1 .venv/bin/python scripts/bench_query_latency.py bench/seed1 --queries 40 --verify-top 10 20 --port 8610

Settings alternate query by query, so both see the same machine. What this leaves out of the live
worker's time: Celery, the database rows and reading the upload (measured in docs/ingest.md).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from PIL import Image

from copydetect.descriptors.sscd import SscdDescriptor
from copydetect.milvus_lite import MilvusLiteServer
from copydetect.pipeline import SearchSettings, query_search, reference_index
from copydetect.scoring import ScoreCalibration
from copydetect.vector_store import VectorStore
from copydetect.verification import local_features_load

COLLECTION = 1


def _open(path: Path) -> Image.Image:
    with Image.open(path) as image:
        return image.convert("RGB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("benchmark", type=Path)
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--verify-top", type=int, nargs="+", default=[10, 20])
    parser.add_argument("--threads", type=int, default=1, help="SSCD intra-op threads")
    parser.add_argument("--port", type=int, default=8610)
    parser.add_argument("--work", type=Path, default=Path("var/latency"))
    parser.add_argument("--calibration", type=Path, default=Path("copydetect/calibration/sscd.json"))
    args = parser.parse_args()
    import cv2

    cv2.setNumThreads(args.threads)
    work = args.work / args.benchmark.name
    server = MilvusLiteServer(work / "milvus")
    server.port = args.port
    server.start()
    try:
        descriptor, store = SscdDescriptor(threads=args.threads), VectorStore(uri=server.uri)
        features = work / "sift"
        references = sorted((args.benchmark / "references").glob("*.jpg"))
        started = time.perf_counter()
        for path in references:
            reference_index(
                image=_open(path),
                reference_id=int(path.stem[1:]),
                collection_id=COLLECTION,
                descriptor=descriptor,
                store=store,
                features_path=features / f"{int(path.stem[1:])}.npz",
            )
        print(f"indexed {len(references)} references in {time.perf_counter() - started:.1f} s")
        calibration = ScoreCalibration.load(args.calibration)
        times: dict[int, list[float]] = {k: [] for k in args.verify_top}
        queries = sorted((args.benchmark / "queries").glob("*.jpg"))[: args.queries]
        for path in queries:
            image = _open(path)
            for k in args.verify_top:
                settings = SearchSettings(verify_top_k=k, calibration=calibration)
                started = time.perf_counter()
                query_search(
                    image=image,
                    collection_id=COLLECTION,
                    descriptor=descriptor,
                    store=store,
                    reference_features=lambda rid: local_features_load(features / f"{rid}.npz"),
                    settings=settings,
                )
                times[k].append((time.perf_counter() - started) * 1000)
        for k, values in times.items():
            values = values[1:]  # the first query warms the models up
            print(
                f"verify_top_k {k}: {len(values)} queries, query_search mean {statistics.mean(values):.0f} ms, "
                f"median {statistics.median(values):.0f} ms, max {max(values):.0f} ms ({args.threads} thread(s))"
            )
        store.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
