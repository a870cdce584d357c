"""Reading and writing CSV a row at a time, knowing the line each row begins on."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import NamedTuple


class CsvRow(NamedTuple):
    line_number: int  # where the row begins
    fields: list[str]
    raw: str  # the text of that line
    error: str = ""  # csv's complaint when the row could not be split; fields is then empty


def csv_rows(lines: Iterable[str]) -> Iterator[CsvRow]:
    """CSV rows with the line each begins on; a row csv cannot split comes back with `error` set, and
    reading goes on after it."""
    tracked = _LineTracker(lines)
    reader = csv.reader(tracked)
    while True:
        start = tracked.count + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            span = f"lines {start}-{tracked.count}" if tracked.count > start else f"line {start}"
            yield CsvRow(start, [], tracked.first_of_row(start), f"unreadable CSV ({error}; {span} skipped)")
            continue
        yield CsvRow(start, fields, tracked.first_of_row(start))


def csv_line(fields: Iterable[str]) -> str:
    return ",".join(_csv_field(field) for field in fields) + "\n"


def _csv_field(field: str) -> str:
    if any(c in field for c in ',"\r\n') or field != field.strip():
        return '"' + field.replace('"', '""') + '"'
    return field


class _LineTracker:
    """Counts the lines csv.reader pulls, and remembers the last few, so a row knows where it began."""

    def __init__(self, lines: Iterable[str]) -> None:
        self._lines = iter(lines)
        self.count = 0
        self.last = ""
        self._recent: dict[int, str] = {}

    def __iter__(self) -> _LineTracker:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.count += 1
        self.last = line
        self._recent[self.count] = line
        self._recent.pop(self.count - 64, None)
        return line

    def first_of_row(self, line_number: int) -> str:
        return self._recent.get(line_number, self.last)
