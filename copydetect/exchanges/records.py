"""What a fetch yields: batches of additions and removals, each with the checkpoint to resume after it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from copydetect.hashlists.records import HashEntry
from copydetect.hashlists.signal_types import SignalType


class ExchangeKind(StrEnum):
    """The exchanges a bank can follow; values are threatexchange's own API names (`get_name()`)."""

    THREATEXCHANGE = "fb_threatexchange"  # Meta's ThreatExchange (Graph API /threat_updates)
    NCMEC = "ncmec"  # NCMEC hash sharing (XML API v2)
    STOPNCII = "stop_ncii"  # StopNCII.org FetchHashes
    TCAP = "tat"  # Tech Against Terrorism's TCAP hash list
    LOCAL_FILE = "local_file"  # threatexchange's file exchange: a signal file on the worker's disk

    @property
    def source_prefix(self) -> str:
        """Every entry this exchange adds has a `source` starting with this (what a snapshot run checks)."""
        return f"{self.value}:"


@dataclass(frozen=True)
class Removal:
    """An entry removed upstream, named the way the exchange names it.

    Exchanges keyed by signal (ThreatExchange, StopNCII, TCAP, the local file) give `signal_type` and
    `signal`; NCMEC removes whole entries by id, so only `external_id` is set and every signal that
    entry carried goes.
    """

    external_id: str = ""
    signal_type: SignalType | None = None
    signal: str = ""


@dataclass(frozen=True)
class Rejected:
    """An upstream record of a type we hold whose signal is not valid (kept out, counted, shown)."""

    signal_type: str
    signal: str
    reason: str


@dataclass(frozen=True)
class ExchangeBatch:
    """One page of a fetch. Apply additions and removals in order, then store `checkpoint`: a fetch
    resumed from it continues right after this batch."""

    additions: tuple[HashEntry, ...]
    removals: tuple[Removal, ...]
    checkpoint: dict[str, Any]  # JSON-ready; `exchange_fetch(checkpoint=...)` takes it back
    # Upstream records of types this platform does not match on (video hashes, URLs, text, PhotoDNA).
    skipped: int = 0
    rejected: tuple[Rejected, ...] = ()
    # Up to when upstream data has been read, when the exchange says (Unix seconds).
    progress_timestamp: int | None = None


@dataclass
class FetchCounts:
    """Totals of a run, for the bank page and the job row."""

    batches: int = 0
    added: int = 0
    removed: int = 0
    skipped: int = 0
    rejected: int = 0
    rejected_examples: list[Rejected] = field(default_factory=list)

    def add(self, batch: ExchangeBatch, *, keep_examples: int = 20) -> None:
        self.batches += 1
        self.added += len(batch.additions)
        self.removed += len(batch.removals)
        self.skipped += batch.skipped
        self.rejected += len(batch.rejected)
        room = keep_examples - len(self.rejected_examples)
        if room > 0:
            self.rejected_examples.extend(batch.rejected[:room])
