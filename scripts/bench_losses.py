"""Where the copies are lost: for each copy of a make_benchmark folder that the scored candidates do not
recall at 90 % precision, the rank of its true reference among all references by SSCD similarity (max
over the 6 query views), its SIFT inliers and its learned (XFeat mutual-NN) inliers, with the edits.

Reads bench_learned.py's caches (var/bench/<name>/: SSCD vectors, SIFT / XFeat features, pair outcomes)
and the rows that `bench_learned.py --dump` wrote, so run bench_learned.py on the folder first:

    taskset -c 1 .venv/bin/python scripts/bench_learned.py bench/seed1 --fit var/bench/cal.json --dump var/bench/dump-seed1
    taskset -c 1 .venv/bin/python scripts/bench_losses.py bench/seed1 --rows var/bench/dump-seed1/sift.csv \
        --calibration var/bench/cal.json --policy sift

SIFT and learned outcomes of true pairs outside the verified candidates are computed here (and cached).
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import csv  # noqa: E402
import json  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from copydetect.benchmark.runner import Bench  # noqa: E402
from copydetect.metrics import Prediction, matching_evaluate  # noqa: E402
from copydetect.scoring import ScoreCalibration, candidate_rows_features  # noqa: E402
from copydetect.verification_learned import LearnedSettings, LearnedVerifier  # noqa: E402

RANK_BANDS = ((1, 10, "top 10"), (11, 20, "11–20"), (21, 100, "21–100"), (101, 10**9, "beyond 100"))


def band(rank: int) -> str:
    return next(name for low, high, name in RANK_BANDS if low <= rank <= high)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("benchmark", type=Path)
    parser.add_argument("--rows", type=Path, required=True, help="a bench_learned.py --dump csv")
    parser.add_argument(
        "--calibration", type=Path, required=True, help="bench_learned.py --fit json, or a shipped calibration"
    )
    parser.add_argument("--policy", default="sift")
    parser.add_argument("--no-learned", action="store_true", help="skip the learned inliers of lost copies")
    args = parser.parse_args()

    import cv2
    import torch

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    bench = Bench(args.benchmark, Path("var/bench") / args.benchmark.name)
    fitted = json.loads(args.calibration.read_text())
    if "weights" in fitted:  # a shipped calibration file
        calibration = ScoreCalibration.load(args.calibration)
    else:
        fitted = fitted[args.policy]
        calibration = ScoreCalibration(descriptor="sscd", weights=tuple(fitted["weights"]), bias=fitted["bias"])
    with open(args.rows) as handle:
        rows = list(csv.DictReader(handle))
    scores = [calibration.probability(f) for f in candidate_rows_features(rows)]
    metrics = matching_evaluate(
        predictions=[Prediction(r["query_id"], r["reference_id"], s) for r, s in zip(rows, scores)],
        ground_truth=bench.truth,
    )
    threshold = metrics.threshold_at_p90
    best_negative = max(s for r, s in zip(rows, scores) if r["label"] == "0")
    true_score = {r["query_id"]: s for r, s in zip(rows, scores) if r["label"] == "1"}
    true_inliers = {r["query_id"]: int(r["inliers"]) for r in rows if r["label"] == "1"}

    data = bench.vectors()
    similarity = np.einsum("qvd,rd->qvr", data["views"], data["references"]).max(axis=1)
    reference_index = {str(r): i for i, r in enumerate(data["reference_ids"])}
    query_row = {str(q): i for i, q in enumerate(data["query_ids"])}
    with open(args.benchmark / "edits.csv") as handle:
        edits = {row["query_id"]: row for row in csv.DictReader(handle)}
    verifier = None if args.no_learned else LearnedVerifier(LearnedSettings(matcher="mnn", min_inliers=8))

    ranks = {}
    for query, reference in bench.truth:
        row = similarity[query_row[query]]
        ranks[query] = int((row > row[reference_index[reference]]).sum()) + 1
    print(
        f"{args.benchmark} ({args.policy}, µAP {metrics.micro_ap:.3f}, R@P90 {metrics.recall_at_p90:.3f}, "
        f"threshold at P90 {threshold}): {len(bench.truth)} copies; true reference's SSCD rank among "
        f"{len(reference_index)} references: "
        + ", ".join(f"{name} {sum(band(r) == name for r in ranks.values())}" for *_, name in RANK_BANDS)
    )
    lost = [(q, r) for q, r in bench.truth if q not in true_score or threshold is None or true_score[q] < threshold]
    below_negative = sum(q not in true_score or true_score[q] <= best_negative for q, _ in bench.truth)
    print(
        f"  lost (not recalled at P90): {len(lost)}; below the best-scoring non-copy: {below_negative}; "
        f"by rank band: {dict(Counter(band(ranks[q]) for q, _ in lost))}"
    )
    print("  query     rank  sim    SIFT  learned score  difficulty families")
    for query, reference in sorted(lost, key=lambda pair: ranks[pair[0]]):
        sift_inliers = true_inliers.get(query)
        if sift_inliers is None or (f"sift|{query}|{reference}" not in bench.outcomes):
            sift_inliers = bench.sift_outcome(query, reference)[0]
        learned_inliers = "-"
        if verifier is not None:
            learned_inliers = bench.learned_outcome(verifier, query, reference)[0]
        sim = similarity[query_row[query], reference_index[reference]]
        score = true_score.get(query)
        print(
            f"  {query} {ranks[query]:5d} {sim:.3f} {sift_inliers:5d} {learned_inliers!s:>7} "
            f"{'-' if score is None else f'{score:.3f}':>6} {edits[query]['difficulty']:6s} {edits[query]['families']}"
        )
    bench.save()


if __name__ == "__main__":
    main()
