"""DISC21 metrics against cases computed by hand (the arithmetic is written next to each case)."""

import io
import random

import numpy as np
import pytest

from copydetect.metrics import (
    MatchingMetrics,
    Prediction,
    closest_pairs,
    descriptor_predictions,
    matching_evaluate,
    per_group_evaluate,
    pr_curve_plot,
)

P = Prediction
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Five predictions, three ground-truth pairs, (q3, r3) never predicted:
#   rank  prediction        TP?  precision  recall
#   1     q1,r1  0.9        yes  1/1        1/3
#   2     q2,r9  0.8        no   1/2        1/3
#   3     q2,r2  0.7        yes  2/3        2/3
#   4     q3,r7  0.6        no   2/4        2/3
#   5     q4,r4  0.5        no   2/5        2/3
# µAP = 1/3·1 + 1/3·2/3 = 5/9; precision ≥ 0.9 only at rank 1 → recall@P90 = 1/3 at score 0.9.
FIVE_PREDICTIONS = [
    P("q1", "r1", 0.9),
    P("q2", "r9", 0.8),
    P("q2", "r2", 0.7),
    P("q3", "r7", 0.6),
    P("q4", "r4", 0.5),
]
THREE_PAIRS = [("q1", "r1"), ("q2", "r2"), ("q3", "r3")]


def test_five_predictions_three_pairs_by_hand():
    metrics = matching_evaluate(predictions=FIVE_PREDICTIONS, ground_truth=THREE_PAIRS)

    assert metrics.micro_ap == pytest.approx(5 / 9)
    assert metrics.recall_at_p90 == pytest.approx(1 / 3)
    assert metrics.threshold_at_p90 == 0.9
    np.testing.assert_allclose(metrics.precision, [1, 1 / 2, 2 / 3, 2 / 4, 2 / 5])
    np.testing.assert_allclose(metrics.recall, [1 / 3, 1 / 3, 2 / 3, 2 / 3, 2 / 3])
    np.testing.assert_allclose(metrics.thresholds, [0.9, 0.8, 0.7, 0.6, 0.5])
    assert (metrics.n_predictions, metrics.n_ground_truth, metrics.n_true_positives) == (5, 3, 2)


def test_input_order_does_not_matter():
    shuffled = FIVE_PREDICTIONS[:]
    random.Random(3).shuffle(shuffled)

    metrics = matching_evaluate(predictions=shuffled, ground_truth=THREE_PAIRS)

    assert metrics.micro_ap == pytest.approx(5 / 9)


@pytest.mark.parametrize("positive_first", [True, False])
def test_tie_between_positive_and_negative_is_ordered_worst_case(positive_first):
    # Equal scores: the negative goes first whatever the input order.
    #   rank  prediction       TP?  precision  recall
    #   1     q1,r5 0.5        no   0          0
    #   2     q1,r1 0.5        yes  1/2        1/2
    #   3     q2,r2 0.4        yes  2/3        1
    # µAP = 1/2·1/2 + 1/2·2/3 = 7/12 (the best-case order would give 1/2·1 + 1/2·2/3 = 5/6).
    # Precision never reaches 0.9 after rank 1 → recall@P90 = 0, no threshold.
    tied = [P("q1", "r1", 0.5), P("q1", "r5", 0.5)]
    predictions = (tied if positive_first else tied[::-1]) + [P("q2", "r2", 0.4)]

    metrics = matching_evaluate(predictions=predictions, ground_truth=[("q1", "r1"), ("q2", "r2")])

    assert metrics.micro_ap == pytest.approx(7 / 12)
    np.testing.assert_allclose(metrics.precision, [0, 1 / 2, 2 / 3])
    assert metrics.recall_at_p90 == 0.0
    assert metrics.threshold_at_p90 is None


def test_one_score_for_everything_buys_nothing():
    # Two positives, two negatives, all scored 1.0 → order FP FP TP TP:
    # precision 0, 0, 1/3, 2/4; recall 0, 0, 1/2, 1 → µAP = 1/2·1/3 + 1/2·1/2 = 5/12.
    predictions = [P("q1", "r1", 1.0), P("q2", "r2", 1.0), P("q1", "r2", 1.0), P("q2", "r1", 1.0)]

    metrics = matching_evaluate(predictions=predictions, ground_truth=[("q1", "r1"), ("q2", "r2")])

    assert metrics.micro_ap == pytest.approx(5 / 12)
    assert metrics.recall_at_p90 == 0.0


def test_all_wrong_scores_zero():
    metrics = matching_evaluate(
        predictions=[P("q1", "r2", 0.9), P("q2", "r1", 0.8)], ground_truth=[("q1", "r1"), ("q2", "r2")]
    )

    assert metrics.micro_ap == 0.0
    assert metrics.recall_at_p90 == 0.0
    assert metrics.threshold_at_p90 is None
    assert metrics.n_true_positives == 0


def test_perfect_scores_one_with_threshold_at_last_true_positive():
    metrics = matching_evaluate(
        predictions=[P("q1", "r1", 0.9), P("q2", "r2", 0.3)], ground_truth=[("q1", "r1"), ("q2", "r2")]
    )

    assert metrics.micro_ap == 1.0
    assert metrics.recall_at_p90 == 1.0
    assert metrics.threshold_at_p90 == 0.3


def test_pairs_never_predicted_cap_recall():
    # One of four pairs found, at rank 1: recall 1/4, precision 1 → µAP = 1/4.
    metrics = matching_evaluate(
        predictions=[P("q1", "r1", 0.9)], ground_truth=[("q1", "r1"), ("q2", "r2"), ("q3", "r3"), ("q4", "r4")]
    )

    assert metrics.micro_ap == pytest.approx(1 / 4)
    assert metrics.recall_at_p90 == pytest.approx(1 / 4)


def test_no_predictions_scores_zero():
    metrics = matching_evaluate(predictions=[], ground_truth=[("q1", "r1")])

    assert (metrics.micro_ap, metrics.recall_at_p90, metrics.n_predictions) == (0.0, 0.0, 0)
    assert metrics.threshold_at_p90 is None


def test_precision_dips_below_p90_then_recovers():
    # Ten ground-truth pairs, the tenth never predicted. Ranks (score = 100 − rank):
    #   rank 1 TP  precision 1/1 = 1     recall 1/10
    #   rank 2 FP  precision 1/2         recall 1/10
    #   ranks 3..10 TP: precision (n−1)/n = 2/3 … 8/9 (< 0.9), then 9/10 = 0.9 at rank 10
    #   rank 11 FP precision 9/11 ≈ 0.82
    # Highest recall with precision ≥ 0.9: rank 10 → recall@P90 = 9/10, threshold = 90.
    # µAP = (1 + Σ_{n=3..10} (n−1)/n) / 10 = (1 + 8 − (H_10 − 3/2)) / 10 ≈ 0.7571032.
    ground_truth = [(f"q{i}", f"r{i}") for i in range(10)]
    found = iter(ground_truth[:9])
    predictions = []
    for rank in range(1, 12):
        query_id, reference_id = ("fp", f"x{rank}") if rank in (2, 11) else next(found)
        predictions.append(P(query_id, reference_id, 100.0 - rank))

    metrics = matching_evaluate(predictions=predictions, ground_truth=ground_truth)

    harmonic_10 = sum(1 / n for n in range(1, 11))
    assert metrics.micro_ap == pytest.approx((1 + 8 - (harmonic_10 - 1.5)) / 10)
    assert metrics.micro_ap == pytest.approx(0.7571032, abs=1e-7)
    assert metrics.recall_at_p90 == pytest.approx(0.9)
    assert metrics.threshold_at_p90 == 90.0


def test_duplicate_pair_is_rejected():
    with pytest.raises(ValueError, match="duplicate"):
        matching_evaluate(predictions=[P("q1", "r1", 0.9), P("q1", "r1", 0.1)], ground_truth=[("q1", "r1")])


def test_ground_truth_without_reference_and_repeated_rows_count_nothing():
    # DISC21's public_ground_truth.csv lists unmatched queries with an empty reference.
    ground_truth = [("q1", "r1"), ("q2", ""), ("q3", ""), ("q1", "r1")]

    metrics = matching_evaluate(predictions=[P("q1", "r1", 0.9), P("q2", "r2", 0.8)], ground_truth=ground_truth)

    assert metrics.n_ground_truth == 1
    assert metrics.micro_ap == 1.0


def test_no_ground_truth_leaves_metrics_undefined():
    metrics = matching_evaluate(predictions=[P("q2", "r2", 0.8)], ground_truth=[("q2", "")])

    assert np.isnan(metrics.micro_ap) and np.isnan(metrics.recall_at_p90)
    assert metrics.n_ground_truth == 0


def test_per_group_restricts_predictions_and_ground_truth_to_the_group():
    # crop = {q1, q2}: ranks q1,r1 TP · q2,r9 FP · q2,r2 TP over 2 pairs
    #   → precision 1, 1/2, 2/3; recall 1/2, 1/2, 1 → µAP = 1/2 + 1/2·2/3 = 5/6.
    # blur = {q3, q4}: two wrong predictions, pair (q3, r3) missed → µAP 0.
    # q5 has no group: nowhere.
    groups = {"q1": "crop", "q2": "crop", "q3": "blur", "q4": "blur"}
    predictions = FIVE_PREDICTIONS + [P("q5", "r5", 0.95)]

    by_group = per_group_evaluate(predictions=predictions, ground_truth=THREE_PAIRS + [("q5", "r5")], groups=groups)

    assert list(by_group) == ["blur", "crop"]
    assert by_group["crop"].micro_ap == pytest.approx(5 / 6)
    assert (by_group["crop"].n_predictions, by_group["crop"].n_ground_truth) == (3, 2)
    assert by_group["blur"].micro_ap == 0.0
    assert (by_group["blur"].n_predictions, by_group["blur"].n_ground_truth) == (2, 1)


# --- descriptor track ------------------------------------------------------------------------


def brute_force_pairs(queries: np.ndarray, references: np.ndarray, limit: int) -> dict[tuple[int, int], float]:
    distances = ((queries[:, None, :].astype(np.float64) - references[None, :, :]) ** 2).sum(-1)
    best = np.argsort(distances, axis=None, kind="stable")[:limit]
    rows, columns = np.unravel_index(best, distances.shape)
    return {(int(q), int(r)): float(distances[q, r]) for q, r in zip(rows, columns)}


def random_descriptors(n_queries: int, n_references: int, dims: int, seed: int):
    rng = np.random.default_rng(seed)
    # Varied norms so that some queries own many of the closest pairs and others none.
    queries = rng.standard_normal((n_queries, dims)) * rng.uniform(0.2, 2.0, (n_queries, 1))
    references = rng.standard_normal((n_references, dims))
    return queries.astype(np.float32), references.astype(np.float32)


def test_descriptor_predictions_keep_the_global_closest_pairs():
    queries, references = random_descriptors(37, 53, 8, seed=0)
    query_ids = [f"Q{i:05d}" for i in range(37)]
    reference_ids = [f"R{i:06d}" for i in range(53)]

    predictions = descriptor_predictions(
        query_ids=query_ids,
        query_vectors=queries,
        reference_ids=reference_ids,
        reference_vectors=references,
        k_factor=3,
    )

    expected = brute_force_pairs(queries, references, 3 * 37)
    got = {(query_ids.index(p.query_id), reference_ids.index(p.reference_id)): p.score for p in predictions}
    assert got.keys() == expected.keys()
    for pair, distance in expected.items():
        assert got[pair] == pytest.approx(-distance, rel=1e-5, abs=1e-5)
    per_query = np.bincount([q for q, _ in got], minlength=37)
    assert per_query.max() > 3 and per_query.min() == 0  # a global cut, not 3 per query
    order_keys = [(query_ids.index(p.query_id), -p.score) for p in predictions]
    assert order_keys == sorted(order_keys)


@pytest.mark.parametrize("block_rows", [1, 4, 7, 1000])
def test_closest_pairs_same_whatever_the_block_size(block_rows):
    queries, references = random_descriptors(29, 41, 6, seed=1)

    distances, query_rows, reference_rows = closest_pairs(queries, references, 100, block_rows=block_rows)

    expected = brute_force_pairs(queries, references, 100)
    assert set(zip(query_rows.tolist(), reference_rows.tolist())) == expected.keys()
    np.testing.assert_allclose(np.sort(distances), np.sort(list(expected.values())), rtol=1e-5, atol=1e-5)


def test_descriptor_predictions_return_every_pair_when_fewer_than_the_cut():
    queries, references = random_descriptors(3, 4, 5, seed=2)

    predictions = descriptor_predictions(
        query_ids=["a", "b", "c"],
        query_vectors=queries,
        reference_ids=["w", "x", "y", "z"],
        reference_vectors=references,
    )

    assert len(predictions) == 12


def test_descriptor_predictions_identical_vectors_score_zero_and_win():
    vectors = np.eye(4, dtype=np.float32) * 3

    predictions = descriptor_predictions(
        query_ids=list("abcd"), query_vectors=vectors, reference_ids=list("ABCD"), reference_vectors=vectors, k_factor=1
    )

    assert {(p.query_id, p.reference_id, p.score) for p in predictions} == {
        ("a", "A", 0.0),
        ("b", "B", 0.0),
        ("c", "C", 0.0),
        ("d", "D", 0.0),
    }


def test_descriptor_predictions_reject_mismatched_inputs():
    with pytest.raises(ValueError, match="dimension"):
        descriptor_predictions(
            query_ids=["a"], query_vectors=np.zeros((1, 4)), reference_ids=["A"], reference_vectors=np.zeros((1, 5))
        )
    with pytest.raises(ValueError, match="rows"):
        descriptor_predictions(
            query_ids=["a", "b"],
            query_vectors=np.zeros((1, 4)),
            reference_ids=["A"],
            reference_vectors=np.zeros((1, 4)),
        )


# --- PR curve --------------------------------------------------------------------------------


def test_pr_curve_plot_writes_a_matplotlib_png(tmp_path):
    curves: dict[str, MatchingMetrics] = {
        "five": matching_evaluate(predictions=FIVE_PREDICTIONS, ground_truth=THREE_PAIRS),
        "none": matching_evaluate(predictions=[P("q1", "r2", 0.9)], ground_truth=THREE_PAIRS),
    }
    buffer = io.BytesIO()

    pr_curve_plot(curves, tmp_path / "curve.png", title="test")
    pr_curve_plot(curves, buffer, title="test")

    for png in ((tmp_path / "curve.png").read_bytes(), buffer.getvalue()):
        assert png.startswith(PNG_SIGNATURE)
        assert b"Matplotlib" in png[:200]  # the Software text chunk matplotlib writes
