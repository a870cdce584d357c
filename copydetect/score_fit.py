"""The fit behind the final-score calibration: a logistic model with an evidence-chosen prior and a
logarithmic upper tail (issue 17: scores with room at the top).

Why: a plain maximum-likelihood logistic fit on a benchmark where strong copies and non-copies never
meet extrapolates the logit without limit. On seed 1 the median copy had a logit of 29 (probability
1 − 3e-13), 224 of 242 copies scored ≥ 0.999 and 71 exactly 1.0, a pair without a single inlier
among them; a threshold between 0.999 and 1 selects nothing, and a few hundred benchmark copies
cannot support such certainty. The one measured failure mode at the top says so too: different
photographs of the Eiffel Tower (same scene, not copies; scripts/bench_same_scene.py) got logits of
12–14, i.e. 0.99999.

Two steps:
- The logit μ = w·x + b: features standardised, each weight with a Gaussian prior N(0, v) (the bias
  none), v the value of a fine grid that maximises the evidence (marginal likelihood, Laplace's
  approximation), weights at the posterior mode. Positive weights keep the score monotone in every
  piece of evidence, and ranking by μ is ranking by the fitted model.
- The probability is σ(t(μ)) with t(μ) = μ for μ ≤ 0 and t(μ) = L·asinh(μ / L) above: the same
  probability near and below the decision boundary (t(0) = 0, slope 1: a threshold of 0.5 means what
  it meant), while far above it the odds of a mistake shrink as a power of μ, (L / 2μ)^L, instead of
  exponentially. Ranking is unchanged (t is increasing), the score never reaches 1, and strong copies
  spread below it. L is fitted by maximum likelihood on data that hold non-copies with strong
  evidence (the shipped fit: seed 1 with its same-scene queries); without such data the fitted tail
  would be flat, so a default measured here is used.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# A fine log grid (8 steps per decade from 0.1 to 1000): on seed 1 the evidence is flat between about 20 and
# 100, so a coarse grid would make the choice jump with the data.
PRIOR_VARIANCES = tuple(float(10 ** (k / 8)) for k in range(-8, 25))
# Tail scales tried by tail_scale_fit (logit units), 0.3 … 100 on a log grid.
TAIL_SCALES = tuple(float(10 ** (k / 16)) for k in range(-8, 33))


@dataclass(frozen=True)
class LogisticFit:
    weights: tuple[float, ...]  # raw feature units
    bias: float
    prior_variance: float
    log_evidence: float


def tail_logit(logit: float, scale: float | None) -> float:
    """t(μ): μ at and below 0, L·asinh(μ / L) above; no tail when `scale` is None."""
    if scale is None or logit <= 0:
        return logit
    return scale * math.asinh(logit / scale)


def tailed_probability(logit: float, scale: float | None) -> float:
    value = tail_logit(logit, scale)
    return 1.0 / (1.0 + math.exp(-max(min(value, 60.0), -60.0)))


def logistic_fit(
    features: np.ndarray, labels: np.ndarray, *, prior_variances: Sequence[float] = PRIOR_VARIANCES, steps: int = 100
) -> LogisticFit:
    """Posterior mode under the evidence-maximising prior among `prior_variances` (module text)."""
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if len(x) == 0 or y.min() == y.max():
        raise ValueError("Calibration needs both copies and non-copies among the candidates.")
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    design = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    best: tuple[float, float, np.ndarray] | None = None
    for variance in prior_variances:
        weights, log_evidence = _posterior_mode(design, y, 1.0 / variance, steps)
        if best is None or log_evidence > best[0]:
            best = (log_evidence, variance, weights)
    assert best is not None
    log_evidence, variance, weights = best
    raw = weights[:-1] / scale
    return LogisticFit(
        weights=tuple(float(v) for v in raw),
        bias=float(weights[-1] - np.sum(raw * mean)),
        prior_variance=float(variance),
        log_evidence=float(log_evidence),
    )


def tail_scale_fit(logits: np.ndarray, labels: np.ndarray, *, scales: Sequence[float] = TAIL_SCALES) -> float:
    """The L of `scales` under which σ(t(μ)) gives the labels the highest likelihood.

    Only pairs with μ > 0 depend on L. When none of them is a non-copy the likelihood grows with L
    all the way (no tail): the largest scale is returned.
    """
    mu = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    upper = mu > 0
    mu, y = mu[upper], y[upper]

    def negative_log_likelihood(scale: float) -> float:
        t = scale * np.arcsinh(mu / scale)
        # log σ(t) and log(1 − σ(t)) without overflow
        return float(np.sum(y * np.logaddexp(0.0, -t) + (1 - y) * np.logaddexp(0.0, t)))

    return min(scales, key=lambda scale: (negative_log_likelihood(scale), -scale))


def _posterior_mode(design: np.ndarray, y: np.ndarray, precision: float, steps: int) -> tuple[np.ndarray, float]:
    penalty = np.full(design.shape[1], precision)
    penalty[-1] = 0.0  # the bias is left free
    w = np.zeros(design.shape[1])
    for _ in range(steps):
        p = _sigmoid(design @ w)
        gradient = design.T @ (p - y) + penalty * w
        hessian = (design * (p * (1 - p))[:, None]).T @ design + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    z = design @ w
    p = _sigmoid(z)
    hessian = (design * (p * (1 - p))[:, None]).T @ design + np.diag(penalty)
    log_likelihood = -float(np.sum(y * np.logaddexp(0.0, -z) + (1 - y) * np.logaddexp(0.0, z)))
    k = design.shape[1] - 1
    log_evidence = (
        log_likelihood
        - 0.5 * precision * float(np.sum(w[:-1] ** 2))
        + 0.5 * k * math.log(precision)
        - 0.5 * float(np.linalg.slogdet(hessian)[1])
    )
    return w, log_evidence


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))
