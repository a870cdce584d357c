"""Extra calibration features from the SSCD views, on bench_learned.py --dump rows: fitted on the first
benchmark named (seed 1), applied to the others. Features tried beside the shipped four: the full view's
similarity, the mean over the views, and the share of views that rank the candidate first.

    taskset -c 1 nice -n 5 .venv/bin/python scripts/bench_score_features.py v10 seed1 seed2

reads var/bench/dump-<name>-<tag>/sift.csv and var/bench/<name>/sscd.npz (bench_learned.py's caches).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

from copydetect.formats import ground_truth_read_csv
from copydetect.metrics import Prediction, matching_evaluate
from copydetect.scoring import calibration_fit, candidate_rows_features


def load(name: str, tag: str):
    with open(f"var/bench/dump-{name}-{tag}/sift.csv") as handle:
        rows = list(csv.DictReader(handle))
    with np.load(f"var/bench/{name}/sscd.npz") as stored:
        data = dict(stored)
    query_index = {str(q): i for i, q in enumerate(data["query_ids"])}
    reference_index = {str(r): i for i, r in enumerate(data["reference_ids"])}
    similarity = np.einsum("qvd,rd->qvr", data["views"], data["references"])
    first = similarity.argmax(axis=2)
    extra = []
    for row in rows:
        q, r = query_index[row["query_id"]], reference_index[row["reference_id"]]
        views = similarity[q, :, r]
        extra.append((views[0], views.mean(), float((first[q] == r).sum()) / similarity.shape[1]))
    truth = [(q, r) for q, r in ground_truth_read_csv(Path(f"bench/{name}/ground_truth.csv")) if r]
    return rows, np.array(extra), truth


def evaluate(rows, features, truth, calibration) -> str:
    predictions = [
        Prediction(r["query_id"], r["reference_id"], calibration.probability(f)) for r, f in zip(rows, features)
    ]
    metrics = matching_evaluate(predictions=predictions, ground_truth=truth)
    return f"{metrics.micro_ap:.3f} / {metrics.recall_at_p90:.3f}"


def main() -> None:
    tag, names = sys.argv[1], sys.argv[2:]
    data = {name: load(name, tag) for name in names}
    variants = {
        "shipped four": [],
        "+ full view": [0],
        "+ view mean": [1],
        "+ view votes": [2],
        "+ all three": [0, 1, 2],
    }
    for variant, columns in variants.items():
        rows, extra, _ = data[names[0]]
        features = np.hstack([candidate_rows_features(rows), extra[:, columns]])
        labels = np.array([int(r["label"]) for r in rows])
        calibration = calibration_fit(features=features, labels=labels, descriptor="sscd", fitted_on=names[0])
        scores = []
        for name in names:
            rows, extra, truth = data[name]
            features = np.hstack([candidate_rows_features(rows), extra[:, columns]])
            scores.append(f"{name} {evaluate(rows, features, truth, calibration)}")
        print(f"{variant:13s} " + " | ".join(scores), [round(w, 2) for w in calibration.weights])


if __name__ == "__main__":
    main()
