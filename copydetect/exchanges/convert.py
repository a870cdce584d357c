"""Turning threatexchange's fetched records into bank entries and removals.

Most exchanges key a record by `(signal type name, signal)` and send `None` for a record removed
upstream (threatexchange's `SignalExchangeAPIWithSimpleUpdates`); `simple_updates_convert` handles
those. Signal type names are read through the hash lists' aliases (`pdq`, `video_md5`, ThreatExchange's
`HASH_PDQ` / `HASH_MD5`), so an exchange's file MD5 lands in the same `md5` entries our uploads hash.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from threatexchange.exchanges.fetch_state import FetchedSignalMetadata

from copydetect.exchanges.records import Rejected, Removal
from copydetect.hashlists.records import MAX_TAG, MAX_TAGS, HashEntry
from copydetect.hashlists.signal_types import SignalRejected, SignalType, signal_normalise, signal_type_of_name

# An exchange's SSCD vectors would come from whatever model it ran, not ours: only hashes are taken.
FETCHED_TYPES = (SignalType.PDQ, SignalType.MD5)


def signal_type_of_exchange(name: str) -> SignalType | None:
    """Our signal type for an exchange's type name, None for types we do not match on."""
    try:
        signal_type = signal_type_of_name(name)
    except SignalRejected:
        return None
    return signal_type if signal_type in FETCHED_TYPES else None


def simple_updates_convert(
    updates: Mapping[tuple[str, str], FetchedSignalMetadata | None], *, source: str
) -> tuple[list[HashEntry], list[Removal], int, list[Rejected]]:
    additions: list[HashEntry] = []
    removals: list[Removal] = []
    rejected: list[Rejected] = []
    skipped = 0
    for (type_name, raw_signal), metadata in updates.items():
        signal_type = signal_type_of_exchange(type_name)
        if signal_type is None:
            skipped += 1
            continue
        try:
            signal = signal_normalise(signal_type, raw_signal)
        except SignalRejected as problem:
            rejected.append(Rejected(signal_type=type_name, signal=raw_signal[:100], reason=str(problem)))
            continue
        if metadata is None:
            removals.append(Removal(signal_type=signal_type, signal=signal))
            continue
        category, tags = opinion_of(metadata)
        additions.append(HashEntry(signal_type=signal_type, signal=signal, tags=tags, source=source, category=category))
    return additions, removals, skipped, rejected


def opinion_of(metadata: FetchedSignalMetadata) -> tuple[str, tuple[str, ...]]:
    """The aggregate opinion's category name and its tags (sorted, cut to what an entry holds)."""
    opinion = metadata.get_as_aggregate_opinion()
    return opinion.category.name, tags_clean(opinion.tags)


def tags_clean(tags: Any) -> tuple[str, ...]:
    cleaned = sorted({str(tag).strip() for tag in tags or () if str(tag).strip()})
    return tuple(tag[:MAX_TAG] for tag in cleaned if tag.isprintable())[:MAX_TAGS]
