"""The fit behind the final-score calibration: a logistic model with a logarithmic upper tail (issue 17:
scores with room at the top).

Why: a logistic fit on a benchmark where strong copies and non-copies never meet extrapolates the
logit without limit. On seed 1 the median copy had a logit of 29 (probability 1 − 3e-13), 224 of 242
copies scored ≥ 0.999 and 71 exactly 1.0, a pair without a single inlier among them; a threshold
between 0.999 and 1 selects nothing, and a few hundred benchmark copies cannot support such certainty.
The one measured failure mode at the top says so too: different photographs of the Eiffel Tower (same
scene, not copies; scripts/bench_same_scene.py) got logits of 12–14, i.e. 0.99999.

Two steps:
- The logit μ = w·x + b, fitted by Newton's method with a light L2 penalty, as before issue 17 (it
  reproduces the shipped weights, so the ranking, and every µAP, stays what it was). Positive weights
  keep the score monotone in every piece of evidence.
- The probability is σ(t(μ)) with t(μ) = μ for μ ≤ 0 and t(μ) = L·asinh(μ / L) above: the same
  probability near and below the decision boundary (t(0) = 0, slope 1: a threshold of 0.5 keeps its
  meaning and its pairs), while far above it the odds of a mistake shrink as a power of μ, (L / 2μ)^L,
  instead of exponentially. t is increasing, so the ranking is unchanged; the score never reaches 1,
  and strong copies spread below it. L is fitted by maximum likelihood on pairs that include
  non-copies with strong evidence (the shipped fit: seed 1 pooled with its same-scene queries); on a
  benchmark without them the likelihood prefers no tail at all, so a fit given none keeps a default.

Also tried (docs/accuracy.md): an evidence-chosen Gaussian prior on the weights (changed the ranking:
hard seed 2 lost a copy at P90), the Bayesian predictive probability moderated by the weights'
covariance (not monotone: more inliers could lower a score), a logit capped smoothly at a ceiling
(piles copies under it), a Cauchy link (piles them too, −0.002 to −0.005 µAP).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

# Tail scales tried by tail_scale_fit (logit units), 0.3 … 100 on a log grid.
TAIL_SCALES = tuple(float(10 ** (k / 16)) for k in range(-8, 33))


def tail_logit(logit: float, scale: float | None) -> float:
    """t(μ): μ at and below 0, L·asinh(μ / L) above; no tail when `scale` is None."""
    if scale is None or logit <= 0:
        return logit
    return scale * math.asinh(logit / scale)


def tailed_probability(logit: float, scale: float | None) -> float:
    value = tail_logit(logit, scale)
    return 1.0 / (1.0 + math.exp(-max(min(value, 60.0), -60.0)))


def logistic_fit(
    features: np.ndarray, labels: np.ndarray, *, l2: float = 1e-3, steps: int = 50
) -> tuple[tuple[float, ...], float]:
    """Logistic regression by Newton's method (a few thousand rows, four features: exact and fast);
    returns (weights, bias)."""
    x = np.hstack([np.asarray(features, dtype=np.float64), np.ones((len(features), 1))])
    y = np.asarray(labels, dtype=np.float64)
    if len(x) == 0 or y.min() == y.max():
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
    return tuple(float(v) for v in w[:-1]), float(w[-1])


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
