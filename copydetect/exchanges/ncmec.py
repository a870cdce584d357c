"""NCMEC's hash sharing API (XML, v2), through threatexchange's `NCMECSignalExchangeAPI`.

NCMEC sends entries (an id per member, an image or a video, its fingerprints) and tombstones for
deleted ones; a record is keyed `<member id>-<entry id>`, which becomes the bank entry's external id,
and a tombstone removes every signal that entry carried. Image PDQ and image MD5 are taken (the
library's own conversion keeps only video MD5; an image's MD5 is what our uploads hash); PhotoDNA,
SHA-1 and video fingerprints are skipped. The library's checkpoint resumes mid-page for 12 hours,
then from the last completed time range.

The environment names one of NCMEC's databases (threatexchange's `NCMECEnvironment`, e.g.
`Industry`); `base_url` replaces its address, for a stand-in server.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from threatexchange.exchanges.clients.ncmec import hash_api as ncmec
from threatexchange.exchanges.impl.ncmec_api import NCMECCollabConfig, NCMECSignalExchangeAPI

from copydetect.exchanges.connector import Connector, Converted, ExchangeConfigError, required
from copydetect.exchanges.convert import tags_clean
from copydetect.exchanges.records import Rejected, Removal
from copydetect.hashlists.records import HashEntry
from copydetect.hashlists.signal_types import SignalRejected, SignalType, signal_normalise

# NCMEC's fingerprint element names (lower-cased) for images that we match on.
IMAGE_FINGERPRINTS = {"pdq": SignalType.PDQ, "md5": SignalType.MD5}


class _RelocatedHashAPI(ncmec.NCMECHashAPI):
    """The library's client talking to another address (the environment fixes the real ones)."""

    def __init__(self, username: str, password: str, environment: ncmec.NCMECEnvironment, base_url: str) -> None:
        super().__init__(username, password, environment)
        self._base_url = base_url.rstrip("/")


class NCMECExchange(NCMECSignalExchangeAPI):
    def __init__(self, collab: NCMECCollabConfig, username: str, password: str, base_url: str = "") -> None:
        super().__init__(collab, username, password)
        self._relocated = base_url

    def get_client(self, environment: ncmec.NCMECEnvironment) -> ncmec.NCMECHashAPI:
        if not self._relocated:
            return super().get_client(environment)
        return _RelocatedHashAPI(self._username, self._password, environment, self._relocated)


def ncmec_entries_convert(updates: Mapping[str, ncmec.NCMECEntryUpdate], *, only_esp_ids: frozenset[int]) -> Converted:
    additions: list[HashEntry] = []
    removals: list[Removal] = []
    rejected: list[Rejected] = []
    skipped = 0
    for key, entry in updates.items():
        if entry.deleted:
            removals.append(Removal(external_id=key))
            continue
        if only_esp_ids and entry.member_id not in only_esp_ids:
            skipped += 1
            continue
        tags = tags_clean([entry.classification] if entry.classification else [])
        for element, value in entry.fingerprints.items():
            signal_type = (
                IMAGE_FINGERPRINTS.get(element.lower()) if entry.entry_type is ncmec.NCMECEntryType.image else None
            )
            if signal_type is None:
                skipped += 1
                continue
            try:
                signal = signal_normalise(signal_type, value)
            except SignalRejected as problem:
                rejected.append(Rejected(signal_type=element, signal=value[:100], reason=str(problem)))
                continue
            additions.append(
                HashEntry(
                    signal_type=signal_type,
                    signal=signal,
                    external_id=key,
                    tags=tags,
                    source=f"ncmec:{entry.member_id}",
                    category="POSITIVE_CLASS",  # NCMEC has no false-positive status: every entry is reported
                )
            )
    return additions, removals, skipped, rejected


def ncmec_connector(
    *, name: str, config: Mapping[str, Any], credentials: Mapping[str, Any], base_url: str
) -> Connector:
    user, password = required(credentials, "user", "password", what="NCMEC")
    environment_name = str(config.get("environment") or "Industry")
    try:
        environment = ncmec.NCMECEnvironment[environment_name]
    except KeyError:
        known = ", ".join(member.name for member in ncmec.NCMECEnvironment)
        raise ExchangeConfigError(f"unknown NCMEC environment {environment_name!r} (known: {known})") from None
    try:
        only_esp_ids = frozenset(int(value) for value in config.get("only_esp_ids") or ())
    except (TypeError, ValueError):
        raise ExchangeConfigError("only_esp_ids must be numeric member ids") from None
    collab = NCMECCollabConfig(name=name, environment=environment, only_esp_ids=set(only_esp_ids))
    return Connector(
        api=NCMECExchange(collab, user, password, base_url),
        convert=lambda updates: ncmec_entries_convert(updates, only_esp_ids=only_esp_ids),
    )
