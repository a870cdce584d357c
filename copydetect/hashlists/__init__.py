"""Hash lists in and out: threatexchange's local file, the platform's CSV, threatexchange's dataset CSV.

Readers take lines (a text file opened with `hashlist_open`, an upload wrapped in a text stream, a
list) and yield a `HashEntry` per good line and a `LineProblem` (line number, reason) per bad one, one
line at a time, so a file of any size needs no memory. Writers yield lines for the same formats.
Duplicates are not looked for here: a bank's unique key finds them. No Django.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from enum import StrEnum
from os import PathLike
from typing import TextIO

from copydetect.hashlists.local_file import local_file_lines, local_file_read
from copydetect.hashlists.records import HashEntry, HashListItem, LineProblem
from copydetect.hashlists.signal_types import (
    SignalRejected,
    SignalType,
    signal_normalise,
    sscd_signal_of,
    sscd_vector_of,
)
from copydetect.hashlists.simple_csv import SIMPLE_CSV_HEADER, simple_csv_lines, simple_csv_read
from copydetect.hashlists.te_dataset import TE_DATASET_HEADER, te_dataset_lines, te_dataset_read

__all__ = [
    "SIMPLE_CSV_HEADER",
    "TE_DATASET_HEADER",
    "HashEntry",
    "HashListFormat",
    "HashListItem",
    "LineProblem",
    "SignalRejected",
    "SignalType",
    "hashlist_format_guess",
    "hashlist_lines",
    "hashlist_open",
    "hashlist_read",
    "signal_normalise",
    "sscd_signal_of",
    "sscd_vector_of",
]


class HashListFormat(StrEnum):
    LOCAL_FILE = "te_local"  # threatexchange's local file: `pdq <hex>` or a bare signal per line
    CSV = "csv"  # signal_type,signal,external_id,tags
    TE_DATASET = "te_dataset"  # signal_type,signal_str,collab,category,tags


def hashlist_open(path: str | PathLike[str]) -> TextIO:
    """A file opened for the readers: UTF-8 with or without a BOM; undecodable bytes become U+FFFD, so
    the line holding them is reported instead of the whole read failing."""
    return open(path, encoding="utf-8-sig", errors="replace", newline="")


def hashlist_format_guess(first_line: str) -> HashListFormat:
    """The format a file is in, from its first line: the two CSV headers, else the local file."""
    names = [name.strip().lower() for name in first_line.strip().lstrip("\ufeff").split(",")]
    if "signal_str" in names and "signal_type" in names:
        return HashListFormat.TE_DATASET
    if names[:2] == list(SIMPLE_CSV_HEADER[:2]):
        return HashListFormat.CSV
    return HashListFormat.LOCAL_FILE


def hashlist_read(
    lines: Iterable[str],
    *,
    format: HashListFormat,
    default_signal_type: SignalType | None = None,
    sscd_dimensions: int | None = None,
) -> Iterator[HashListItem]:
    """`default_signal_type` applies to bare signals of the local file; `sscd_dimensions` is the length
    an SSCD signal must have (the live model's)."""
    if format is HashListFormat.LOCAL_FILE:
        return local_file_read(lines, default_signal_type=default_signal_type, sscd_dimensions=sscd_dimensions)
    if format is HashListFormat.CSV:
        return simple_csv_read(lines, sscd_dimensions=sscd_dimensions)
    return te_dataset_read(lines, sscd_dimensions=sscd_dimensions)


def hashlist_lines(entries: Iterable[HashEntry], *, format: HashListFormat, collab: str = "") -> Iterator[str]:
    """Lines of `entries` in `format`; `collab` fills the dataset CSV's collab column (e.g. the bank name)."""
    if format is HashListFormat.LOCAL_FILE:
        return local_file_lines(entries)
    if format is HashListFormat.CSV:
        return simple_csv_lines(entries)
    return te_dataset_lines(entries, collab=collab)
