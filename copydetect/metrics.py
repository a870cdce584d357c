"""DISC21 metrics: micro-average precision (µAP), recall at 90% precision, PR curves, and the
descriptor track's exact k-NN matching.

Pure numpy (matplotlib only inside `pr_curve_plot`), no Django: engines, management commands and
notebooks share it. Definitions follow the challenge's reference scorer (facebookresearch/isc2021,
isc/metrics.py and isc/descriptor_matching.py); tests/copydetect/test_metrics_reference.py restates
that scorer and checks this module against it on fixed cases.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from typing import BinaryIO

import numpy as np

REQUIRED_PRECISION = 0.9
DEFAULT_K_FACTOR = 10
# Rows of the query × reference distance block computed at once: 256 × 50k float32 ≈ 51 MB.
QUERY_BLOCK_ROWS = 256
SHORT_CURVE_POINTS = 50


@dataclass(frozen=True)
class Prediction:
    query_id: str
    reference_id: str
    score: float  # higher = more similar


@dataclass(frozen=True)
class MatchingMetrics:
    """Arrays are indexed by rank: entry i describes the top i + 1 predictions."""

    micro_ap: float
    recall_at_p90: float
    threshold_at_p90: float | None  # keep predictions with score >= this to reach recall_at_p90
    precision: np.ndarray
    recall: np.ndarray
    thresholds: np.ndarray  # score of the prediction at each rank
    n_predictions: int
    n_ground_truth: int
    n_true_positives: int


def matching_evaluate(*, predictions: Sequence[Prediction], ground_truth: Iterable[tuple[str, str]]) -> MatchingMetrics:
    """µAP and recall@P90 of pooled predictions against ground-truth (query, reference) pairs.

    Rows with an empty reference id (queries without a match) count nothing. With no ground-truth
    pair at all, recall is undefined: micro_ap and recall_at_p90 are NaN.
    """
    pairs_expected = ground_truth_pairs(ground_truth)
    duplicates_reject(predictions)
    scores = np.fromiter((p.score for p in predictions), dtype=np.float64, count=len(predictions))
    is_positive = np.fromiter(
        ((p.query_id, p.reference_id) in pairs_expected for p in predictions), dtype=bool, count=len(predictions)
    )
    order = worst_case_order(scores, is_positive)
    scores, is_positive = scores[order], is_positive[order]

    true_positives = np.cumsum(is_positive)
    precision = true_positives / np.arange(1, len(scores) + 1)
    n_ground_truth = len(pairs_expected)
    if n_ground_truth == 0:
        return MatchingMetrics(
            micro_ap=float("nan"),
            recall_at_p90=float("nan"),
            threshold_at_p90=None,
            precision=precision,
            recall=np.zeros_like(precision),
            thresholds=scores,
            n_predictions=len(scores),
            n_ground_truth=0,
            n_true_positives=0,
        )
    recall = true_positives / n_ground_truth
    recall_at_p90, threshold_at_p90 = operating_point(precision, recall, scores, REQUIRED_PRECISION)
    return MatchingMetrics(
        micro_ap=micro_average_precision(precision, recall),
        recall_at_p90=recall_at_p90,
        threshold_at_p90=threshold_at_p90,
        precision=precision,
        recall=recall,
        thresholds=scores,
        n_predictions=len(scores),
        n_ground_truth=n_ground_truth,
        n_true_positives=int(true_positives[-1]) if len(true_positives) else 0,
    )


def ground_truth_pairs(ground_truth: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    return {(query_id, reference_id) for query_id, reference_id in ground_truth if reference_id}


def duplicates_reject(predictions: Sequence[Prediction]) -> None:
    seen: set[tuple[str, str]] = set()
    for index, prediction in enumerate(predictions):
        pair = (prediction.query_id, prediction.reference_id)
        if pair in seen:
            raise ValueError(f"duplicate prediction for pair {pair} (prediction #{index + 1})")
        seen.add(pair)


def worst_case_order(scores: np.ndarray, is_positive: np.ndarray) -> np.ndarray:
    """Indices by descending score, negatives before positives among equal scores.

    Worst case so that giving every prediction the same score cannot buy a good µAP.
    """
    return np.lexsort((is_positive, -scores))


def micro_average_precision(precision: np.ndarray, recall: np.ndarray) -> float:
    recall_gained = np.diff(recall, prepend=0.0)
    return float(np.sum(recall_gained * precision))


def operating_point(
    precision: np.ndarray, recall: np.ndarray, thresholds: np.ndarray, required_precision: float
) -> tuple[float, float | None]:
    """Highest recall whose precision is at least `required_precision`, and its score threshold.

    (0.0, None) when precision never gets there. Among ranks of equal recall the first one wins, so
    the threshold is the score of the true positive that brought that recall.
    """
    eligible = np.flatnonzero(precision >= required_precision)
    if len(eligible) == 0:
        return 0.0, None
    best = eligible[np.argmax(recall[eligible])]
    return float(recall[best]), float(thresholds[best])


def per_group_evaluate(
    *, predictions: Sequence[Prediction], ground_truth: Iterable[tuple[str, str]], groups: Mapping[str, str]
) -> dict[str, MatchingMetrics]:
    """Metrics restricted to each group's queries (e.g. edit family), keyed by sorted group name.

    Queries missing from `groups` are left out of every group.
    """
    ground_truth = list(ground_truth)
    result: dict[str, MatchingMetrics] = {}
    for group in sorted(set(groups.values())):
        in_group = {query_id for query_id, name in groups.items() if name == group}
        result[group] = matching_evaluate(
            predictions=[p for p in predictions if p.query_id in in_group],
            ground_truth=[row for row in ground_truth if row[0] in in_group],
        )
    return result


def descriptor_predictions(
    *,
    query_ids: Sequence[str],
    query_vectors: np.ndarray,
    reference_ids: Sequence[str],
    reference_vectors: np.ndarray,
    k_factor: int = DEFAULT_K_FACTOR,
) -> list[Prediction]:
    """The descriptor track's matching: the k_factor × n_queries globally closest (query, reference)
    pairs under exact L2, scored −(squared L2 distance).

    Squared, because the official scorer negated what faiss's flat L2 index reports; the ranking,
    hence µAP, is the same as with the plain distance. Ordered by query, then by distance.
    """
    queries = descriptor_matrix(query_vectors, "query_vectors", len(query_ids))
    references = descriptor_matrix(reference_vectors, "reference_vectors", len(reference_ids))
    if queries.shape[1] != references.shape[1]:
        raise ValueError(f"query dimension {queries.shape[1]} != reference dimension {references.shape[1]}")
    if k_factor < 1:
        raise ValueError(f"k_factor must be positive, got {k_factor}")
    distances, query_rows, reference_rows = closest_pairs(queries, references, k_factor * len(queries))
    order = np.lexsort((distances, query_rows))
    return [
        Prediction(query_ids[q], reference_ids[r], -float(d))
        for q, r, d in zip(query_rows[order], reference_rows[order], distances[order])
    ]


def descriptor_matrix(vectors: np.ndarray, name: str, expected_rows: int) -> np.ndarray:
    matrix = np.ascontiguousarray(vectors, dtype=np.float32)
    if matrix.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {matrix.shape}")
    if len(matrix) != expected_rows:
        raise ValueError(f"{name} has {len(matrix)} rows for {expected_rows} ids")
    return matrix


def closest_pairs(
    queries: np.ndarray, references: np.ndarray, limit: int, block_rows: int = QUERY_BLOCK_ROWS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(squared distance, query row, reference row) of the `limit` closest pairs overall.

    Scans query blocks, keeping a running best set; once it is full, its worst distance prunes
    each new block before any sorting.
    """
    kept_distances = np.empty(0, dtype=np.float32)
    kept_queries = np.empty(0, dtype=np.int64)
    kept_references = np.empty(0, dtype=np.int64)
    reference_norms = np.einsum("ij,ij->i", references, references)
    for start in range(0, len(queries), block_rows):
        block = squared_distances(queries[start : start + block_rows], references, reference_norms)
        if len(kept_distances) == limit:
            block_queries, block_references = np.nonzero(block < kept_distances.max())
        else:
            block_queries, block_references = smallest_entries(block, limit)
        kept_distances = np.concatenate([kept_distances, block[block_queries, block_references]])
        kept_queries = np.concatenate([kept_queries, block_queries + start])
        kept_references = np.concatenate([kept_references, block_references])
        if len(kept_distances) > limit:
            best = np.argpartition(kept_distances, limit - 1)[:limit]
            kept_distances, kept_queries, kept_references = (
                kept_distances[best],
                kept_queries[best],
                kept_references[best],
            )
    return kept_distances, kept_queries, kept_references


def squared_distances(queries: np.ndarray, references: np.ndarray, reference_norms: np.ndarray) -> np.ndarray:
    query_norms = np.einsum("ij,ij->i", queries, queries)
    distances = query_norms[:, None] + reference_norms[None, :] - 2.0 * (queries @ references.T)
    # Rounding of the expansion can dip below zero for (near-)identical vectors.
    return np.maximum(distances, 0.0, out=distances)


def smallest_entries(block: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    flat = block.ravel()
    if flat.size > limit:
        flat_indices = np.argpartition(flat, limit - 1)[:limit]
    else:
        flat_indices = np.arange(flat.size)
    return np.unravel_index(flat_indices, block.shape)


def pr_curve_plot(
    curves: Mapping[str, MatchingMetrics], path_or_file: str | PathLike | BinaryIO, *, title: str
) -> None:
    """Precision–recall curves as a PNG, µAP in the legend, the 90%-precision line dashed."""
    # Figure + Agg canvas directly rather than pyplot: no global state, safe in a web worker.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 6), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for name, metrics in curves.items():
        # Markers keep curves of a handful of predictions (one point) visible.
        marker = "." if metrics.n_predictions <= SHORT_CURVE_POINTS else None
        (line,) = axes.plot(metrics.recall, metrics.precision, marker=marker, label=curve_label(name, metrics))
        if metrics.threshold_at_p90 is not None:
            axes.plot([metrics.recall_at_p90], [REQUIRED_PRECISION], "o", color=line.get_color())
    axes.axhline(
        REQUIRED_PRECISION, color="grey", linestyle="--", linewidth=1, label=f"precision {REQUIRED_PRECISION:.0%}"
    )
    axes.set(xlim=(0, 1.02), ylim=(0, 1.02), xlabel="Recall", ylabel="Precision", title=title)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower left")
    figure.savefig(path_or_file, format="png")


def curve_label(name: str, metrics: MatchingMetrics) -> str:
    return f"{name} (µAP {metrics.micro_ap:.4f}, R@P90 {metrics.recall_at_p90:.4f})"
