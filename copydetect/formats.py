"""DISC21 file formats: matching-track CSVs, ground truth, descriptor-track HDF5.

Pure (numpy, h5py), no Django. Readers raise ValueError with the offending line or dataset so a
command can report it as is.

- predictions CSV: header `query_id,reference_id,score`, no duplicate pair;
- ground truth CSV: header `query_id,reference_id`, empty reference for queries without a match;
- groups CSV: header `query_id,group` (e.g. the edit family of each query);
- DrivenData descriptor submission: one HDF5, float32 `query` / `reference` (at most 256 dims),
  byte-string `query_ids` / `reference_ids`;
- facebookresearch/isc2021 scripts: `query_descriptors.hdf5` and `reference_descriptors.hdf5`, each
  with float32 `vectors` and ASCII byte-string `image_names`.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import h5py
import numpy as np

from copydetect.metrics import Prediction

PREDICTIONS_HEADER = ("query_id", "reference_id", "score")
GROUND_TRUTH_HEADER = ("query_id", "reference_id")
GROUPS_HEADER = ("query_id", "group")
MAX_SUBMISSION_DIMS = 256
ISC2021_QUERY_FILE = "query_descriptors.hdf5"
ISC2021_REFERENCE_FILE = "reference_descriptors.hdf5"

StrPath = str | PathLike[str]


@dataclass(frozen=True)
class Descriptors:
    query_ids: list[str]
    query: np.ndarray  # (n_queries, dims) float32
    reference_ids: list[str]
    reference: np.ndarray  # (n_references, dims) float32


# --- CSV -------------------------------------------------------------------------------------


def predictions_write_csv(path: StrPath, predictions: Iterable[Prediction]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(PREDICTIONS_HEADER)
        # repr() is the shortest text that reads back as the same float.
        writer.writerows((p.query_id, p.reference_id, repr(float(p.score))) for p in predictions)


def predictions_read_csv(path: StrPath) -> list[Prediction]:
    predictions: list[Prediction] = []
    line_of_pair: dict[tuple[str, str], int] = {}
    for line_number, (query_id, reference_id, score_text) in csv_rows(path, PREDICTIONS_HEADER):
        pair = (query_id, reference_id)
        if pair in line_of_pair:
            raise ValueError(
                f"{path}:{line_number}: duplicate prediction for {query_id},"
                f"{reference_id} (first on line {line_of_pair[pair]})"
            )
        line_of_pair[pair] = line_number
        predictions.append(Prediction(query_id, reference_id, score_parse(score_text, path, line_number)))
    return predictions


def score_parse(text: str, path: StrPath, line_number: int) -> float:
    try:
        score = float(text)
    except ValueError:
        raise ValueError(f"{path}:{line_number}: score {text!r} is not a number") from None
    if math.isnan(score):
        raise ValueError(f"{path}:{line_number}: score is NaN")
    return score


def ground_truth_read_csv(path: StrPath) -> list[tuple[str, str]]:
    """Rows as written, including those with an empty reference (queries with no match)."""
    # utf-8-sig: spreadsheets often prepend a byte-order mark.
    with open(path, newline="", encoding="utf-8-sig") as file:
        return ground_truth_rows(file, source=str(path))


def ground_truth_rows(lines: Iterable[str], *, source: str) -> list[tuple[str, str]]:
    """The one ground-truth parser: (query id, reference id) rows; the reference may be empty.

    ValueError, naming the source and line, for a wrong header, a wrong field count, an empty query
    id, a repeated row, or a query listed both with and without a reference.
    """
    rows: list[tuple[str, str]] = []
    line_of_row: dict[tuple[str, str], int] = {}
    with_reference: dict[str, int] = {}
    without_reference: dict[str, int] = {}
    try:
        for line_number, (query_id, reference_id) in csv_text_rows(lines, GROUND_TRUTH_HEADER, source=source):
            if not query_id:
                raise ValueError(f"{source}:{line_number}: empty query_id")
            row = (query_id, reference_id)
            if row in line_of_row:
                raise ValueError(
                    f"{source}:{line_number}: duplicate row {query_id},{reference_id} "
                    f"(first on line {line_of_row[row]})"
                )
            line_of_row[row] = line_number
            (with_reference if reference_id else without_reference).setdefault(query_id, line_number)
            if query_id in with_reference and query_id in without_reference:
                raise ValueError(
                    f"{source}:{line_number}: query {query_id} is listed both with and without a "
                    f"reference (lines {without_reference[query_id]} and {with_reference[query_id]})"
                )
            rows.append(row)
    except csv.Error as error:  # e.g. a field over the csv module's size limit
        raise ValueError(f"{source}: not a readable CSV file ({error})") from None
    return rows


def ground_truth_write_csv(path: StrPath, ground_truth: Iterable[tuple[str, str]]) -> None:
    csv_write(path, GROUND_TRUTH_HEADER, ground_truth)


def groups_read_csv(path: StrPath) -> dict[str, str]:
    """query_id → group name; a query listed twice is an error."""
    groups: dict[str, str] = {}
    for line_number, (query_id, group) in csv_rows(path, GROUPS_HEADER):
        if query_id in groups:
            raise ValueError(f"{path}:{line_number}: query {query_id} listed twice")
        groups[query_id] = group
    return groups


def groups_write_csv(path: StrPath, groups: dict[str, str]) -> None:
    csv_write(path, GROUPS_HEADER, groups.items())


def csv_write(path: StrPath, header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def csv_rows(path: StrPath, header: Sequence[str]) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of each data row after checking the header; blank lines skipped."""
    # utf-8-sig: spreadsheets often prepend a byte-order mark.
    with open(path, newline="", encoding="utf-8-sig") as file:
        yield from csv_text_rows(file, header, source=str(path))


def csv_text_rows(lines: Iterable[str], header: Sequence[str], *, source: str) -> Iterator[tuple[int, list[str]]]:
    """`csv_rows` over text already open (an upload, say); `source` names it in errors."""
    reader = csv.reader(lines)
    first = next(reader, None)
    if first is None or [field.strip() for field in first] != list(header):
        raise ValueError(
            f"{source}:1: expected header {','.join(header)}, got {','.join(first) if first else 'an empty file'}"
        )
    for fields in reader:
        if not fields:
            continue
        if len(fields) != len(header):
            raise ValueError(
                f"{source}:{reader.line_num}: expected {len(header)} fields ({','.join(header)}), got {len(fields)}"
            )
        yield reader.line_num, [field.strip() for field in fields]


# --- HDF5 ------------------------------------------------------------------------------------


def descriptors_write_h5(
    path: StrPath, *, query_ids: Sequence[str], query: np.ndarray, reference_ids: Sequence[str], reference: np.ndarray
) -> None:
    """DrivenData's descriptor-track submission file."""
    query = descriptor_matrix(query, query_ids, "query")
    reference = descriptor_matrix(reference, reference_ids, "reference")
    dimensions_check(query, reference)
    if query.shape[1] > MAX_SUBMISSION_DIMS:
        raise ValueError(
            f"descriptors have {query.shape[1]} dimensions, the track allows at most {MAX_SUBMISSION_DIMS}"
        )
    with h5py.File(path, "w") as file:
        file.create_dataset("query", data=query)
        file.create_dataset("reference", data=reference)
        file.create_dataset("query_ids", data=ids_encode(query_ids))
        file.create_dataset("reference_ids", data=ids_encode(reference_ids))


def descriptors_read_h5(path: StrPath) -> Descriptors:
    with hdf5_open(path) as file:
        query, query_ids = dataset_pair(file, path, "query", "query_ids")
        reference, reference_ids = dataset_pair(file, path, "reference", "reference_ids")
    dimensions_check(query, reference)
    return Descriptors(query_ids, query, reference_ids, reference)


def descriptors_write_isc2021(
    directory: StrPath,
    *,
    query_ids: Sequence[str],
    query: np.ndarray,
    reference_ids: Sequence[str],
    reference: np.ndarray,
) -> None:
    """The two files facebookresearch/isc2021's scripts read (no dimension limit: 512-d SSCD
    descriptors were evaluated this way)."""
    query = descriptor_matrix(query, query_ids, "query")
    reference = descriptor_matrix(reference, reference_ids, "reference")
    dimensions_check(query, reference)
    Path(directory).mkdir(parents=True, exist_ok=True)
    vectors_file_write(Path(directory) / ISC2021_QUERY_FILE, query_ids, query)
    vectors_file_write(Path(directory) / ISC2021_REFERENCE_FILE, reference_ids, reference)


def descriptors_read_isc2021(directory: StrPath) -> Descriptors:
    query_ids, query = vectors_file_read(Path(directory) / ISC2021_QUERY_FILE)
    reference_ids, reference = vectors_file_read(Path(directory) / ISC2021_REFERENCE_FILE)
    dimensions_check(query, reference)
    return Descriptors(query_ids, query, reference_ids, reference)


def vectors_file_write(path: Path, image_names: Sequence[str], vectors: np.ndarray) -> None:
    with h5py.File(path, "w") as file:
        file.create_dataset("vectors", data=vectors)
        file.create_dataset("image_names", data=ids_encode(image_names))


def vectors_file_read(path: Path) -> tuple[list[str], np.ndarray]:
    with hdf5_open(path) as file:
        vectors, image_names = dataset_pair(file, path, "vectors", "image_names")
    return image_names, vectors


def descriptor_matrix(vectors: np.ndarray, ids: Sequence[str], name: str) -> np.ndarray:
    matrix = np.ascontiguousarray(vectors, dtype=np.float32)
    if matrix.ndim != 2:
        raise ValueError(f"{name} descriptors must be 2-D, got shape {matrix.shape}")
    if len(matrix) != len(ids):
        raise ValueError(f"{name}: {len(matrix)} descriptors for {len(ids)} ids")
    if len(set(ids)) != len(ids):
        raise ValueError(f"{name} ids contain duplicates")
    return matrix


def dimensions_check(query: np.ndarray, reference: np.ndarray) -> None:
    if query.shape[1] != reference.shape[1]:
        raise ValueError(
            f"query descriptors have {query.shape[1]} dimensions, reference descriptors {reference.shape[1]}"
        )


def ids_encode(ids: Sequence[str]) -> np.ndarray:
    """Fixed-length ASCII byte strings, as the challenge's scripts write them (HDF5 tools handle
    these more reliably than variable-length unicode)."""
    try:
        return np.array([image_id.encode("ascii") for image_id in ids], dtype=np.bytes_)
    except UnicodeEncodeError as error:
        raise ValueError(f"image ids must be ASCII: {error.object!r}") from None


def ids_decode(values: np.ndarray) -> list[str]:
    return [value.decode("ascii") if isinstance(value, bytes) else str(value) for value in values]


def hdf5_open(path: StrPath) -> h5py.File:
    try:
        return h5py.File(path, "r")
    except OSError as error:
        raise ValueError(f"{path}: not a readable HDF5 file ({error})") from None


def dataset_pair(file: h5py.File, path: StrPath, vectors_name: str, ids_name: str) -> tuple[np.ndarray, list[str]]:
    missing = [name for name in (vectors_name, ids_name) if name not in file]
    if missing:
        raise ValueError(
            f"{path}: missing dataset(s) {', '.join(missing)}; has {', '.join(sorted(file.keys())) or 'none'}"
        )
    vectors = np.asarray(file[vectors_name][()], dtype=np.float32)
    ids = ids_decode(file[ids_name][()])
    if vectors.ndim != 2 or len(vectors) != len(ids):
        raise ValueError(f"{path}: {vectors_name} has shape {vectors.shape} for {len(ids)} {ids_name}")
    return vectors, ids
