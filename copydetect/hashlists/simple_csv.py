"""The platform's own hash-list CSV: `signal_type,signal,external_id,tags`.

The header row is optional on reading and always written. `external_id` and `tags` may be left out
of a row; tags are separated by spaces (commas also read). Types use the names of
`signal_types.SIGNAL_TYPE_ALIASES`; an SSCD signal is its JSON array in one quoted field.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from copydetect.hashlists.csv_io import csv_line, csv_rows
from copydetect.hashlists.records import (
    HashEntry,
    HashListItem,
    external_id_check,
    line_problem,
    tags_parse,
)
from copydetect.hashlists.signal_types import (
    OWN_NAMES,
    SignalRejected,
    SignalType,
    signal_normalise,
    signal_type_of_name,
)

SIMPLE_CSV_HEADER = ("signal_type", "signal", "external_id", "tags")


def simple_csv_read(lines: Iterable[str], *, sscd_dimensions: int | None = None) -> Iterator[HashListItem]:
    for line_number, row, raw, error in csv_rows(lines):
        if error:
            yield line_problem(line_number, error, raw)
            continue
        if not any(field.strip() for field in row):
            continue
        if line_number == 1 and [field.strip().lower() for field in row] == list(SIMPLE_CSV_HEADER[: len(row)]):
            continue
        if len(row) < 2:
            yield line_problem(line_number, "expected signal_type,signal[,external_id[,tags]]", raw)
            continue
        if len(row) > len(SIMPLE_CSV_HEADER):
            yield line_problem(line_number, f"{len(row)} columns, at most {len(SIMPLE_CSV_HEADER)} expected", raw)
            continue
        type_name, signal, external_id, tags = (row + ["", ""])[:4]
        try:
            signal_type = signal_type_of_name(type_name)
            yield HashEntry(
                signal_type=signal_type,
                signal=signal_normalise(signal_type, signal, sscd_dimensions=sscd_dimensions),
                external_id=external_id_check(external_id),
                tags=tags_parse(tags),
                line_number=line_number,
            )
        except (SignalRejected, ValueError) as problem:
            yield line_problem(line_number, str(problem), raw)


def simple_csv_lines(entries: Iterable[HashEntry], *, names: dict[SignalType, str] = OWN_NAMES) -> Iterator[str]:
    yield csv_line(SIMPLE_CSV_HEADER)
    for entry in entries:
        yield csv_line((names[entry.signal_type], entry.signal, entry.external_id, " ".join(entry.tags)))
