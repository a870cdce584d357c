import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

from copydetect.projection import Projection, projection_fit
from copydetect.score_fit import TAIL_SCALES, tail_scale_fit
from copydetect.scoring import (
    DEFAULT_TAIL_SCALE,
    FEATURE_NAMES,
    NEAR_IDENTICAL_SIMILARITY,
    ScoreCalibration,
    calibration_fit,
    candidate_rows_features,
    final_score_combine,
    near_identical_sets,
    similarity_margins,
)

CALIBRATION = Path(__file__).resolve().parents[2] / "copydetect" / "calibration" / "sscd.json"


def test_without_calibration_either_evidence_can_establish_a_copy():
    assert final_score_combine(similarity=0.9, inliers=0, verification_score=0.0, calibration=None) == pytest.approx(
        0.9
    )
    assert final_score_combine(similarity=0.1, inliers=40, verification_score=0.9, calibration=None) == pytest.approx(
        0.91
    )
    assert final_score_combine(similarity=-0.2, inliers=0, verification_score=0.0, calibration=None) == 0.0


def test_a_calibration_is_a_logistic_model_over_the_evidence(tmp_path):
    calibration = ScoreCalibration(descriptor="sscd", weights=(10.0, 1.0, 0.0), bias=-5.0)
    expected = 1 / (1 + math.exp(-(10 * 0.5 + math.log1p(20) - 5)))
    assert final_score_combine(
        similarity=0.5, inliers=20, verification_score=0.3, calibration=calibration
    ) == pytest.approx(expected)
    calibration.save(tmp_path / "sscd.json")
    assert ScoreCalibration.load(tmp_path / "sscd.json") == calibration


def test_margins_measure_each_candidate_against_the_best_other_candidate():
    assert similarity_margins([0.9, 0.6, 0.7]) == pytest.approx([0.2, -0.3, -0.2])
    assert similarity_margins([0.5, 0.5]) == pytest.approx([0.0, 0.0]), "a tie gives the top no lead"
    assert similarity_margins([0.4]) == pytest.approx([0.4])
    assert similarity_margins([]) == []


def test_a_calibration_with_the_margin_rewards_a_candidate_that_stands_out(tmp_path):
    calibration = ScoreCalibration(descriptor="sscd", weights=(7.0, 2.0, 4.0, 30.0), bias=-6.0)
    evidence = dict(similarity=0.6, inliers=0, verification_score=0.0, calibration=calibration)
    standing_out = final_score_combine(**evidence, margin=0.15)
    among_many = final_score_combine(**evidence, margin=0.0)
    assert standing_out == pytest.approx(1 / (1 + math.exp(-(7 * 0.6 + 30 * 0.15 - 6))))
    assert standing_out > 0.5 > among_many
    calibration.save(tmp_path / "sscd.json")
    assert ScoreCalibration.load(tmp_path / "sscd.json") == calibration
    assert json.loads((tmp_path / "sscd.json").read_text())["features"] == list(FEATURE_NAMES)


def test_a_legacy_three_feature_calibration_ignores_the_margin():
    legacy = ScoreCalibration(descriptor="sscd", weights=(10.0, 1.0, 0.0), bias=-5.0)
    scores = {
        final_score_combine(similarity=0.5, inliers=3, verification_score=0.1, calibration=legacy, margin=m)
        for m in (-0.3, 0.0, 0.3)
    }
    assert len(scores) == 1


def test_candidate_rows_get_margins_within_their_own_query():
    rows = [
        {"query_id": "Q1", "descriptor_similarity": "0.8", "inliers": "30", "verification_score": "0.9"},
        {"query_id": "Q2", "descriptor_similarity": "0.9", "inliers": "0", "verification_score": "0"},
        {"query_id": "Q1", "descriptor_similarity": "0.5", "inliers": "0", "verification_score": "0"},
    ]
    features = candidate_rows_features(rows)
    assert features.shape == (3, len(FEATURE_NAMES))
    assert features[:, 3] == pytest.approx([0.3, 0.9, -0.3])
    assert features[0, :3] == pytest.approx([0.8, math.log1p(30), 0.9])


def test_fitting_recovers_a_known_logistic_model():
    rng = np.random.default_rng(1)
    features = rng.normal(size=(4000, 3))
    true_weights, true_bias = np.array([3.0, -1.0, 0.5]), -0.5
    probabilities = 1 / (1 + np.exp(-(features @ true_weights + true_bias)))
    labels = (rng.random(4000) < probabilities).astype(float)
    fitted = calibration_fit(features=features, labels=labels, descriptor="x", fitted_on="synthetic")
    assert np.allclose(fitted.weights, true_weights, atol=0.3) and abs(fitted.bias - true_bias) < 0.2


def test_projection_reduces_dimensions_and_keeps_unit_length(tmp_path):
    rng = np.random.default_rng(2)
    data = rng.normal(size=(300, 16)) * np.linspace(5, 0.1, 16)
    projection = projection_fit(data, dim=4)
    out = projection.apply(data)
    assert out.shape == (300, 4) and np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    projection.save(tmp_path / "p.npz")
    assert np.allclose(Projection.load(tmp_path / "p.npz").apply(data), out)
    whitened = projection_fit(data, dim=4, whitening_power=0.5)
    raw = (data - whitened.mean) @ whitened.matrix
    assert np.allclose(raw.std(axis=0), 1.0, atol=0.05), "full whitening gives unit variance per component"


def test_a_twin_of_a_candidate_is_not_its_rival():
    # R (0.62) and its resized twin R' (0.61) lead a third picture (0.30): without near-identity the
    # twins' margins collapse to about 0; with it each keeps its lead over the different picture.
    similarities = [0.62, 0.61, 0.30]
    assert similarity_margins(similarities) == pytest.approx([0.01, -0.01, -0.32])
    twins = [frozenset({1}), frozenset({0}), frozenset()]
    assert similarity_margins(similarities, near_identical=twins) == pytest.approx([0.32, 0.31, -0.32])
    assert similarity_margins([0.62, 0.61], near_identical=[frozenset({1}), frozenset({0})]) == pytest.approx(
        [0.62, 0.61]
    ), "twins alone score as a lone candidate does"
    with pytest.raises(ValueError):
        similarity_margins(similarities, near_identical=twins[:2])


def test_near_identical_sets_come_from_the_references_own_descriptors():
    rng = np.random.default_rng(3)
    picture = rng.normal(size=64)
    twin = picture + 0.05 * rng.normal(size=64)  # cosine ≈ 0.999
    other = rng.normal(size=64)
    sets = near_identical_sets([picture, other, twin, None], min_similarity=0.9)
    assert sets == [frozenset({2}), frozenset(), frozenset({0}), frozenset()]
    assert near_identical_sets([picture], min_similarity=0.9) == [frozenset()]


def test_a_calibration_keeps_its_near_identity_threshold(tmp_path):
    calibration = ScoreCalibration(
        descriptor="sscd", weights=(7.0, 2.0, 4.0, 30.0), bias=-6.0, near_identical_similarity=0.9, tail_scale=1.2
    )
    calibration.save(tmp_path / "sscd.json")
    assert ScoreCalibration.load(tmp_path / "sscd.json") == calibration
    legacy = json.loads((tmp_path / "sscd.json").read_text())
    del legacy["near_identical_similarity"], legacy["tail_scale"]
    (tmp_path / "old.json").write_text(json.dumps(legacy))
    old = ScoreCalibration.load(tmp_path / "old.json")
    assert old.near_identical_similarity is None and old.tail_scale is None


def test_candidate_rows_use_the_pipelines_own_margin_when_given():
    rows = [
        {
            "query_id": "Q1",
            "descriptor_similarity": "0.6",
            "inliers": "0",
            "verification_score": "0",
            "similarity_margin": "0.3",
        },
        {
            "query_id": "Q1",
            "descriptor_similarity": "0.6",
            "inliers": "0",
            "verification_score": "0",
            "similarity_margin": "",
        },
    ]
    assert candidate_rows_features(rows)[:, 3] == pytest.approx([0.3, 0.0])


def test_the_tail_keeps_the_boundary_and_leaves_room_at_the_top():
    plain = ScoreCalibration(descriptor="x", weights=(1.0,), bias=0.0)
    tailed = dataclasses.replace(plain, tail_scale=1.2)
    for logit in (-30.0, -3.0, -0.5, 0.0):
        assert tailed.probability((logit,)) == pytest.approx(plain.probability((logit,))), "unchanged at and below 0.5"
    assert tailed.probability((0.3,)) == pytest.approx(plain.probability((0.3,)), abs=0.001), "slope 1 at 0"
    above = [tailed.probability((logit,)) for logit in (1.0, 3.0, 10.0, 30.0, 100.0, 1000.0)]
    assert above == sorted(above) and len(set(above)) == len(above), "strictly increasing: ranking is kept"
    assert plain.probability((30.0,)) > 1 - 1e-12, "the plain logistic piles strong evidence at 1"
    # Logits of real pairs stay below about 52 (every feature at its largest: 51.7 with the shipped fit).
    assert above[3] < 0.995 and above[4] < 0.9995, "with the tail nothing reads 1.000 at three decimals"
    assert above[-1] < 1.0


def test_the_tail_scale_is_fitted_on_non_copies_with_strong_evidence():
    rng = np.random.default_rng(4)
    copies = rng.uniform(2, 40, 300)
    clean = tail_scale_fit(np.concatenate([copies, [-5.0, -8.0]]), np.r_[np.ones(300), 0, 0])
    assert clean == max(TAIL_SCALES), "no strong non-copy: no tail to speak of"
    strong_negatives = np.r_[copies, [12.0, 13.0, 14.0, 20.0]]
    fitted = tail_scale_fit(strong_negatives, np.r_[np.ones(300), np.zeros(4)])
    assert fitted < 3, "four non-copies among 300 copies at logits 12–20 bend the tail"

    features = np.r_[rng.normal(1.0, 0.3, 200), rng.normal(-1.0, 0.3, 200)][:, None]
    labels = np.r_[np.ones(200), np.zeros(200)]
    kept = calibration_fit(features=features, labels=labels, descriptor="x", fitted_on="synthetic")
    assert kept.tail_scale == DEFAULT_TAIL_SCALE and kept.near_identical_similarity == NEAR_IDENTICAL_SIMILARITY
    strong = np.array([[3.0], [3.2], [3.4]])  # non-copies far on the copies' side
    tailed = calibration_fit(
        features=features,
        labels=labels,
        descriptor="x",
        fitted_on="synthetic",
        tail_features=np.r_[features, strong],
        tail_labels=np.r_[labels, np.zeros(3)],
    )
    assert tailed.weights == kept.weights and tailed.tail_scale < DEFAULT_TAIL_SCALE


def test_the_shipped_calibration_is_monotone_bounded_and_decides_as_before_at_one_half():
    shipped = ScoreCalibration.load(CALIBRATION)
    assert shipped.near_identical_similarity is not None and shipped.tail_scale is not None
    assert all(weight > 0 for weight in shipped.weights), "more evidence never lowers a score"
    strongest = shipped.probability((1.0, math.log1p(5000), 1.0, 1.0))
    assert strongest < 0.9995
    assert shipped.probability((0.97, 0.0, 0.0, 0.8)) < 0.99, "no inliers: never near-certain"
    plain = dataclasses.replace(shipped, tail_scale=None)
    rng = np.random.default_rng(5)
    for features in rng.uniform([0, 0, 0, -0.3], [1, 6, 1, 0.8], size=(500, 4)):
        assert (shipped.probability(features) >= 0.5) == (plain.probability(features) >= 0.5)
