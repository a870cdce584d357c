"""From evidence to one final score per candidate.

Without a calibration the two kinds of evidence are combined as independent detectors (noisy-OR).
With one, a logistic model fitted on a labelled benchmark turns (similarity, inliers, verification
score, similarity margin) into the probability that the pair is a copy, so a threshold of 0.5 means
the same thing for every query and every edit.

The margin is the candidate's similarity minus that of the query's best other candidate (for the
top candidate: its lead over the runner-up; for the others: a negative gap to the top). A copy
usually stands out from the rest of the collection, while a query that resembles many references
(a texture, a plain sky) gets high similarities everywhere. Measured with the seed-1 fit
(isc_match candidates, same verification): seed 1 µAP 0.931 → 0.942, seed 2 0.945 → 0.960.

Near-identical references (issue 17): a team often holds two versions of one picture (the original
and a resized re-encode). Their similarities to any query are nearly equal, so a margin against the
runner-up would read "this query resembles several references" and sink a true copy (Q → R scored 1.000
alone and 0.12 beside a 75 % resize of R). A calibration that names `near_identical_similarity` takes
each candidate's margin against the best candidate that is not near-identical to it (stored descriptors
at least that similar), so a pair scores the same whether or not the collection holds a twin of its
reference, and both twins of a copied picture are flagged.

The probability has room at the top (issue 17, score_fit): above the decision boundary the logit is
bent into a logarithmic tail, so strong copies spread below 1 (seed 2: deciles 0.93–0.99) instead of
piling at 0.9996–1.000, a pair without inliers never reads 1.000, and the ranking and the pairs at
0.5 stay what they were.

Calibrations fitted on the first three features only still load and ignore the margin; calibrations
without `tail_scale` give the plain logistic.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from copydetect.score_fit import logistic_fit, tail_scale_fit, tailed_probability

# SSCD cosines of two stored references (scripts/bench_scores.py, docs/accuracy.md): a reference and its 75 %
# resize re-encoded ≥ 0.93 (99 % ≥ 0.94), two different photos of the seeds ≤ 0.78.
NEAR_IDENTICAL_SIMILARITY = 0.90
# Fitted on seed 1 pooled with its 20 same-scene queries (scripts/bench_scores.py, docs/accuracy.md); used
# when a fit is given no pairs with strong non-copies to fit it on. In logit units, so not tied to SSCD.
DEFAULT_TAIL_SCALE = 1.15
FEATURE_NAMES = ("similarity", "log_inliers", "verification_score", "similarity_margin")
LEGACY_FEATURE_NAMES = FEATURE_NAMES[:3]


@dataclass(frozen=True)
class ScoreCalibration:
    descriptor: str
    weights: tuple[float, ...]
    bias: float
    fitted_on: str = ""
    # Cosine of two references' stored descriptors at or above which margins ignore one for the other;
    # None: every candidate counts (calibrations fitted before issue 17).
    near_identical_similarity: float | None = None
    # L of the logarithmic upper tail (score_fit): above the decision boundary the logit μ becomes
    # L·asinh(μ / L), so scores approach 1 without reaching it; None: the plain logistic (before issue 17).
    tail_scale: float | None = None

    def logit(self, features: Sequence[float]) -> float:
        return self.bias + sum(w * x for w, x in zip(self.weights, features))

    def probability(self, features: Sequence[float]) -> float:
        return tailed_probability(self.logit(features), self.tail_scale)

    @property
    def feature_names(self) -> tuple[str, ...]:
        return FEATURE_NAMES[: len(self.weights)]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({**asdict(self), "features": self.feature_names}, indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> ScoreCalibration:
        data = json.loads(Path(path).read_text())
        features = tuple(data.get("features", ()))
        if features not in (FEATURE_NAMES, LEGACY_FEATURE_NAMES) or len(data["weights"]) != len(features):
            raise ValueError(f"{path} was fitted on other features: {data.get('features')}")
        near_identical = data.get("near_identical_similarity")
        tail_scale = data.get("tail_scale")
        return cls(
            descriptor=data["descriptor"],
            weights=tuple(data["weights"]),
            bias=data["bias"],
            fitted_on=data.get("fitted_on", ""),
            near_identical_similarity=None if near_identical is None else float(near_identical),
            tail_scale=None if tail_scale is None else float(tail_scale),
        )


def evidence_features(
    *, similarity: float, inliers: int, verification_score: float, margin: float | None = None
) -> tuple[float, ...]:
    """The calibration's inputs; without `margin`, the three legacy features."""
    features = (float(similarity), math.log1p(max(inliers, 0)), float(verification_score))
    return features if margin is None else features + (float(margin),)


def similarity_margins(
    similarities: Sequence[float], *, near_identical: Sequence[Collection[int]] | None = None
) -> list[float]:
    """Per candidate of one query: its similarity minus the best similarity among the other candidates.

    `near_identical[i]`: indices of the candidates near-identical to candidate i (near_identical_sets);
    they are not "other" candidates for i. With no other candidate the gap is measured against a
    similarity of 0 (nothing else is close).
    """
    values = [float(value) for value in similarities]
    if near_identical is not None and len(near_identical) != len(values):
        raise ValueError(f"{len(near_identical)} near-identical sets for {len(values)} candidates")
    order = sorted(range(len(values)), key=lambda i: values[i], reverse=True)
    margins = []
    for i, value in enumerate(values):
        skip = near_identical[i] if near_identical is not None else ()
        rival = next((values[j] for j in order if j != i and j not in skip), 0.0)
        margins.append(value - rival)
    return margins


def near_identical_sets(vectors: Sequence[np.ndarray | None], *, min_similarity: float) -> list[frozenset[int]]:
    """Per candidate: the other candidates whose stored descriptors have a cosine ≥ `min_similarity` with
    its own (a resized or re-encoded twin of the same picture). A missing vector has no twin."""
    present = [i for i, vector in enumerate(vectors) if vector is not None]
    sets: list[frozenset[int]] = [frozenset()] * len(vectors)
    if len(present) < 2:
        return sets
    matrix = np.stack([np.asarray(vectors[i], dtype=np.float64).ravel() for i in present])
    matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    close = matrix @ matrix.T >= min_similarity
    for row, i in enumerate(present):
        sets[i] = frozenset(present[col] for col in np.flatnonzero(close[row]) if col != row)
    return sets


def candidate_rows_features(rows: Sequence[dict]) -> np.ndarray:
    """Features of `isc_match --candidates` rows (query_id, descriptor_similarity, inliers, verification_score).

    A row's `similarity_margin`, when present (the pipeline's own, which knows which references are
    near-identical), is used as is; otherwise margins are computed within each query with every
    candidate counting, which is the same on a collection without near-identical references.
    """
    by_query: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        by_query.setdefault(row["query_id"], []).append(index)
    margins = [0.0] * len(rows)
    for indices in by_query.values():
        for index, margin in zip(
            indices, similarity_margins([float(rows[i]["descriptor_similarity"]) for i in indices])
        ):
            given = rows[index].get("similarity_margin")
            margins[index] = margin if given in (None, "") else float(given)
    return np.array(
        [
            evidence_features(
                similarity=float(row["descriptor_similarity"]),
                inliers=int(row["inliers"]),
                verification_score=float(row["verification_score"]),
                margin=margin,
            )
            for row, margin in zip(rows, margins)
        ]
    )


def final_score_combine(
    *,
    similarity: float,
    inliers: int,
    verification_score: float,
    calibration: ScoreCalibration | None,
    margin: float = 0.0,
) -> float:
    if calibration is not None:
        features = evidence_features(
            similarity=similarity, inliers=inliers, verification_score=verification_score, margin=margin
        )
        return calibration.probability(features[: len(calibration.weights)])
    s = float(np.clip(similarity, 0.0, 1.0))
    v = float(np.clip(verification_score, 0.0, 1.0))
    return 1.0 - (1.0 - s) * (1.0 - v)


def calibration_fit(
    *,
    features: np.ndarray,
    labels: np.ndarray,
    descriptor: str,
    fitted_on: str,
    near_identical_similarity: float | None = NEAR_IDENTICAL_SIMILARITY,
    tail_features: np.ndarray | None = None,
    tail_labels: np.ndarray | None = None,
    tail_scale: float | None = DEFAULT_TAIL_SCALE,
) -> ScoreCalibration:
    """Logistic weights on (features, labels), and the upper tail (score_fit).

    With `tail_features` / `tail_labels` (pairs that include non-copies with strong evidence, e.g. a
    benchmark pooled with its same-scene queries), the tail's scale is fitted on them by maximum
    likelihood; otherwise `tail_scale` is kept (None: no tail, the plain logistic).
    """
    weights, bias = logistic_fit(features, labels)
    if tail_features is not None and tail_labels is not None:
        logits = np.asarray(tail_features, dtype=np.float64) @ np.array(weights) + bias
        tail_scale = tail_scale_fit(logits, tail_labels)
    tail = "no tail" if tail_scale is None else f"tail scale {tail_scale:.3g}"
    return ScoreCalibration(
        descriptor=descriptor,
        weights=weights,
        bias=bias,
        fitted_on=f"{fitted_on}; {tail}",
        near_identical_similarity=near_identical_similarity,
        tail_scale=tail_scale,
    )


def calibration_path(directory: Path, descriptor: str) -> Path:
    return Path(directory) / f"{descriptor}.json"


def calibration_find(directory: Path, descriptor: str) -> ScoreCalibration | None:
    path = calibration_path(directory, descriptor)
    return ScoreCalibration.load(path) if path.exists() else None
