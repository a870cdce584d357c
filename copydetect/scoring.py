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

Calibrations fitted on the first three features only still load and ignore the margin.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

FEATURE_NAMES = ("similarity", "log_inliers", "verification_score", "similarity_margin")
LEGACY_FEATURE_NAMES = FEATURE_NAMES[:3]


@dataclass(frozen=True)
class ScoreCalibration:
    descriptor: str
    weights: tuple[float, ...]
    bias: float
    fitted_on: str = ""

    def probability(self, features: Sequence[float]) -> float:
        logit = self.bias + sum(w * x for w, x in zip(self.weights, features))
        return 1.0 / (1.0 + math.exp(-max(min(logit, 60.0), -60.0)))

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
        return cls(
            descriptor=data["descriptor"],
            weights=tuple(data["weights"]),
            bias=data["bias"],
            fitted_on=data.get("fitted_on", ""),
        )


def evidence_features(
    *, similarity: float, inliers: int, verification_score: float, margin: float | None = None
) -> tuple[float, ...]:
    """The calibration's inputs; without `margin`, the three legacy features."""
    features = (float(similarity), math.log1p(max(inliers, 0)), float(verification_score))
    return features if margin is None else features + (float(margin),)


def similarity_margins(similarities: Sequence[float]) -> list[float]:
    """Per candidate of one query: its similarity minus the best similarity among the other candidates.

    With a single candidate the gap is measured against a similarity of 0 (nothing else is close).
    """
    values = [float(value) for value in similarities]
    if not values:
        return []
    order = sorted(range(len(values)), key=lambda i: values[i], reverse=True)
    best = values[order[0]]
    runner_up = values[order[1]] if len(values) > 1 else 0.0
    return [value - (runner_up if i == order[0] else best) for i, value in enumerate(values)]


def candidate_rows_features(rows: Sequence[dict]) -> np.ndarray:
    """Features of `isc_match --candidates` rows (query_id, descriptor_similarity, inliers, verification_score).

    Margins are computed within each query, as the pipeline does at search time.
    """
    by_query: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        by_query.setdefault(row["query_id"], []).append(index)
    margins = [0.0] * len(rows)
    for indices in by_query.values():
        for index, margin in zip(
            indices, similarity_margins([float(rows[i]["descriptor_similarity"]) for i in indices])
        ):
            margins[index] = margin
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
    *, features: np.ndarray, labels: np.ndarray, descriptor: str, fitted_on: str, l2: float = 1e-3, steps: int = 50
) -> ScoreCalibration:
    """Logistic regression by Newton's method (a few hundred rows, three features: exact and fast)."""
    x = np.hstack([np.asarray(features, dtype=np.float64), np.ones((len(features), 1))])
    y = np.asarray(labels, dtype=np.float64)
    if y.min() == y.max():
        raise ValueError("Calibration needs both copies and non-copies among the candidates.")
    w = np.zeros(x.shape[1])
    penalty = l2 * np.eye(x.shape[1])
    penalty[-1, -1] = 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -60, 60)))
        gradient = x.T @ (p - y) + penalty @ w
        hessian = (x * (p * (1 - p))[:, None]).T @ x + penalty
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-9:
            break
    return ScoreCalibration(
        descriptor=descriptor, weights=tuple(float(v) for v in w[:-1]), bias=float(w[-1]), fitted_on=fitted_on
    )


def calibration_path(directory: Path, descriptor: str) -> Path:
    return Path(directory) / f"{descriptor}.json"


def calibration_find(directory: Path, descriptor: str) -> ScoreCalibration | None:
    path = calibration_path(directory, descriptor)
    return ScoreCalibration.load(path) if path.exists() else None
