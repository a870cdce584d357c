"""What a hash-list reader yields: an entry per good line, a problem per bad one (never an exception)."""

from __future__ import annotations

from dataclasses import dataclass

from copydetect.hashlists.signal_types import SignalType

MAX_EXTERNAL_ID = 255
MAX_TAG = 100
MAX_TAGS = 50


@dataclass(frozen=True)
class HashEntry:
    signal_type: SignalType
    signal: str  # canonical text (signal_types.signal_normalise)
    external_id: str = ""
    tags: tuple[str, ...] = ()
    source: str = ""  # where the list says it came from (the dataset CSV's collaboration)
    # The list's opinion when it has one (threatexchange's AggregateSignalOpinionCategory name, e.g.
    # POSITIVE_CLASS; NEGATIVE_CLASS marks known false positives); "" when the format has none.
    category: str = ""
    line_number: int = 0


@dataclass(frozen=True)
class LineProblem:
    line_number: int
    reason: str
    text: str  # the start of the offending line, to show beside the reason


HashListItem = HashEntry | LineProblem


def line_problem(line_number: int, reason: str, text: str) -> LineProblem:
    shown = text.rstrip("\r\n")
    return LineProblem(line_number=line_number, reason=reason, text=shown if len(shown) <= 120 else shown[:120] + "…")


def tags_parse(text: str) -> tuple[str, ...]:
    """Tags separated by spaces or commas, first occurrence kept; ValueError when one is unusable."""
    tags: list[str] = []
    for tag in text.replace(",", " ").split():
        if len(tag) > MAX_TAG:
            raise ValueError(f"tag longer than {MAX_TAG} characters")
        if not tag.isprintable():
            raise ValueError("tag with a control character")
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise ValueError(f"more than {MAX_TAGS} tags")
    return tuple(tags)


def external_id_check(text: str) -> str:
    text = text.strip()
    if len(text) > MAX_EXTERNAL_ID:
        raise ValueError(f"external id longer than {MAX_EXTERNAL_ID} characters")
    if not text.isprintable():
        raise ValueError("external id with a control character")
    return text
