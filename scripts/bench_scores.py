"""Final scores on the seeds with and without near-identical references (issue 17), for docs/accuracy.md.

    nice -n 10 .venv/bin/python scripts/bench_scores.py --fit-on seed1 --evaluate seed1 seed2 seed1+same_scene1 seed2+same_scene2
    nice -n 10 .venv/bin/python scripts/bench_scores.py --settings distinct/distinct/tail --save-calibration copydetect/calibration/sscd.json

Reads what `bench_learned.py --verify-top 20 --dump var/bench/dump-<name>-v20` wrote for each benchmark
and for its `<name>-dup` variant (bench_duplicates.py: every matched reference has a 75 % twin), and the
SSCD vectors of the references it cached (var/bench/<name>/sscd.npz). Every candidate was verified, so
the script can replay the pipeline's choice of which candidates to verify (the first 10 by rank, or
the first 10 slots with twins sharing one: pipeline.verification_slots) and its margins (against the
runner-up, or against the best candidate that is not a twin: scoring.similarity_margins). `a+b` pools
two benchmarks (a seed and its same-scene non-copies, bench_same_scene.py).

Each setting is margins/verification/fit; the calibration is fitted on --fit-on only (the tail's scale
on --fit-on pooled with --tail-with). Per benchmark it prints µAP / recall at 90 % precision, copies
flagged at the collections' default threshold 0.5, what the twins change (copies flagged without them
and not with them; copies with one of their two true pairs below 0.5; the largest change of a true
pair's score), and how the final scores spread (deciles of the true pairs and of each non-copy query's
best candidate, true pairs at ≥ 0.999, distinct values above 0.99, log loss, the best score of a pair
without inliers).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from copydetect.formats import ground_truth_read_csv
from copydetect.metrics import Prediction, matching_evaluate
from copydetect.pipeline import verification_slots
from copydetect.scoring import (
    ScoreCalibration,
    calibration_fit,
    evidence_features,
    near_identical_sets,
    similarity_margins,
)

THRESHOLD = 0.5
VERIFY_TOP_K = 10


@dataclass
class Query:
    query_id: str
    references: list[str]
    similarities: list[float]
    inliers: list[int]  # with every candidate verified
    scores: list[float]
    twins: list[frozenset[int]]


@dataclass
class Benchmark:
    name: str
    queries: list[Query]
    truth: list[tuple[str, str]]
    truths_of: dict[str, set[str]]


def benchmark_load(name: str, *, bench_dir: Path, var_dir: Path, min_similarity: float) -> Benchmark:
    rows = list(csv.DictReader(open(var_dir / f"dump-{name}-v20" / "sift.csv", newline="")))
    with np.load(var_dir / name / "sscd.npz") as stored:
        vector_of = dict(zip((str(i) for i in stored["reference_ids"]), stored["references"]))
    by_query: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_query[row["query_id"]].append(row)
    queries = []
    for query_id, group in by_query.items():
        references = [row["reference_id"] for row in group]
        queries.append(
            Query(
                query_id=query_id,
                references=references,
                similarities=[float(row["descriptor_similarity"]) for row in group],
                inliers=[int(row["inliers"]) for row in group],
                scores=[float(row["verification_score"]) for row in group],
                twins=near_identical_sets([vector_of[r] for r in references], min_similarity=min_similarity),
            )
        )
    truth = [(q, r) for q, r in ground_truth_read_csv(bench_dir / name / "ground_truth.csv") if r]
    truths_of: dict[str, set[str]] = defaultdict(set)
    for query, reference in truth:
        truths_of[query].add(reference)
    return Benchmark(name=name, queries=queries, truth=truth, truths_of=truths_of)


def benchmarks_pool(name: str, parts: list[Benchmark]) -> Benchmark:
    """One benchmark of several (e.g. seed1+same_scene1: the seed's queries and the same-scene non-copies)."""
    truths_of: dict[str, set[str]] = defaultdict(set)
    for part in parts:
        for query, references in part.truths_of.items():
            truths_of[query] |= references
    return Benchmark(
        name=name,
        queries=[q for part in parts for q in part.queries],
        truth=[pair for part in parts for pair in part.truth],
        truths_of=truths_of,
    )


def query_features(query: Query, *, margins: str, verify: str) -> np.ndarray:
    n = len(query.references)
    twins = query.twins if "distinct" in (margins, verify) else [frozenset()] * n
    slots = verification_slots(twins) if verify == "distinct" else list(range(n))
    verified = [slot < VERIFY_TOP_K for slot in slots]
    if margins == "none":
        margin_values = [0.0] * n
    elif margins == "second":  # against the second-best other candidate: survives one twin, not two
        margin_values = [
            query.similarities[i] - (sorted(query.similarities[:i] + query.similarities[i + 1 :])[-2:] or [0.0])[0]
            for i in range(n)
        ]
    else:
        margin_values = similarity_margins(query.similarities, near_identical=twins if margins == "distinct" else None)
    return np.array(
        [
            evidence_features(
                similarity=query.similarities[i],
                inliers=query.inliers[i] if verified[i] else 0,
                verification_score=query.scores[i] if verified[i] else 0.0,
                margin=margin_values[i],
            )
            for i in range(n)
        ]
    )


def benchmark_features(benchmark: Benchmark, *, margins: str, verify: str) -> tuple[np.ndarray, np.ndarray]:
    features = np.concatenate([query_features(q, margins=margins, verify=verify) for q in benchmark.queries])
    labels = np.array(
        [r in benchmark.truths_of.get(q.query_id, ()) for q in benchmark.queries for r in q.references], dtype=float
    )
    if margins == "none":
        features = features[:, :3]
    return features, labels


def pair_scores(benchmark: Benchmark, probabilities: np.ndarray) -> dict[tuple[str, str], float]:
    keys = [(q.query_id, r) for q in benchmark.queries for r in q.references]
    return dict(zip(keys, probabilities.tolist()))


def deciles(values: list[float]) -> str:
    if not values:
        return "-"
    return " ".join(f"{v:.3f}" for v in np.quantile(values, np.linspace(0.1, 0.9, 9)))


def report(
    benchmark: Benchmark,
    scores: dict[tuple[str, str], float],
    features: np.ndarray,
    plain: tuple[Benchmark, dict[tuple[str, str], float]] | None,
) -> dict:
    predictions = [Prediction(q, r, s) for (q, r), s in scores.items()]
    metrics = matching_evaluate(predictions=predictions, ground_truth=benchmark.truth)
    copies = sorted(benchmark.truths_of)
    flagged = {q for q in copies if any(scores.get((q, r), 0.0) >= THRESHOLD for r in benchmark.truths_of[q])}
    true_scores = [scores[(q, r)] for q, r in benchmark.truth if (q, r) in scores]
    negatives = [
        max(s for (q2, _), s in scores.items() if q2 == q.query_id)
        for q in benchmark.queries
        if q.query_id not in benchmark.truths_of
    ]
    values = np.array(list(scores.values()))
    labels = np.array([r in benchmark.truths_of.get(q, ()) for q, r in scores], dtype=float)
    clipped = np.clip(values, 1e-15, 1 - 1e-15)
    log_loss = -np.mean(labels * np.log(clipped) + (1 - labels) * np.log(1 - clipped))
    no_inliers = features[:, 1] == 0
    line = {
        "uAP": round(metrics.micro_ap, 4),
        "R@P90": round(metrics.recall_at_p90, 4),
        "flagged": f"{len(flagged)}/{len(copies)}",
        "non-copies>=0.5": sum(s >= THRESHOLD for s in negatives),
        "true deciles": deciles(true_scores),
        "non-copy best deciles": deciles(negatives),
        "true>=0.999": sum(s >= 0.999 for s in true_scores),
        "distinct>0.99": f"{len(set(values[values > 0.99].tolist()))} of {int((values > 0.99).sum())}",
        # What a page shows with 4 decimals, cut (not rounded) so that nothing below 1 reads 1.0000.
        "distinct>0.99 at 4 decimals": len({math.floor(v * 10_000) for v in values[values > 0.99].tolist()}),
        "log loss": round(float(log_loss), 5),
        "max without inliers": round(float(values[no_inliers].max()), 6) if no_inliers.any() else None,
    }
    if plain is not None:
        plain_benchmark, plain_scores = plain
        plain_flagged = {
            q
            for q in plain_benchmark.truths_of
            if any(plain_scores.get((q, r), 0.0) >= THRESHOLD for r in plain_benchmark.truths_of[q])
        }
        line["lost with twins"] = len(plain_flagged - flagged)
        line["one of two below"] = sum(
            1 for q in copies if sum(scores.get((q, r), 0.0) >= THRESHOLD for r in benchmark.truths_of[q]) == 1
        )
        drifts = [
            abs(scores[k] - plain_scores[k])
            for k in plain_scores
            if k in scores and k[1] in _truth_refs(k, plain_benchmark)
        ]
        line["max drift of a true pair"] = round(max(drifts), 4) if drifts else None
        line["true pairs drifting > 0.01"] = sum(d > 0.01 for d in drifts)
    return line


def _truth_refs(key: tuple[str, str], benchmark: Benchmark) -> set[str]:
    return benchmark.truths_of.get(key[0], set())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit-on", default="seed1")
    parser.add_argument("--evaluate", nargs="+", default=["seed1", "seed2"])
    parser.add_argument("--bench-dir", type=Path, default=Path("bench"))
    parser.add_argument("--var-dir", type=Path, default=Path("var/bench"))
    parser.add_argument("--near-identical", type=float, default=0.9)
    parser.add_argument(
        "--settings",
        nargs="+",
        default=["runner-up/rank/before", "distinct/distinct/map", "distinct/distinct/tail"],
        help="margins/verification/fit: margins runner-up | distinct | second | none; verification rank | "
        "distinct (twins share a slot); fit before (the --before file) | map (plain logistic) | tail "
        "(logarithmic upper tail fitted on --fit-on pooled with --tail-with)",
    )
    parser.add_argument("--tail-with", default="same_scene1", help="non-copies with strong evidence for the tail")
    parser.add_argument("--before", type=Path, default=Path("var/bench/sscd-before.json"))
    parser.add_argument("--save-calibration", type=Path, default=None, help="write the last setting's fit here")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    def load(name: str) -> Benchmark:
        parts = [
            benchmark_load(part, bench_dir=args.bench_dir, var_dir=args.var_dir, min_similarity=args.near_identical)
            for part in name.split("+")
        ]
        return parts[0] if len(parts) == 1 else benchmarks_pool(name, parts)

    fit_benchmark = load(args.fit_on)
    tail_benchmark = load(f"{args.fit_on}+{args.tail_with}") if args.tail_with else None
    evaluated = {}
    for name in args.evaluate:
        evaluated[name] = load(name)
        if "+" not in name and (args.var_dir / f"dump-{name}-dup-v20").exists():
            evaluated[f"{name}-dup"] = load(f"{name}-dup")
    results = {}
    for setting in args.settings:
        margins, verify, fit = setting.split("/")
        if fit == "before":
            calibration = ScoreCalibration.load(args.before)
        else:
            features, labels = benchmark_features(fit_benchmark, margins=margins, verify=verify)
            tail = {"tail_scale": None}
            if fit == "tail" and tail_benchmark is not None:
                tail_features, tail_labels = benchmark_features(tail_benchmark, margins=margins, verify=verify)
                tail = {"tail_features": tail_features, "tail_labels": tail_labels}
            calibration = calibration_fit(
                features=features,
                labels=labels,
                descriptor="sscd",
                fitted_on=f"scripts/bench_scores.py --fit-on {args.fit_on} --tail-with {args.tail_with} "
                f"(bench_learned.py --verify-top 20 dumps replayed at verify 10; margins {margins}, "
                f"verification {verify})",
                near_identical_similarity=args.near_identical if margins == "distinct" else None,
                **tail,
            )
        print(
            f"== {setting}: weights {np.round(calibration.weights, 3)}, bias {calibration.bias:.3f}, "
            f"tail scale {calibration.tail_scale}"
        )
        plain_of = {}
        for name, benchmark in evaluated.items():
            features, _ = benchmark_features(benchmark, margins=margins, verify=verify)
            probabilities = np.array([calibration.probability(f) for f in features])
            scores = pair_scores(benchmark, probabilities)
            plain = plain_of.get(name.removesuffix("-dup")) if name.endswith("-dup") else None
            if plain is None:
                plain_of[name] = (benchmark, scores)
            line = report(benchmark, scores, features, plain)
            results[f"{setting} {name}"] = line
            print(f"  {name:10s} " + " · ".join(f"{k} {v}" for k, v in line.items()))
        if args.save_calibration and setting == args.settings[-1]:
            calibration.save(args.save_calibration)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
