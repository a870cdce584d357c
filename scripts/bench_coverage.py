"""Inlier coverage of verified pairs: the area of the convex hull of the SIFT inliers as a fraction of each
image's area (query side and reference side), for true copies, verified non-copies and same-scene pairs.

    taskset -c 1 .venv/bin/python scripts/bench_coverage.py --rows var/bench/dump-seed1/sift.csv --base bench/seed1 \
        --same-scene var/same_scene1

Rows are bench_learned.py --dump rows (SIFT policy); every row with at least --min-inliers inliers is
verified again here (features are cached by bench_learned.py) to get its inlier positions. The hull is
taken over the drawn pairs (`Verification.pairs`: up to 60 inliers chosen farthest-point first from the
whole inlier set, so the hull's corners are among them).
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import csv  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from copydetect.benchmark.runner import Bench  # noqa: E402
from copydetect.verification import pair_verify_best  # noqa: E402


def hull_area(points: np.ndarray) -> float:
    """Area of the convex hull of normalised (x, y) points: a fraction of the image's area."""
    import cv2

    if len(points) < 3:
        return 0.0
    hull = cv2.convexHull(points.astype(np.float32))
    return float(cv2.contourArea(hull))


def pair_coverage(bench: Bench, query: str, reference: str) -> tuple[int, float, float]:
    outcome = pair_verify_best(bench.sift_query(query), bench.sift_reference(reference))
    if not outcome.pairs:
        return outcome.inliers, 0.0, 0.0
    pairs = np.array(outcome.pairs, dtype=np.float64)
    return outcome.inliers, hull_area(pairs[:, :2]), hull_area(pairs[:, 2:])


def summary(name: str, values: list[tuple[str, str, int, float, float]]) -> None:
    if not values:
        print(f"  {name}: none")
        return
    q = np.array([v[3] for v in values])
    r = np.array([v[4] for v in values])
    low = np.minimum(q, r)
    quantiles = (0, 0.01, 0.05, 0.1, 0.25, 0.5)
    print(
        f"  {name}: {len(values)} pairs; min(query, reference) hull quantiles "
        + " ".join(f"{p:.2f}:{np.quantile(low, p):.3f}" for p in quantiles)
        + f" | query side q05 {np.quantile(q, 0.05):.3f}, reference side q05 {np.quantile(r, 0.05):.3f}"
        + f" | max(query, reference) q05 {np.quantile(np.maximum(q, r), 0.05):.3f}"
    )


def rows_coverage(bench: Bench, rows_path: Path, min_inliers: int) -> tuple[list, list]:
    with open(rows_path) as handle:
        rows = [r for r in csv.DictReader(handle) if int(r["inliers"]) >= min_inliers]
    copies, others = [], []
    for row in rows:
        inliers, q, r = pair_coverage(bench, row["query_id"], row["reference_id"])
        (copies if row["label"] == "1" else others).append((row["query_id"], row["reference_id"], inliers, q, r))
    return copies, others


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", type=Path, nargs="+", required=True, help="benchmark folders")
    parser.add_argument("--rows", type=Path, nargs="+", required=True, help="their bench_learned.py --dump sift.csv")
    parser.add_argument("--same-scene", type=Path, default=None, help="bench_same_scene.py build folder")
    parser.add_argument("--min-inliers", type=int, default=8)
    parser.add_argument("--out", type=Path, default=None, help="csv of every measured pair")
    args = parser.parse_args()
    import cv2

    cv2.setNumThreads(1)
    measured = []
    for base, rows_path in zip(args.base, args.rows):
        bench = Bench(base, Path("var/bench") / base.name)
        copies, others = rows_coverage(bench, rows_path, args.min_inliers)
        print(f"{base}: pairs with ≥ {args.min_inliers} SIFT inliers")
        summary("true copies", copies)
        summary("non-copies", others)
        for item in sorted(copies, key=lambda v: min(v[3], v[4]))[:8]:
            print("    lowest copy", item)
        for item in others:
            print("    non-copy", item)
        measured += [(base.name, "copy", *v) for v in copies] + [(base.name, "non-copy", *v) for v in others]
    if args.same_scene:
        variant = Bench(args.same_scene, Path("var/bench") / args.same_scene.name)
        with open(args.same_scene / "same_scene.csv") as handle:
            pairs = list(csv.DictReader(handle))
        same = []
        for row in pairs:
            inliers, q, r = pair_coverage(variant, row["query_id"], row["same_scene_reference"])
            same.append((row["query_id"], row["same_scene_reference"], inliers, q, r, row["scene"]))
        print(f"{args.same_scene}: same-scene pairs")
        for item in same:
            print("   ", item)
        verified = [s for s in same if s[2] >= args.min_inliers]
        summary("same-scene pairs verified", verified)
        measured += [(args.same_scene.name, "same-scene", *v[:5]) for v in same]
    if args.out:
        with open(args.out, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(
                ["benchmark", "kind", "query_id", "reference_id", "inliers", "query_hull", "reference_hull"]
            )
            writer.writerows(measured)


if __name__ == "__main__":
    main()
