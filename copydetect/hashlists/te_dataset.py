"""The threatexchange CLI's dataset CSV (`threatexchange dataset --print-signals --csv`).

Its writer (threatexchange 1.2.17, `cli/dataset_cmd.py`) is a `csv.DictWriter` with the header
`signal_type,signal_str,collab,category,tags`: the signal type's name, the signal, the
collaboration it was fetched from, the aggregate opinion's category (an
`AggregateSignalOpinionCategory` name) and the tags joined by spaces. A header is required on
reading (it tells this format apart); columns are found by name, so their order may differ.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from threatexchange.exchanges.fetch_state import AggregateSignalOpinionCategory

from copydetect.hashlists.csv_io import csv_line, csv_rows
from copydetect.hashlists.records import HashEntry, HashListItem, line_problem, tags_parse
from copydetect.hashlists.signal_types import (
    THREATEXCHANGE_NAMES,
    SignalRejected,
    SignalType,
    signal_normalise,
    signal_type_of_name,
)

TE_DATASET_HEADER = ("signal_type", "signal_str", "collab", "category", "tags")
TE_CATEGORIES = frozenset(category.name for category in AggregateSignalOpinionCategory)
_REQUIRED = ("signal_type", "signal_str")


def te_dataset_read(lines: Iterable[str], *, sscd_dimensions: int | None = None) -> Iterator[HashListItem]:
    columns: dict[str, int] | None = None
    width = 0
    for line_number, row, raw, error in csv_rows(lines):
        if error:
            yield line_problem(line_number, error, raw)
            continue
        if not any(field.strip() for field in row):
            continue
        if columns is None:
            names = [field.strip().lower() for field in row]
            if not all(name in names for name in _REQUIRED):
                yield line_problem(line_number, f"the first row must be the header {','.join(TE_DATASET_HEADER)}", raw)
                return  # without a header no later row can be read
            columns = {name: names.index(name) for name in TE_DATASET_HEADER if name in names}
            width = len(names)
            continue
        if len(row) != width:
            yield line_problem(line_number, f"{len(row)} columns, the header has {width}", raw)
            continue
        field = {name: row[index].strip() for name, index in columns.items()}
        try:
            signal_type = signal_type_of_name(field["signal_type"])
            category = field.get("category", "").upper()
            if category and category not in TE_CATEGORIES:
                raise ValueError(f"unknown category {field['category']!r} (known: {', '.join(sorted(TE_CATEGORIES))})")
            yield HashEntry(
                signal_type=signal_type,
                signal=signal_normalise(signal_type, field["signal_str"], sscd_dimensions=sscd_dimensions),
                tags=tags_parse(field.get("tags", "")),
                source=field.get("collab", ""),
                category=category,
                line_number=line_number,
            )
        except (SignalRejected, ValueError) as problem:
            yield line_problem(line_number, str(problem), raw)


def te_dataset_lines(
    entries: Iterable[HashEntry],
    *,
    collab: str,
    default_category: str = "POSITIVE_CLASS",
    names: dict[SignalType, str] = THREATEXCHANGE_NAMES,
) -> Iterator[str]:
    """The header and a row per entry; `collab` names the source where an entry has none (e.g. the bank)."""
    if default_category not in TE_CATEGORIES:
        raise ValueError(f"unknown category {default_category!r}")
    yield csv_line(TE_DATASET_HEADER)
    for entry in entries:
        category = entry.category or default_category
        yield csv_line((names[entry.signal_type], entry.signal, entry.source or collab, category, " ".join(entry.tags)))
