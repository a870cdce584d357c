"""Hash exchanges a bank can follow (ThreatExchange, NCMEC, StopNCII, TCAP, threatexchange's file
exchange), fetched through the `threatexchange` package's exchange classes. No Django.

`exchange_fetch(...)` gives an iterable of `ExchangeBatch`es: additions (hash-list entries), removals
(entries to disable, never delete), skipped and rejected records, and the checkpoint to store with the
batch so that the next run resumes after it.
"""

from copydetect.exchanges.connector import ExchangeConfigError
from copydetect.exchanges.fetch import ExchangeFetch, exchange_fetch
from copydetect.exchanges.records import ExchangeBatch, ExchangeKind, FetchCounts, Rejected, Removal

__all__ = [
    "ExchangeBatch",
    "ExchangeConfigError",
    "ExchangeFetch",
    "ExchangeKind",
    "FetchCounts",
    "Rejected",
    "Removal",
    "exchange_fetch",
]
