"""Aligned-appearance similarity of every verified pair (≥ 8 SIFT inliers)
among the first N queries of a benchmark and of the same-scene variant, for docs/accuracy.md.

    nice -n 10 .venv/bin/python scripts/bench_appearance_check.py --base bench/seed1 --queries 250 --variant bench/same_scene1
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import csv  # noqa: E402
import json  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from copydetect.benchmark.runner import Bench, image_open  # noqa: E402
from copydetect.descriptors import Descriptor  # noqa: E402
from copydetect.verification import pair_verify_best  # noqa: E402

# The check measured here (not shipped: it does not separate, see docs/accuracy.md). Two photographs of
# one landmark from the same spot pass a geometric check; the idea was that the pixels around the
# aligned structure differ (sky, light, people) while a copy keeps them. The query is mapped onto the
# reference with the homography of the verified pairs, both are cropped to the inliers' bounding box,
# and the crops are compared with the global descriptor.
MIN_PAIRS = 8
BOX_MARGIN = 0.1  # of the box size, each side
MIN_BOX_SIDE_PX = 24


def aligned_similarity(
    query: Image.Image,
    reference: Image.Image,
    pairs: Sequence[Sequence[float]],
    descriptor: Descriptor,
) -> float | None:
    """Descriptor similarity of the reference's matched region and the query warped onto it.

    `pairs` are a Verification's (qx, qy, rx, ry) in normalised, unmirrored query coordinates (for a
    flipped copy the homography carries the reflection); None when there are too few pairs or no
    usable homography.
    """
    if len(pairs) < MIN_PAIRS:
        return None
    query_rgb, reference_rgb = query.convert("RGB"), reference.convert("RGB")
    points = np.asarray(pairs, dtype=np.float64)
    source = points[:, :2] * [query_rgb.width, query_rgb.height]
    target = points[:, 2:] * [reference_rgb.width, reference_rgb.height]
    homography, _ = cv2.findHomography(source, target, cv2.RANSAC, 0.02 * max(reference_rgb.size))
    if homography is None or not np.all(np.isfinite(homography)):
        return None
    low, high = target.min(axis=0), target.max(axis=0)
    grow = (high - low) * BOX_MARGIN
    x1, y1 = np.maximum(low - grow, 0).astype(int)
    x2, y2 = np.minimum(high + grow, [reference_rgb.width, reference_rgb.height]).astype(int)
    if x2 - x1 < MIN_BOX_SIDE_PX or y2 - y1 < MIN_BOX_SIDE_PX:
        return None
    warped = cv2.warpPerspective(
        np.asarray(query_rgb), homography, reference_rgb.size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    region_reference = reference_rgb.crop((x1, y1, x2, y2))
    region_query = Image.fromarray(warped[y1:y2, x1:x2])
    vectors = descriptor.embed([region_query, region_reference])
    return float(vectors[0] @ vectors[1])


def verified_pairs(bench: Bench, top: int) -> list[tuple[str, str, int]]:
    rows = []
    for query, ranked in bench.candidates().items():
        for reference, _ in ranked[:top]:
            inliers, _ = bench.sift_outcome(query, reference)
            if inliers >= 8:
                rows.append((query, reference, inliers))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", type=Path, required=True)
    parser.add_argument("--queries", type=int, default=0)
    parser.add_argument("--variant", type=Path, required=True)
    parser.add_argument("--top", type=int, default=5)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    out = []
    for path, queries in ((args.base, args.queries), (args.variant, 0)):
        bench = Bench(path, Path("var/bench") / path.name, queries=queries)
        same_scene = {}
        if (path / "same_scene.csv").exists():
            with open(path / "same_scene.csv") as handle:
                same_scene = {row["query_id"]: row["same_scene_reference"] for row in csv.DictReader(handle)}
        for query, reference, inliers in verified_pairs(bench, args.top):
            outcome = pair_verify_best(bench.sift_query(query), bench.sift_reference(reference))
            similarity = aligned_similarity(
                image_open(bench.query_paths[query]),
                image_open(bench.reference_paths[reference]),
                outcome.pairs,
                bench.descriptor(),
            )
            kind = (
                "copy"
                if bench.truth_of.get(query) == reference
                else ("same-scene" if same_scene.get(query) == reference else "non-copy")
            )
            out.append(
                {
                    "bench": path.name,
                    "query": query,
                    "reference": reference,
                    "inliers": inliers,
                    "kind": kind,
                    "aligned": similarity,
                }
            )
    Path("var/bench/appearance.json").write_text(json.dumps(out, indent=1))
    for kind in ("copy", "non-copy", "same-scene"):
        values = np.array([r["aligned"] if r["aligned"] is not None else np.nan for r in out if r["kind"] == kind])
        if len(values):
            print(
                f"{kind:10s} n={len(values)} aligned similarity: min {np.nanmin(values):.3f} "
                f"p5 {np.nanpercentile(values, 5):.3f} median {np.nanmedian(values):.3f} max {np.nanmax(values):.3f} "
                f"none {int(np.isnan(values).sum())} | below 0.3: {int((values < 0.3).sum())} below 0.4: {int((values < 0.4).sum())}"
                f" below 0.5: {int((values < 0.5).sum())}"
            )
    for r in out:
        if r["kind"] != "copy" or (r["aligned"] is not None and r["aligned"] < 0.5):
            print("  ", r)


if __name__ == "__main__":
    main()
