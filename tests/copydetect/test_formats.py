"""DISC21 file formats (round trips, rejected inputs) and the isc_evaluate command."""

import io
from pathlib import Path

import h5py
import numpy as np
import pytest
from django.core.management import CommandError, call_command

from copydetect import formats
from copydetect.metrics import Prediction

P = Prediction
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --- predictions CSV -------------------------------------------------------------------------


def test_predictions_round_trip_keeps_scores_exactly(tmp_path):
    predictions = [
        P("Q00001", "R000010", 0.1 + 0.2),
        P("Q00001", "R000011", -1234.5),
        P("Q00002", "R000010", 1e-17),
        P("Q00003", "R999999", 7.0),
    ]

    formats.predictions_write_csv(tmp_path / "p.csv", predictions)

    assert (tmp_path / "p.csv").read_text().splitlines()[0] == "query_id,reference_id,score"
    assert formats.predictions_read_csv(tmp_path / "p.csv") == predictions


def test_predictions_read_accepts_official_rows_bom_and_blank_lines(tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes(b"\xef\xbb\xbfquery_id,reference_id,score\nQ1,R1,0.500000\n\nQ2,R2,-3\n")

    assert formats.predictions_read_csv(path) == [P("Q1", "R1", 0.5), P("Q2", "R2", -3.0)]


def test_predictions_duplicate_pair_names_both_lines(tmp_path):
    path = write_text(tmp_path / "p.csv", "query_id,reference_id,score\nQ1,R1,0.5\nQ1,R2,0.4\nQ1,R1,0.3\n")

    with pytest.raises(ValueError, match=r"p\.csv:4: duplicate .*first on line 2"):
        formats.predictions_read_csv(path)


@pytest.mark.parametrize(
    "row, message",
    [
        ("Q1,R1,high", r":2: score 'high' is not a number"),
        ("Q1,R1,nan", r":2: score is NaN"),
        ("Q1,R1", r":2: expected 3 fields"),
        ("Q1,R1,0.5,extra", r":2: expected 3 fields"),
    ],
)
def test_predictions_bad_rows_are_rejected_with_their_line(tmp_path, row, message):
    path = write_text(tmp_path / "p.csv", f"query_id,reference_id,score\n{row}\n")

    with pytest.raises(ValueError, match=message):
        formats.predictions_read_csv(path)


@pytest.mark.parametrize("text", ["", "Q1,R1,0.5\n", "query,reference,score\nQ1,R1,0.5\n"])
def test_predictions_need_the_header(tmp_path, text):
    path = write_text(tmp_path / "p.csv", text)

    with pytest.raises(ValueError, match=r":1: expected header query_id,reference_id,score"):
        formats.predictions_read_csv(path)


# --- ground truth and groups CSV -------------------------------------------------------------


def test_ground_truth_keeps_queries_without_a_match(tmp_path):
    path = write_text(tmp_path / "gt.csv", "query_id,reference_id\nQ1,R7\nQ2,\nQ3,R9\n")

    assert formats.ground_truth_read_csv(path) == [("Q1", "R7"), ("Q2", ""), ("Q3", "R9")]


def test_ground_truth_round_trip_and_header_check(tmp_path):
    rows = [("Q1", "R7"), ("Q2", "")]
    formats.ground_truth_write_csv(tmp_path / "gt.csv", rows)
    write_text(tmp_path / "bad.csv", "query,ref\nQ1,R7\n")

    assert formats.ground_truth_read_csv(tmp_path / "gt.csv") == rows
    with pytest.raises(ValueError, match="expected header query_id,reference_id"):
        formats.ground_truth_read_csv(tmp_path / "bad.csv")


def test_groups_round_trip_and_repeated_query(tmp_path):
    groups = {"Q1": "crop", "Q2": "overlay text"}
    formats.groups_write_csv(tmp_path / "g.csv", groups)
    write_text(tmp_path / "twice.csv", "query_id,group\nQ1,crop\nQ1,blur\n")

    assert formats.groups_read_csv(tmp_path / "g.csv") == groups
    with pytest.raises(ValueError, match=":3: query Q1 listed twice"):
        formats.groups_read_csv(tmp_path / "twice.csv")


# --- descriptors HDF5 ------------------------------------------------------------------------


def descriptor_set(n_queries=3, n_references=5, dims=16, seed=0):
    rng = np.random.default_rng(seed)
    return dict(
        query_ids=[f"Q{i:05d}" for i in range(n_queries)],
        query=rng.standard_normal((n_queries, dims)),  # float64 on purpose: stored as float32
        reference_ids=[f"R{i:06d}" for i in range(n_references)],
        reference=rng.standard_normal((n_references, dims)),
    )


def assert_same_descriptors(read: formats.Descriptors, written: dict) -> None:
    assert read.query_ids == written["query_ids"]
    assert read.reference_ids == written["reference_ids"]
    assert read.query.dtype == np.float32 and read.reference.dtype == np.float32
    np.testing.assert_array_equal(read.query, written["query"].astype(np.float32))
    np.testing.assert_array_equal(read.reference, written["reference"].astype(np.float32))


def test_drivendata_descriptors_round_trip_in_the_submission_layout(tmp_path):
    written = descriptor_set(dims=256)

    formats.descriptors_write_h5(tmp_path / "sub.hdf5", **written)

    assert_same_descriptors(formats.descriptors_read_h5(tmp_path / "sub.hdf5"), written)
    with h5py.File(tmp_path / "sub.hdf5", "r") as file:
        assert set(file) == {"query", "reference", "query_ids", "reference_ids"}
        assert file["query"].dtype == np.float32
        assert file["query_ids"].dtype.kind == "S"


def test_drivendata_descriptors_over_256_dimensions_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="at most 256"):
        formats.descriptors_write_h5(tmp_path / "sub.hdf5", **descriptor_set(dims=257))


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(reference=np.zeros((5, 8))), "dimensions"),
        (dict(query_ids=["Q1", "Q2"]), "3 descriptors for 2 ids"),
        (dict(query_ids=["Q1", "Q1", "Q2"]), "duplicates"),
        (dict(query_ids=["Q1", "Qé", "Q2"]), "ASCII"),
        (dict(query=np.zeros(3)), "2-D"),
    ],
)
def test_inconsistent_descriptors_are_rejected(tmp_path, change, message):
    with pytest.raises(ValueError, match=message):
        formats.descriptors_write_h5(tmp_path / "sub.hdf5", **{**descriptor_set(), **change})


def test_descriptors_read_names_missing_datasets_and_non_hdf5(tmp_path):
    with h5py.File(tmp_path / "partial.hdf5", "w") as file:
        file.create_dataset("query", data=np.zeros((1, 4), np.float32))
    write_text(tmp_path / "text.hdf5", "not hdf5")

    with pytest.raises(ValueError, match="missing dataset.*query_ids"):
        formats.descriptors_read_h5(tmp_path / "partial.hdf5")
    with pytest.raises(ValueError, match="not a readable HDF5"):
        formats.descriptors_read_h5(tmp_path / "text.hdf5")


def test_descriptors_read_accepts_variable_length_string_ids(tmp_path):
    with h5py.File(tmp_path / "sub.hdf5", "w") as file:
        file.create_dataset("query", data=np.ones((1, 2), np.float32))
        file.create_dataset("reference", data=np.ones((1, 2), np.float32))
        file.create_dataset("query_ids", data=["Q1"], dtype=h5py.string_dtype())
        file.create_dataset("reference_ids", data=["R1"], dtype=h5py.string_dtype())

    read = formats.descriptors_read_h5(tmp_path / "sub.hdf5")

    assert (read.query_ids, read.reference_ids) == (["Q1"], ["R1"])


def test_isc2021_descriptor_files_round_trip_and_read_as_its_scripts_do(tmp_path):
    written = descriptor_set(dims=512)  # no 256 limit in this layout

    formats.descriptors_write_isc2021(tmp_path / "descs", **written)

    assert_same_descriptors(formats.descriptors_read_isc2021(tmp_path / "descs"), written)
    for file_name, ids_key in [
        ("query_descriptors.hdf5", "query_ids"),
        ("reference_descriptors.hdf5", "reference_ids"),
    ]:
        with h5py.File(tmp_path / "descs" / file_name, "r") as file:
            assert set(file) == {"vectors", "image_names"}
            assert file["vectors"].dtype == np.float32
            assert file["image_names"].dtype.kind == "S"
            # How facebookresearch/isc2021's scripts turn the names back into str.
            names = np.array(file["image_names"][:], dtype=object).astype(str).tolist()
        assert names == written[ids_key]


# --- isc_evaluate command --------------------------------------------------------------------

# The five-prediction case of test_metrics: µAP 5/9 = 0.5556, recall@P90 1/3 at score 0.9.
FIVE_PREDICTIONS_CSV = "query_id,reference_id,score\nq1,r1,0.9\nq2,r9,0.8\nq2,r2,0.7\nq3,r7,0.6\nq4,r4,0.5\n"
GROUND_TRUTH_CSV = "query_id,reference_id\nq1,r1\nq2,r2\nq3,r3\nq4,\n"


def evaluate(*args: str) -> str:
    out = io.StringIO()
    call_command("isc_evaluate", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def ground_truth_csv(tmp_path) -> Path:
    return write_text(tmp_path / "gt.csv", GROUND_TRUTH_CSV)


def test_isc_evaluate_predictions_prints_metrics_and_writes_curve_next_to_them(tmp_path, ground_truth_csv):
    predictions = write_text(tmp_path / "run1.csv", FIVE_PREDICTIONS_CSV)

    output = evaluate("--ground-truth", str(ground_truth_csv), "--predictions", str(predictions))

    assert "5 predictions, 3 ground-truth pairs, 2 found" in output
    assert "µAP              0.5556" in output
    assert "recall@P90       0.3333" in output
    assert "threshold@P90    0.9" in output
    png = (tmp_path / "run1_pr.png").read_bytes()
    assert png.startswith(PNG_SIGNATURE) and b"Matplotlib" in png[:200]


def test_isc_evaluate_groups_table_and_explicit_curve(tmp_path, ground_truth_csv):
    predictions = write_text(tmp_path / "run1.csv", FIVE_PREDICTIONS_CSV)
    groups = write_text(tmp_path / "groups.csv", "query_id,group\nq1,crop\nq2,crop\nq3,blur\n")

    output = evaluate(
        "--ground-truth",
        str(ground_truth_csv),
        "--predictions",
        str(predictions),
        "--groups",
        str(groups),
        "--curve",
        str(tmp_path / "out" / "c.png"),
    )

    # crop: µAP 5/6 (see test_per_group_...); blur: one wrong prediction, one pair missed.
    table = output[output.index("group") :].splitlines()
    assert table[1].split() == ["blur", "0.0000", "0.0000", "1", "1", "0"]
    assert table[2].split() == ["crop", "0.8333", "0.5000", "3", "2", "2"]
    assert (tmp_path / "out" / "c.png").read_bytes().startswith(PNG_SIGNATURE)


def test_isc_evaluate_descriptors(tmp_path, ground_truth_csv):
    # q_i sits on r_i for i = 1..3; q4 is far from everything: with k-factor 1 the 4 closest
    # pairs are the three copies plus one false pair.
    vectors = np.eye(4, dtype=np.float32) * 10
    query = vectors.copy()
    query[3] = [100, 100, 100, 100]
    formats.descriptors_write_h5(
        tmp_path / "sub.hdf5",
        query_ids=["q1", "q2", "q3", "q4"],
        query=query,
        reference_ids=["r1", "r2", "r3", "r4"],
        reference=vectors,
    )

    output = evaluate(
        "--ground-truth", str(ground_truth_csv), "--descriptors", str(tmp_path / "sub.hdf5"), "--k-factor", "1"
    )

    assert "Matching 4 queries against 4 references (4-d)" in output
    assert "4 predictions, 3 ground-truth pairs, 3 found" in output
    assert "µAP              1.0000" in output
    assert (tmp_path / "sub_pr.png").read_bytes().startswith(PNG_SIGNATURE)


def test_isc_evaluate_reports_missing_and_malformed_files(tmp_path, ground_truth_csv):
    duplicated = write_text(tmp_path / "dup.csv", "query_id,reference_id,score\nq1,r1,1\nq1,r1,2\n")
    wrong_header = write_text(tmp_path / "wrong.csv", "q,r,s\nq1,r1,1\n")

    with pytest.raises(CommandError, match="no such file"):
        evaluate("--ground-truth", str(tmp_path / "absent.csv"), "--predictions", str(duplicated))
    with pytest.raises(CommandError, match=r"dup\.csv:3: duplicate"):
        evaluate("--ground-truth", str(ground_truth_csv), "--predictions", str(duplicated))
    with pytest.raises(CommandError, match="expected header"):
        evaluate("--ground-truth", str(ground_truth_csv), "--predictions", str(wrong_header))
    with pytest.raises(CommandError, match="not a readable HDF5"):
        evaluate("--ground-truth", str(ground_truth_csv), "--descriptors", str(wrong_header))
    with pytest.raises(CommandError, match="one of the arguments"):
        evaluate("--ground-truth", str(ground_truth_csv))
