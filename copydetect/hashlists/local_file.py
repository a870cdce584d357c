"""threatexchange's local-file format (`LocalFileSignalExchangeAPI`): one signal per line.

A line is `<signal type> <signal>` (split at the first space, as threatexchange does) or a bare
signal. threatexchange reads a bare signal as the collaboration's configured type; here the caller's
`default_signal_type` plays that part, and without one the type is taken from the signal's shape
(64 hex: PDQ, 32 hex: MD5, a JSON array: SSCD). Blank lines are skipped, and so are lines starting
with `#` (threatexchange would read them as an unknown type and ignore them too).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from copydetect.hashlists.records import HashEntry, HashListItem, line_problem
from copydetect.hashlists.signal_types import (
    THREATEXCHANGE_NAMES,
    SignalRejected,
    SignalType,
    signal_normalise,
    signal_type_guess,
    signal_type_of_name,
)


def local_file_read(
    lines: Iterable[str], *, default_signal_type: SignalType | None = None, sscd_dimensions: int | None = None
) -> Iterator[HashListItem]:
    for line_number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            signal_type, signal = _split(text, default_signal_type)
            yield HashEntry(
                signal_type=signal_type,
                signal=signal_normalise(signal_type, signal, sscd_dimensions=sscd_dimensions),
                line_number=line_number,
            )
        except SignalRejected as problem:
            yield line_problem(line_number, str(problem), line)


def local_file_lines(
    entries: Iterable[HashEntry], *, names: dict[SignalType, str] = THREATEXCHANGE_NAMES
) -> Iterator[str]:
    """Lines (with their newline) of `entries` in this format; external ids and tags have no place in it."""
    for entry in entries:
        yield f"{names[entry.signal_type]} {entry.signal}\n"


def _split(text: str, default_signal_type: SignalType | None) -> tuple[SignalType, str]:
    if text.startswith("["):  # a bare SSCD array may hold spaces of its own
        return SignalType.SSCD, text
    name, _, rest = text.partition(" ")
    if rest.strip():
        return signal_type_of_name(name), rest
    if default_signal_type is not None:
        return default_signal_type, text
    guessed = signal_type_guess(text)
    if guessed is None:
        raise SignalRejected("a bare signal that is neither 64 hex (PDQ), 32 hex (MD5) nor a JSON array (SSCD)")
    return guessed, text
