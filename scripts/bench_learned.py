"""Verification policies (SIFT, learned XFeat + LighterGlue, SIFT with a learned fallback) and region
candidates, measured on a make_benchmark folder with the pipeline's own engines, for docs/accuracy.md.

    nice -n 10 .venv/bin/python scripts/bench_learned.py bench/seed1 --fit var/bench/calibration-learned.json
    nice -n 10 .venv/bin/python scripts/bench_learned.py bench/seed2 --calibration var/bench/calibration-learned.json

Everything expensive is cached under var/bench/<benchmark name>/ (SSCD vectors of the 6 query views
and of the references, SIFT and XFeat features, every pair's verification outcome), so comparing
policies re-runs only the scoring. Candidates are the exact top 20 by SSCD inner product (max over
the views), as Milvus FLAT returns them; the first 10 are verified, as in the shipped pipeline.
Per-operation times are measured here and summed per query into the cost column. A query may have
several true references (bench_duplicates.py variants); `--cache-from bench/seedN` reuses that seed's
caches for such a variant, so only the added references are embedded and extracted.
"""

from __future__ import annotations

import os

# One thread per library: on shared cores, OpenBLAS / OpenCV / onnxruntime threads fighting each other
# made every step several times slower here (see bench_verification.py).
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from copydetect.benchmark import runner  # noqa: E402
from copydetect.benchmark.runner import Bench, candidate_rows, evaluate  # noqa: E402
from copydetect.candidates_regions import RegionSettings  # noqa: E402
from copydetect.scoring import ScoreCalibration, calibration_fit, candidate_rows_features  # noqa: E402
from copydetect.verification_learned import LearnedSettings, LearnedVerifier  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("benchmark", type=Path)
    parser.add_argument("--policies", nargs="*", default=["sift", "sift+learned"])
    parser.add_argument(
        "--learned-top", type=int, default=3, help="candidates (by similarity) the learned verifier may see"
    )
    parser.add_argument("--fallback-below", type=int, default=8, help="learned only where SIFT found fewer inliers")
    parser.add_argument("--matcher", default="mnn")
    parser.add_argument("--min-conf", type=float, default=0.5)
    parser.add_argument("--max-side", type=int, default=640)
    parser.add_argument("--max-keypoints", type=int, default=1024)
    parser.add_argument("--learned-min-inliers", type=int, default=8, help="learned outcomes below count as none")
    parser.add_argument("--regions", action="store_true", help="add region candidates (candidates_regions)")
    parser.add_argument("--fit", type=Path, default=None, help="fit a calibration per policy here (seed 1 only)")
    parser.add_argument("--calibration", type=Path, default=None, help="fitted calibration(s) to apply")
    parser.add_argument("--shipped", type=Path, default=Path("copydetect/calibration/sscd.json"))
    parser.add_argument("--queries", type=int, default=0, help="first N query ids only (a random subset)")
    parser.add_argument("--verify-top", type=int, default=10, help="candidates SIFT verifies (pipeline: 10)")
    parser.add_argument("--top-k", type=int, default=20, help="candidates by SSCD similarity (pipeline: 20)")
    parser.add_argument(
        "--cache-from", type=Path, default=None, help="reuse this benchmark's caches (same queries, more references)"
    )
    parser.add_argument("--dump", type=Path, default=None, help="folder: <policy>.csv rows, as isc_match --candidates")
    args = parser.parse_args()

    import cv2
    import torch

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    runner.VERIFY_TOP_K, runner.LEARNED_MIN_INLIERS, runner.TOP_K = (
        args.verify_top,
        args.learned_min_inliers,
        args.top_k,
    )
    bench = Bench(args.benchmark, Path("var/bench") / args.benchmark.name, queries=args.queries)
    if args.cache_from:
        bench.cache_seed(Path("var/bench") / args.cache_from.name)
    verifier = LearnedVerifier(
        LearnedSettings(
            max_side=args.max_side,
            max_keypoints=args.max_keypoints,
            matcher=args.matcher,
            min_conf=args.min_conf,
            min_inliers=8,  # outcomes are cached at 8; --learned-min-inliers applies on top
        )
    )
    extra = None
    if args.regions:
        region_settings = RegionSettings()
        extra = bench.region_hits(region_settings)
    plain = bench.candidates()
    candidates = bench.candidates(extra)
    queries = set(candidates)
    truth = bench.truth
    found_plain = sum(r in bench.truths_of.get(q, ()) for q in queries for r, _ in plain[q])
    found = sum(r in bench.truths_of.get(q, ()) for q in queries for r, _ in candidates[q])
    print(
        f"{args.benchmark}: {len(queries)} queries, {len(truth)} copies; true pairs in the global top {runner.TOP_K}: {found_plain}"
    )
    if args.regions:
        print(
            f"  with region candidates: {found} (+{found - found_plain}); regions per query "
            f"{np.mean([bench.region_counts.get(q, 0) for q in queries]):.2f}, "
            f"region boxes {bench.timer.mean('region_boxes'):.1f} ms + SSCD {bench.timer.mean('sscd_regions'):.1f} ms per query with regions"
        )
    shipped = ScoreCalibration.load(args.shipped)
    fitted = json.loads(args.calibration.read_text()) if args.calibration else {}
    fits = {}
    for policy in args.policies:
        rows, calls = candidate_rows(bench, candidates, policy, verifier, args.learned_top, args.fallback_below)
        line = f"  {policy:14s}"
        micro_ap, recall, threshold = evaluate(rows, truth, shipped)
        line += f" shipped calibration µAP {micro_ap:.3f} R@P90 {recall:.3f}"
        if args.fit:
            features, labels = candidate_rows_features(rows), np.array([r["label"] for r in rows])
            fits[policy] = calibration_fit(
                features=features, labels=labels, descriptor="sscd", fitted_on=str(args.benchmark)
            )
            micro_ap, recall, threshold = evaluate(rows, truth, fits[policy])
            line += f" | refit µAP {micro_ap:.3f} R@P90 {recall:.3f}"
        if policy in fitted:
            calibration = ScoreCalibration(
                descriptor="sscd", weights=tuple(fitted[policy]["weights"]), bias=fitted[policy]["bias"]
            )
            micro_ap, recall, threshold = evaluate(rows, truth, calibration)
            line += f" | seed-1 fit µAP {micro_ap:.3f} R@P90 {recall:.3f}"
        confirmed = sum(r["label"] and r["inliers"] >= 8 for r in rows)
        by_learned = sum(r["label"] and r["learned"] for r in rows)
        false_geometry = sum((not r["label"]) and r["inliers"] >= 15 for r in rows)
        line += (
            f" | copies with ≥8 inliers {confirmed} (learned {by_learned}), non-copies ≥15 inliers {false_geometry}"
            f" | learned pairs/query {calls['learned_pairs'] / len(queries):.2f}"
            f", queries with a learned call {calls['learned_queries']}/{len(queries)}"
        )
        print(line)
        if args.dump:
            import csv

            args.dump.mkdir(parents=True, exist_ok=True)
            with open(args.dump / f"{policy}.csv", "w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)
    if args.fit:
        args.fit.parent.mkdir(parents=True, exist_ok=True)
        args.fit.write_text(json.dumps({p: {"weights": c.weights, "bias": c.bias} for p, c in fits.items()}, indent=2))
    tag = verifier.cache_tag
    s = verifier.settings
    match_tag = f"{tag}|{s.matcher}|{s.min_conf if s.matcher == 'lighterglue' else s.min_cossim}_match"
    print(
        "  ms: SSCD 6 views {:.0f}/query · SIFT query {:.0f} · SIFT pair {:.0f} · XFeat query (2 views) {:.0f} · "
        "XFeat reference {:.0f} · learned pair ({}) {:.0f}".format(
            bench.timer.mean("sscd_query_views"),
            bench.timer.mean("sift_query"),
            bench.timer.mean("sift_match"),
            bench.timer.mean(f"{tag}_query"),
            bench.timer.mean(f"{tag}_reference"),
            s.matcher,
            bench.timer.mean(match_tag),
        )
    )


if __name__ == "__main__":
    main()
