"""StopNCII.org's FetchHashes, through threatexchange's StopNCII client and checkpoint.

threatexchange 1.2.17 never removes a StopNCII hash: its record mapping tests
`record.hashValue in (Withdrawn, Deleted)` - the hash text against case statuses, which is never
true - so withdrawn and deleted cases come back as live hashes. This fetch reads the same pages
through the library's client and takes a record whose aggregate `hashStatus` is Withdrawn or
Deleted as a removal. StopNCII carries image PDQ (and video MD5, which is skipped).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from threatexchange.exchanges.clients.stopncii import api as stopncii
from threatexchange.exchanges.collab_config import CollaborationConfigBase
from threatexchange.exchanges.fetch_state import FetchDelta
from threatexchange.exchanges.impl.stop_ncii_api import (
    StopNCIICheckpoint,
    StopNCIICredentials,
    StopNCIISignalExchangeAPI,
    StopNCIISignalMetadata,
)

from copydetect.exchanges.connector import Connector, required
from copydetect.exchanges.convert import simple_updates_convert

REMOVED_STATUSES = (stopncii.StopNCIICaseStatus.Withdrawn, stopncii.StopNCIICaseStatus.Deleted)
_TYPE_NAMES = {stopncii.StopNCIISignalType.ImagePDQ: "pdq"}


class StopNCIIExchange(StopNCIISignalExchangeAPI):
    @classmethod
    def get_name(cls) -> str:
        return StopNCIISignalExchangeAPI.get_name()

    def fetch_iter(
        self, _supported_signal_types: Sequence[Any], checkpoint: StopNCIICheckpoint | None
    ) -> Iterator[FetchDelta]:
        start = checkpoint.update_time if checkpoint is not None else stopncii.StopNCIIAPI.DEFAULT_START_TIME
        for page in self.api.fetch_hashes_iter(start_timestamp=start):
            updates: dict[tuple[str, str], StopNCIISignalMetadata | None] = {}
            for record in page.hashRecords:
                type_name = _TYPE_NAMES.get(record.signalType, record.signalType.value)
                removed = record.hashStatus in REMOVED_STATUSES
                updates[type_name, record.hashValue] = None if removed else StopNCIISignalMetadata(record.CSPFeedbacks)
            # StopNCII documents `nextSetTimestamp` as the checkpoint to keep, not whether it already holds
            # in the middle of a set of pages; a stand-in where it is the whole set's newest time lost
            # pages when a run stopped mid-set. So mid-set pages keep the start: a run stopped there
            # reads the set again (harmless, records replace themselves).
            checkpoint = (
                StopNCIICheckpoint(start, int(time.time()))
                if page.hasMoreRecords
                else StopNCIICheckpoint.from_stopncii_fetch(page)
            )
            yield FetchDelta(updates, checkpoint)


def stopncii_connector(
    *, name: str, config: Mapping[str, Any], credentials: Mapping[str, Any], base_url: str
) -> Connector:
    fetch_key, subscription_key = required(credentials, "fetch_function_key", "subscription_key", what="StopNCII")
    creds = StopNCIICredentials(
        fetch_function_key=fetch_key, subscription_key=subscription_key, base_url_override=base_url.rstrip("/") or None
    )
    collab = CollaborationConfigBase(name=name, api=StopNCIIExchange.get_name(), enabled=True)
    return Connector(
        api=StopNCIIExchange.for_collab(collab, creds),
        convert=lambda updates: simple_updates_convert(updates, source="stop_ncii:"),
    )
