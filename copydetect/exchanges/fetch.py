"""One fetch of one bank's exchange: from a stored checkpoint to the batches that follow it.

The caller (a worker task) applies each batch and stores its checkpoint in the same transaction, and
may stop after any batch (a time or size budget): the next run resumes from the last stored
checkpoint. A run that starts without a usable checkpoint (the first, or one the library calls
stale) or from an exchange that always sends everything is a snapshot: once it has run to the end,
whatever the bank holds from this exchange that the run did not bring back was removed upstream.

Credentials are always passed in; the library's own search for them (environment variables, files in
the home directory) is never reached.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

import dacite
from threatexchange.exchanges.fetch_state import FetchCheckpointBase
from threatexchange.signal_type.md5 import VideoMD5Signal
from threatexchange.signal_type.pdq.signal import PdqSignal

from copydetect.exchanges.connector import Connector, ExchangeConfigError
from copydetect.exchanges.local_file import local_file_connector
from copydetect.exchanges.ncmec import ncmec_connector
from copydetect.exchanges.records import ExchangeBatch, ExchangeKind
from copydetect.exchanges.stopncii import stopncii_connector
from copydetect.exchanges.tcap import tcap_connector
from copydetect.exchanges.threatexchange_graph import threatexchange_connector

# The library's signal types we ask for (its file MD5 type is named video_md5).
LIBRARY_SIGNAL_TYPES = (PdqSignal, VideoMD5Signal)

_CONNECTORS = {
    ExchangeKind.THREATEXCHANGE: threatexchange_connector,
    ExchangeKind.NCMEC: ncmec_connector,
    ExchangeKind.STOPNCII: stopncii_connector,
    ExchangeKind.TCAP: tcap_connector,
    ExchangeKind.LOCAL_FILE: local_file_connector,
}


class ExchangeFetch:
    """Iterate for batches; `snapshot` says whether the run, once complete, lists everything upstream."""

    def __init__(self, connector: Connector, checkpoint: FetchCheckpointBase | None) -> None:
        self._connector = connector
        self._checkpoint = checkpoint
        self.snapshot = connector.always_snapshot or checkpoint is None

    def __iter__(self) -> Iterator[ExchangeBatch]:
        for delta in self._connector.api.fetch_iter(LIBRARY_SIGNAL_TYPES, self._checkpoint):
            additions, removals, skipped, rejected = self._connector.convert(delta.updates)
            checkpoint = delta.checkpoint
            yield ExchangeBatch(
                additions=tuple(additions),
                removals=tuple(removals),
                checkpoint=checkpoint_dump(checkpoint),
                skipped=skipped,
                rejected=tuple(rejected),
                progress_timestamp=checkpoint.get_progress_timestamp() if checkpoint is not None else None,
            )


def exchange_fetch(
    *,
    kind: ExchangeKind | str,
    name: str,
    config: Mapping[str, Any],
    credentials: Mapping[str, Any],
    checkpoint: Mapping[str, Any] | None,
    base_url: str = "",
) -> ExchangeFetch:
    """`name` names the collaboration (the bank); `base_url` replaces the exchange's address (a
    stand-in server, a proxy); an empty one keeps the library's."""
    try:
        kind = ExchangeKind(kind)
    except ValueError:
        known = ", ".join(member.value for member in ExchangeKind)
        raise ExchangeConfigError(f"unknown exchange {kind!r} (known: {known})") from None
    connector = _CONNECTORS[kind](name=name, config=config, credentials=credentials, base_url=base_url)
    return ExchangeFetch(connector, checkpoint_load(connector, checkpoint))


def checkpoint_dump(checkpoint: FetchCheckpointBase | None) -> dict[str, Any]:
    return dataclasses.asdict(checkpoint) if checkpoint is not None and dataclasses.is_dataclass(checkpoint) else {}


def checkpoint_load(connector: Connector, stored: Mapping[str, Any] | None) -> FetchCheckpointBase | None:
    """The library's checkpoint from what `checkpoint_dump` stored; None (start over) when there is
    none, it no longer reads, or the library calls it stale."""
    if not stored or connector.always_snapshot:
        return None
    try:
        checkpoint = dacite.from_dict(connector.api.get_checkpoint_cls(), dict(stored))
    except (dacite.DaciteError, TypeError, ValueError):
        return None
    return None if checkpoint.is_stale() else checkpoint
