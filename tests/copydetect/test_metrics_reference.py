"""Our DISC21 metrics against the challenge's own scorer, on fixed cases.

The reference is facebookresearch/isc2021: `isc/metrics.py` (evaluate and what it calls),
`isc/io.py` (read_ground_truth), `isc/descriptor_matching.py` and `scripts/compute_metrics.py`
(the descriptor track). Nothing of it is copied: `reference_score` below restates, in plain Python
and independently of copydetect/metrics.py (numpy), what that scorer does:

- Ground truth: a row with an empty reference id is skipped; every other row is one positive (the
  scorer counts rows, it does not merge repeated ones).
- Predictions: a (query, reference) pair given twice makes it refuse the whole file.
- Ranking: all predictions pooled, highest score first; among equal scores the wrong predictions come
  before the right ones, so one score for everything cannot buy a good µAP.
- At rank i: precision = right so far / i, recall = right so far / positives, so a positive that was
  never predicted caps the recall.
- µAP = Σ_i (recall_i − recall_{i−1}) · precision_i, with recall_0 = 0.
- Recall at P90: the largest recall over the ranks whose precision is at least 0.9, the first of those
  ranks giving the threshold (its score). When no rank gets there it reports None; we report 0.0 and no
  threshold.
- Descriptor track: an exact (flat) L2 index, whose distances are squared; the max_results globally
  closest (query, reference) pairs, max_results = 500,000 = 10 × the 50,000 queries of a phase, scored
  −distance; then the same evaluation.

Where the hard numbers are written out, they were worked by hand from those rules.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import pytest

from copydetect.formats import ground_truth_rows
from copydetect.metrics import Prediction, descriptor_predictions, matching_evaluate

P = Prediction
REQUIRED_PRECISION = 0.9
K_FACTOR = 10


@dataclass(frozen=True)
class ReferenceOutcome:
    micro_ap: float
    recall_at_p90: float | None  # None: precision never reaches 0.9
    threshold_at_p90: float | None


def reference_score(*, ground_truth_rows: list[tuple[str, str]], predictions: list[Prediction]) -> ReferenceOutcome:
    """The isc2021 scorer's arithmetic, one rank at a time (see the module docstring)."""
    positives = [(query_id, reference_id) for query_id, reference_id in ground_truth_rows if reference_id != ""]
    pairs = [(p.query_id, p.reference_id) for p in predictions]
    if len(set(pairs)) != len(pairs):
        raise ValueError("the scorer refuses repeated predictions")
    truth = set(positives)
    # Key (−score, is right): higher score first, and False (wrong) sorts before True (right).
    ranked = sorted(
        ((p.score, (p.query_id, p.reference_id) in truth) for p in predictions), key=lambda s: (-s[0], s[1])
    )
    right = 0
    micro_ap = 0.0
    previous_recall = 0.0
    operating_point: tuple[float, float] | None = None  # (recall, score)
    for rank, (score, is_right) in enumerate(ranked, start=1):
        right += is_right
        precision = right / rank
        recall = right / len(positives)
        micro_ap += (recall - previous_recall) * precision
        previous_recall = recall
        if precision >= REQUIRED_PRECISION and (operating_point is None or recall > operating_point[0]):
            operating_point = (recall, score)
    if operating_point is None:
        return ReferenceOutcome(micro_ap, None, None)
    return ReferenceOutcome(micro_ap, *operating_point)


def assert_same_as_reference(*, ground_truth: list[tuple[str, str]], predictions: list[Prediction]) -> ReferenceOutcome:
    reference = reference_score(ground_truth_rows=ground_truth, predictions=predictions)
    ours = matching_evaluate(predictions=predictions, ground_truth=ground_truth)

    assert ours.micro_ap == pytest.approx(reference.micro_ap, rel=1e-12, abs=1e-15)
    assert ours.recall_at_p90 == pytest.approx(reference.recall_at_p90 if reference.recall_at_p90 is not None else 0.0)
    assert ours.threshold_at_p90 == reference.threshold_at_p90
    return reference


# --- matching track: fixed cases worked by hand ------------------------------------------------


def test_ties_across_positives_and_negatives_of_different_queries():
    # Four positives; (q4, r4) never predicted; q5 and q6 have no ground truth at all.
    # Worst-case order inside each tie:
    #   rank  prediction      right?  precision  recall
    #   1     q5,r1 0.9       no      0          0
    #   2     q1,r1 0.9       yes     1/2        1/4
    #   3     q2,r7 0.8       no      1/3        1/4
    #   4     q2,r2 0.8       yes     2/4        2/4
    #   5     q3,r3 0.8       yes     3/5        3/4
    #   6     q4,r9 0.5       no      3/6        3/4
    #   7     q6,r6 0.4       no      3/7        3/4
    # µAP = 1/4·1/2 + 1/4·2/4 + 1/4·3/5 = 0.4 (right-first inside ties would give 0.6042).
    # Precision never reaches 0.9: the scorer says None; we say 0.0 with no threshold.
    ground_truth = [("q1", "r1"), ("q2", "r2"), ("q3", "r3"), ("q4", "r4")]
    predictions = [
        P("q3", "r3", 0.8),
        P("q1", "r1", 0.9),
        P("q6", "r6", 0.4),
        P("q2", "r2", 0.8),
        P("q5", "r1", 0.9),
        P("q4", "r9", 0.5),
        P("q2", "r7", 0.8),
    ]

    reference = assert_same_as_reference(ground_truth=ground_truth, predictions=predictions)

    assert reference == ReferenceOutcome(pytest.approx(0.4), None, None)
    assert matching_evaluate(predictions=predictions, ground_truth=ground_truth).recall_at_p90 == 0.0


def test_a_tie_at_the_operating_point_costs_the_recall():
    # Five positives. Four right at 0.9, 0.8, 0.7, 0.6 (precision 1, recall 4/5), then a right and a
    # wrong prediction tied at 0.5: wrong first → rank 5: 4/5 = 0.8, rank 6: 5/6 ≈ 0.833, both < 0.9.
    # Recall@P90 = 4/5 at threshold 0.6 (right-first would have given 1.0 at 0.5).
    # µAP = 4 · 1/5 · 1 + 1/5 · 5/6 = 29/30.
    ground_truth = [(f"q{i}", f"r{i}") for i in range(5)]
    predictions = [P(f"q{i}", f"r{i}", score) for i, score in enumerate([0.9, 0.8, 0.7, 0.6])]
    predictions += [P("q4", "r4", 0.5), P("q4", "r0", 0.5)]

    reference = assert_same_as_reference(ground_truth=ground_truth, predictions=predictions)

    assert reference == ReferenceOutcome(pytest.approx(29 / 30), pytest.approx(4 / 5), 0.6)


def test_recall_at_p90_takes_the_first_rank_of_its_recall():
    # Ten positives all found at scores 1.0 … 0.91, then a wrong one at 0.5: precision 10/11 ≥ 0.9
    # at the same recall 1.0. The threshold is the tenth right prediction's score (0.91), not 0.5.
    ground_truth = [(f"q{i}", f"r{i}") for i in range(10)]
    predictions = [P(f"q{i}", f"r{i}", round(1.0 - i / 100, 2)) for i in range(10)] + [P("q0", "r5", 0.5)]

    reference = assert_same_as_reference(ground_truth=ground_truth, predictions=predictions)

    assert reference == ReferenceOutcome(pytest.approx(1.0), pytest.approx(1.0), 0.91)


def test_precision_of_exactly_0_9_counts():
    # Ten positives, one never predicted: right 1.0 · wrong 0.95 · eight right at 0.9 … 0.83.
    # Precision after the wrong one climbs 2/3 … 8/9 (< 0.9) to 9/10 = 0.9 exactly at rank 10,
    # recall 9/10: "at least 0.9" takes it (a strict "above" would stop at recall 1/10).
    # µAP = 1/10 · (1 + Σ_{n=3..10} (n−1)/n).
    ground_truth = [(f"q{i}", f"r{i}") for i in range(10)]
    predictions = [P("q0", "r0", 1.0), P("q0", "r1", 0.95)]
    predictions += [P(f"q{i}", f"r{i}", round(0.91 - i / 100, 2)) for i in range(1, 9)]

    reference = assert_same_as_reference(ground_truth=ground_truth, predictions=predictions)

    micro_ap = (1 + sum((n - 1) / n for n in range(3, 11))) / 10
    assert reference == ReferenceOutcome(pytest.approx(micro_ap), pytest.approx(9 / 10), 0.83)


def test_precision_never_reaching_p90():
    # Four positives, (q4, r4) never predicted:
    #   wrong 0.9 · right 0.8 (1/2) · right 0.7 (2/3) · wrong 0.6 · right 0.5 (3/5)
    # µAP = 1/4 · (1/2 + 2/3 + 3/5) = 53/120; recall@P90: none.
    ground_truth = [("q1", "r1"), ("q2", "r2"), ("q3", "r3"), ("q4", "r4")]
    predictions = [
        P("q1", "r2", 0.9),
        P("q1", "r1", 0.8),
        P("q2", "r2", 0.7),
        P("q2", "r1", 0.6),
        P("q3", "r3", 0.5),
    ]

    reference = assert_same_as_reference(ground_truth=ground_truth, predictions=predictions)

    assert reference == ReferenceOutcome(pytest.approx(53 / 120), None, None)


def test_queries_without_ground_truth_count_as_wrong_predictions_only():
    # DISC21 lists unmatched queries with an empty reference; the scorer skips those rows. Their
    # predictions (q7 at the top) are simply wrong: ranks wrong 0.95 · right 0.9 (1/2, recall 1/2) ·
    # right 0.8 (2/3, recall 1) → µAP = 1/2·1/2 + 1/2·2/3 = 7/12.
    ground_truth = [("q1", "r1"), ("q7", ""), ("q2", "r2"), ("q8", "")]
    predictions = [P("q7", "r1", 0.95), P("q1", "r1", 0.9), P("q2", "r2", 0.8)]

    reference = assert_same_as_reference(ground_truth=ground_truth, predictions=predictions)

    assert reference == ReferenceOutcome(pytest.approx(7 / 12), None, None)
    assert matching_evaluate(predictions=predictions, ground_truth=ground_truth).n_ground_truth == 2


def test_pairs_never_predicted_and_no_predictions():
    ground_truth = [("q1", "r1"), ("q2", "r2"), ("q3", "r3")]

    found_one = assert_same_as_reference(ground_truth=ground_truth, predictions=[P("q2", "r2", 3.0)])
    found_none = assert_same_as_reference(ground_truth=ground_truth, predictions=[])

    assert found_one == ReferenceOutcome(pytest.approx(1 / 3), pytest.approx(1 / 3), 3.0)
    assert found_none == ReferenceOutcome(0.0, None, None)


def test_one_query_with_several_references():
    # The scorer takes any number of references per query. Both of q1's count: right 0.9 (1/1,
    # recall 1/2) · wrong 0.8 · right 0.7 (2/3, recall 1) → µAP = 1/2 + 1/2·2/3 = 5/6; recall@P90 1/2.
    ground_truth = [("q1", "r1"), ("q1", "r2")]
    predictions = [P("q1", "r1", 0.9), P("q1", "r3", 0.8), P("q1", "r2", 0.7)]

    reference = assert_same_as_reference(ground_truth=ground_truth, predictions=predictions)

    assert reference == ReferenceOutcome(pytest.approx(5 / 6), 0.5, 0.9)


def test_duplicate_predictions_are_refused_by_both():
    predictions = [P("q1", "r1", 0.9), P("q2", "r2", 0.5), P("q1", "r1", 0.2)]

    with pytest.raises(ValueError):
        reference_score(ground_truth_rows=[("q1", "r1")], predictions=predictions)
    with pytest.raises(ValueError, match="duplicate"):
        matching_evaluate(predictions=predictions, ground_truth=[("q1", "r1")])


def test_repeated_ground_truth_rows_never_reach_the_metrics_from_a_file():
    # The one difference: given the same row twice, the scorer counts two positives (full recall is
    # then out of reach, as a pair may be predicted once), matching_evaluate counts the pair once.
    # Files never get there: the ground-truth reader refuses a repeated row, so on every file both
    # count the same.
    rows = [("q1", "r1"), ("q1", "r1")]
    predictions = [P("q1", "r1", 0.9)]

    assert reference_score(ground_truth_rows=rows, predictions=predictions).micro_ap == pytest.approx(0.5)
    assert matching_evaluate(predictions=predictions, ground_truth=rows).micro_ap == 1.0
    with pytest.raises(ValueError, match="duplicate row"):
        ground_truth_rows(["query_id,reference_id", "q1,r1", "q1,r1"], source="gt.csv")


# --- matching track: generated cases, fixed seeds ---------------------------------------------


def generated_case(seed: int) -> tuple[list[tuple[str, str]], list[Prediction]]:
    """A DISC21-like case: some queries with a reference, others with none; scores on a coarse grid
    so that ties (within and across queries, right and wrong) are common."""
    rng = random.Random(seed)
    n_queries, n_references = rng.randint(1, 40), rng.randint(1, 25)
    ground_truth: list[tuple[str, str]] = []
    for q in range(n_queries):
        if rng.random() < 0.4:
            ground_truth.append((f"q{q}", f"r{rng.randrange(n_references)}"))
        else:
            ground_truth.append((f"q{q}", ""))
    truth = set(ground_truth)
    all_pairs = [(f"q{q}", f"r{r}") for q in range(n_queries) for r in range(n_references)]
    chosen = rng.sample(all_pairs, rng.randint(0, min(len(all_pairs), 3 * n_queries)))
    # Right pairs score higher on average, by a margin drawn per case: some cases reach 0.9 precision.
    margin = rng.choice([0.0, 0.3, 0.6, 1.0])
    levels = rng.choice([3, 5, 10])
    predictions = [P(q, r, round((rng.random() + margin * ((q, r) in truth)) * levels) / levels) for q, r in chosen]
    return ground_truth, predictions


@pytest.mark.parametrize("seed", range(60))
def test_generated_cases_match_the_reference(seed):
    ground_truth, predictions = generated_case(seed)
    if not any(reference_id for _, reference_id in ground_truth):
        pytest.skip("this seed drew no query with a reference (the scorer divides by zero)")

    assert_same_as_reference(ground_truth=ground_truth, predictions=predictions)


def test_generated_cases_cover_what_they_claim():
    # Across the seeds: ties between right and wrong predictions, P90 reached and not reached,
    # positives never predicted.
    outcomes = {"tie_right_wrong": 0, "p90_reached": 0, "p90_missed": 0, "positive_unpredicted": 0}
    for seed in range(60):
        ground_truth, predictions = generated_case(seed)
        truth = {row for row in ground_truth if row[1]}
        if not truth:
            continue
        by_score: dict[float, set[bool]] = {}
        for p in predictions:
            by_score.setdefault(p.score, set()).add((p.query_id, p.reference_id) in truth)
        outcomes["tie_right_wrong"] += any(len(kinds) == 2 for kinds in by_score.values())
        reached = reference_score(ground_truth_rows=ground_truth, predictions=predictions).recall_at_p90 is not None
        outcomes["p90_reached" if reached else "p90_missed"] += 1
        outcomes["positive_unpredicted"] += bool(truth - {(p.query_id, p.reference_id) for p in predictions})

    assert all(count >= 5 for count in outcomes.values()), outcomes


# --- descriptor track ---------------------------------------------------------------------------


def reference_descriptor_predictions(
    query_ids: list[str], queries: np.ndarray, reference_ids: list[str], references: np.ndarray, max_results: int
) -> list[Prediction]:
    """Every pair's squared L2 distance (float64, by subtraction), the max_results smallest, −distance."""
    scored = [
        (float(((queries[q].astype(np.float64) - references[r]) ** 2).sum()), q, r)
        for q in range(len(queries))
        for r in range(len(references))
    ]
    scored.sort()
    return [P(query_ids[q], reference_ids[r], -distance) for distance, q, r in scored[:max_results]]


def test_descriptor_track_keeps_the_global_closest_pairs_by_hand():
    # On a line: references A=0, B=3, C=10; queries a=1 (a copy of A), b=7 (a copy of C).
    # Squared distances: a–A 1, a–B 4, a–C 81; b–A 49, b–B 16, b–C 9. With one pair per query
    # (k = 1 × 2 queries), the two closest pairs overall are a–A and a–B: b's nearest neighbour C is
    # left out although a per-query search would keep it.
    # Ranks: a–A −1 right (recall 1/2), a–B −4 wrong → µAP 1/2, recall@P90 1/2 at threshold −1.
    references = np.array([[0.0], [3.0], [10.0]], dtype=np.float32)
    queries = np.array([[1.0], [7.0]], dtype=np.float32)
    ground_truth = [("a", "A"), ("b", "C")]

    predictions = descriptor_predictions(
        query_ids=["a", "b"],
        query_vectors=queries,
        reference_ids=["A", "B", "C"],
        reference_vectors=references,
        k_factor=1,
    )

    assert sorted((p.query_id, p.reference_id, p.score) for p in predictions) == [("a", "A", -1.0), ("a", "B", -4.0)]
    reference = assert_same_as_reference(ground_truth=ground_truth, predictions=predictions)
    assert reference == ReferenceOutcome(0.5, 0.5, -1.0)


def disc21_like_descriptors(seed: int, n_queries: int, n_references: int, dims: int):
    """References on the unit sphere; about half the queries are noisy copies of one (noise varied so
    that some copies fall out of the cut), the rest unrelated."""
    rng = np.random.default_rng(seed)
    references = rng.standard_normal((n_references, dims))
    references /= np.linalg.norm(references, axis=1, keepdims=True)
    queries = rng.standard_normal((n_queries, dims))
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    ground_truth = []
    for q in range(n_queries):
        if rng.random() < 0.5:
            r = int(rng.integers(n_references))
            queries[q] = references[r] + rng.uniform(0.1, 2.0) * rng.standard_normal(dims) / np.sqrt(dims)
            ground_truth.append((f"Q{q:05d}", f"R{r:06d}"))
        else:
            ground_truth.append((f"Q{q:05d}", ""))
    query_ids = [f"Q{q:05d}" for q in range(n_queries)]
    reference_ids = [f"R{r:06d}" for r in range(n_references)]
    return query_ids, queries.astype(np.float32), reference_ids, references.astype(np.float32), ground_truth


@pytest.mark.parametrize(
    ("seed", "n_queries", "n_references"),
    [(0, 40, 200), (1, 40, 200), (2, 300, 120), (3, 7, 5)],  # 300 queries: more than one block of rows
)
def test_descriptor_track_matches_the_reference(seed, n_queries, n_references):
    query_ids, queries, reference_ids, references, ground_truth = disc21_like_descriptors(
        seed, n_queries, n_references, dims=16
    )

    ours = descriptor_predictions(
        query_ids=query_ids,
        query_vectors=queries,
        reference_ids=reference_ids,
        reference_vectors=references,
        k_factor=K_FACTOR,
    )
    expected = reference_descriptor_predictions(
        query_ids, queries, reference_ids, references, max_results=K_FACTOR * n_queries
    )

    assert {(p.query_id, p.reference_id) for p in ours} == {(p.query_id, p.reference_id) for p in expected}
    expected_score = {(p.query_id, p.reference_id): p.score for p in expected}
    for p in ours:
        assert p.score == pytest.approx(expected_score[p.query_id, p.reference_id], rel=1e-5, abs=1e-5)
    reference = reference_score(ground_truth_rows=ground_truth, predictions=expected)
    metrics = matching_evaluate(predictions=ours, ground_truth=ground_truth)
    assert metrics.micro_ap == pytest.approx(reference.micro_ap, rel=1e-12)
    assert metrics.recall_at_p90 == pytest.approx(reference.recall_at_p90 or 0.0)
    if reference.threshold_at_p90 is None:
        assert metrics.threshold_at_p90 is None
    else:
        assert metrics.threshold_at_p90 == pytest.approx(reference.threshold_at_p90, rel=1e-5, abs=1e-6)
    # The case is what it claims: a partial µAP, and (but for the tiny case, where every pair fits
    # under the cut) copies left out by the global cut.
    assert 0.0 < reference.micro_ap < 1.0
    if K_FACTOR * n_queries < n_queries * n_references:
        predicted = {(p.query_id, p.reference_id) for p in expected}
        assert any(row[1] and row not in predicted for row in ground_truth)
