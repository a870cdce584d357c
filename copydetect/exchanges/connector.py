"""What each exchange module gives the fetch loop: the library's API object, ready to fetch, and how
to read its records."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from threatexchange.exchanges.signal_exchange_api import AnySignalExchangeAPI

from copydetect.exchanges.records import Rejected, Removal
from copydetect.hashlists.records import HashEntry

Converted = tuple[list[HashEntry], list[Removal], int, list[Rejected]]


class ExchangeConfigError(ValueError):
    """A bank's exchange settings or credentials that cannot work; the message says what to fix."""


@dataclass(frozen=True)
class Connector:
    api: AnySignalExchangeAPI
    convert: Callable[[Mapping[Any, Any]], Converted]
    # The exchange sends its whole list every time (no usable checkpoint): each fetch is a snapshot.
    always_snapshot: bool = False


def required(values: Mapping[str, Any], *names: str, what: str) -> list[str]:
    missing = [name for name in names if not str(values.get(name) or "").strip()]
    if missing:
        raise ExchangeConfigError(f"{what} needs {', '.join(missing)}")
    return [str(values[name]).strip() for name in names]
