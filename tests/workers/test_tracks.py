"""The track commands end to end on a tiny benchmark, through services, tasks and a real Milvus Lite."""

import csv

import h5py
import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from copydetect.formats import descriptors_read_h5, predictions_read_csv
from copydetect.metrics import matching_evaluate
from search.collection.models import Collection
from tests.images import edited_copy, scene

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def tiny_benchmark(tmp_path):
    references, queries = tmp_path / "references", tmp_path / "queries"
    references.mkdir()
    queries.mkdir()
    for seed in range(900, 906):
        scene(seed).save(references / f"R{seed}.jpg", quality=92)
    edited_copy(scene(901)).save(queries / "Q1.jpg", quality=92)
    edited_copy(scene(904)).save(queries / "Q2.jpg", quality=92)
    scene(9997).save(queries / "Q3.jpg", quality=92)
    truth = tmp_path / "ground_truth.csv"
    truth.write_text("query_id,reference_id\nQ1,R901\nQ2,R904\nQ3,\n")
    return tmp_path


def test_isc_match_ranks_the_true_references_first_and_cleans_up(tiny_benchmark, media_root):
    output, candidates = tiny_benchmark / "predictions.csv", tiny_benchmark / "candidates.csv"
    call_command(
        "isc_match",
        "--references",
        tiny_benchmark / "references",
        "--queries",
        tiny_benchmark / "queries",
        "--output",
        output,
        "--candidates",
        candidates,
        "--top-k",
        "3",
    )
    predictions = predictions_read_csv(output)
    assert {p.query_id for p in predictions} == {"Q1", "Q2", "Q3"}
    best = {
        q: max((p for p in predictions if p.query_id == q), key=lambda p: p.score).reference_id for q in ("Q1", "Q2")
    }
    assert best == {"Q1": "R901", "Q2": "R904"}
    metrics = matching_evaluate(predictions=predictions, ground_truth=[("Q1", "R901"), ("Q2", "R904")])
    assert metrics.micro_ap == pytest.approx(1.0)
    rows = list(csv.DictReader(open(candidates)))
    assert {"descriptor_similarity", "inliers", "verification_score", "final_score"} <= set(rows[0])
    assert not Collection.objects.exclude(created_by__username="isc-track-runner").exists()
    assert not Collection.objects.exists(), "the temporary collection is deleted afterwards"


def test_isc_match_without_verification_scores_by_similarity(tiny_benchmark, media_root):
    output, candidates = tiny_benchmark / "p.csv", tiny_benchmark / "c.csv"
    call_command(
        "isc_match",
        "--references",
        tiny_benchmark / "references",
        "--queries",
        tiny_benchmark / "queries",
        "--output",
        output,
        "--candidates",
        candidates,
        "--no-verification",
        "--top-k",
        "2",
    )
    rows = list(csv.DictReader(open(candidates)))
    assert all(
        row["verified"] == "0"
        and float(row["final_score"]) == pytest.approx(float(row["descriptor_similarity"]), abs=1e-6)
        for row in rows
    )


def test_isc_describe_writes_the_challenge_format_within_256_dims(tiny_benchmark):
    output = tiny_benchmark / "descriptors.h5"
    call_command(
        "isc_describe",
        "--references",
        tiny_benchmark / "references",
        "--queries",
        tiny_benchmark / "queries",
        "--output",
        output,
        "--dims",
        "4",
        "--isc2021",
    )
    descriptors = descriptors_read_h5(output)
    assert descriptors.query.shape == (3, 4) and descriptors.reference.shape == (6, 4)
    assert descriptors.query.dtype == np.float32
    assert np.allclose(np.linalg.norm(descriptors.reference, axis=1), 1.0, atol=1e-5)
    with h5py.File(tiny_benchmark / "query_descriptors.hdf5") as handle:
        assert handle["vectors"].shape == (3, 4)


def test_isc_calibrate_fits_and_saves_a_logistic_model(tiny_benchmark, tmp_path):
    candidates = tmp_path / "cand.csv"
    rng = np.random.default_rng(0)
    with open(candidates, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["query_id", "reference_id", "descriptor_similarity", "inliers", "verification_score"])
        truth = ["query_id,reference_id"]
        for i in range(200):
            copy = i % 4 == 0
            similarity = rng.normal(0.7 if copy else 0.15, 0.1)
            inliers = int(rng.integers(10, 80)) if copy and i % 8 == 0 else 0
            writer.writerow([f"Q{i}", f"R{i}", similarity, inliers, 0.0])
            if copy:
                truth.append(f"Q{i},R{i}")
    gt = tmp_path / "gt.csv"
    gt.write_text("\n".join(truth) + "\n")
    call_command(
        "isc_calibrate",
        "--candidates",
        candidates,
        "--ground-truth",
        gt,
        "--descriptor",
        "toy",
        "--out-dir",
        tmp_path / "cal",
    )
    from copydetect.scoring import ScoreCalibration

    calibration = ScoreCalibration.load(tmp_path / "cal" / "toy.json")
    assert calibration.weights[0] > 0, "higher similarity means more likely a copy"
    # One candidate per query: its margin over the (absent) runner-up equals its similarity.
    assert calibration.probability((0.8, 0.0, 0.0, 0.8)) > 0.5 > calibration.probability((0.15, 0.0, 0.0, 0.15))


@pytest.fixture
def tiny_vit_dir(tmp_path):
    from tests.copydetect.test_descriptors import tiny_dinov2_save

    directory = tmp_path / "tiny-vit"
    tiny_dinov2_save(directory)
    return directory


def test_isc_match_and_describe_run_the_fused_descriptor(tiny_benchmark, media_root, tiny_vit_dir, tmp_path):
    output = tiny_benchmark / "fused.csv"
    common = [
        "--references",
        tiny_benchmark / "references",
        "--queries",
        tiny_benchmark / "queries",
        "--vit-model",
        str(tiny_vit_dir),
        "--fusion-dir",
        str(tmp_path / "no-fusion-dir"),
    ]
    call_command("isc_match", *common, "--output", output, "--descriptor", "fused", "--no-verification", "--top-k", "3")
    predictions = predictions_read_csv(output)
    best = {
        q: max((p for p in predictions if p.query_id == q), key=lambda p: p.score).reference_id for q in ("Q1", "Q2")
    }
    assert best == {"Q1": "R901", "Q2": "R904"}
    assert not Collection.objects.exists()

    h5 = tiny_benchmark / "fused.h5"
    call_command("isc_describe", *common, "--output", h5, "--descriptor", "fused", "--dims", "4")
    descriptors = descriptors_read_h5(h5)
    assert descriptors.query.shape == (3, 4) and descriptors.reference.shape == (6, 4)


def test_track_commands_without_a_vit_model_say_how_to_set_it_up(tiny_benchmark, media_root, settings, tmp_path):
    settings.DATA_DIR = tmp_path  # no setup_vit export to fall back on
    common = [
        "--references",
        tiny_benchmark / "references",
        "--queries",
        tiny_benchmark / "queries",
        "--vit-model",
        str(tmp_path / "missing-model"),
    ]
    with pytest.raises(CommandError, match="setup_vit"):
        call_command("isc_match", *common, "--output", tmp_path / "p.csv", "--descriptor", "vit")
    with pytest.raises(CommandError, match="setup_vit"):
        call_command("isc_describe", *common, "--output", tmp_path / "d.h5", "--descriptor", "fused")
