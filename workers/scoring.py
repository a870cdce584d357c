"""From evidence to one final score per candidate.

Without a calibration the two kinds of evidence are combined as independent detectors (noisy-OR).
With one, a logistic model fitted on a labelled benchmark turns (similarity, inliers, verification
score) into the probability that the pair is a copy, so a threshold of 0.5 means the same thing
for every query and every edit.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

FEATURE_NAMES = ("similarity", "log_inliers", "verification_score")


@dataclass(frozen=True)
class ScoreCalibration:
    descriptor: str
    weights: tuple[float, ...]
    bias: float
    fitted_on: str = ""

    def probability(self, features: Sequence[float]) -> float:
        logit = self.bias + sum(w * x for w, x in zip(self.weights, features))
        return 1.0 / (1.0 + math.exp(-max(min(logit, 60.0), -60.0)))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({**asdict(self), "features": FEATURE_NAMES}, indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> "ScoreCalibration":
        data = json.loads(Path(path).read_text())
        if tuple(data.get("features", ())) != FEATURE_NAMES:
            raise ValueError(f"{path} was fitted on other features: {data.get('features')}")
        return cls(descriptor=data["descriptor"], weights=tuple(data["weights"]), bias=data["bias"], fitted_on=data.get("fitted_on", ""))


def evidence_features(*, similarity: float, inliers: int, verification_score: float) -> tuple[float, float, float]:
    return (float(similarity), math.log1p(max(inliers, 0)), float(verification_score))


def final_score_combine(
    *, similarity: float, inliers: int, verification_score: float, calibration: ScoreCalibration | None
) -> float:
    if calibration is not None:
        return calibration.probability(
            evidence_features(similarity=similarity, inliers=inliers, verification_score=verification_score)
        )
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
    return ScoreCalibration(descriptor=descriptor, weights=tuple(float(v) for v in w[:-1]), bias=float(w[-1]), fitted_on=fitted_on)


def calibration_path(directory: Path, descriptor: str) -> Path:
    return Path(directory) / f"{descriptor}.json"


def calibration_find(directory: Path, descriptor: str) -> ScoreCalibration | None:
    path = calibration_path(directory, descriptor)
    return ScoreCalibration.load(path) if path.exists() else None
