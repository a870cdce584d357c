import json
import math

import numpy as np
import pytest

from copydetect.projection import Projection, projection_fit
from copydetect.scoring import (
    FEATURE_NAMES,
    ScoreCalibration,
    calibration_fit,
    candidate_rows_features,
    final_score_combine,
    similarity_margins,
)


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
