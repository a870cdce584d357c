"""Tech Against Terrorism's TCAP hash list, through threatexchange's TAT client and checkpoint.

threatexchange 1.2.17's TAT mapping keeps MD5 only for video files (mov, m4v, mp4, webm); for an
image platform the MD5s of images are the useful ones, so this fetch reads the same pages through the
library's client and keeps PDQ and the MD5 of every non-video file. A record marked `deleted` is a
removal. The checkpoint is TCAP's own `<timestamp>,<id>` of the last record read.

Two things about the 1.2.17 client a stand-in has to mirror: it asks for a token (`POST
token-auth/tcap/`) before every page, and it appends TCAP's `next` link (a full URL) after a `?`, so a
page's query string holds that URL too; only the `offset` inside it survives as a parameter.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from threatexchange.exchanges.clients.techagainstterrorism import api as tat
from threatexchange.exchanges.fetch_state import FetchDelta, FetchedSignalMetadata, SignalOpinion, SignalOpinionCategory
from threatexchange.exchanges.impl.techagainstterrorism_api import TATCheckpoint, TATSignalExchangeAPI

from copydetect.exchanges.connector import Connector, required
from copydetect.exchanges.convert import simple_updates_convert

VIDEO_FILE_TYPES = frozenset({"mov", "m4v", "mp4", "webm"})


class _RelocatedTATClient(tat.TATHashListAPI):
    def __init__(self, username: str, password: str, base_url: str) -> None:
        super().__init__(username, password)
        self.BASE_URL = base_url.rstrip("/") + "/"


@dataclass
class TCAPRecordMetadata(FetchedSignalMetadata):
    """A TCAP record's opinion: TCAP lists verified terrorist content, tagged with its ideology."""

    ideology: str

    def get_as_opinions(self) -> Sequence[SignalOpinion]:
        tags = {self.ideology} if self.ideology else set()
        return [SignalOpinion(False, SignalOpinionCategory.POSITIVE_CLASS, tags)]


class TCAPExchange(TATSignalExchangeAPI):
    def __init__(self, username: str, password: str, base_url: str = "") -> None:
        super().__init__(username, password)
        self._relocated = base_url

    def get_client(self) -> tat.TATHashListAPI:
        if not self._relocated:
            return super().get_client()
        return _RelocatedTATClient(self.username, self.password, self._relocated)

    def fetch_iter(
        self, _supported_signal_types: Sequence[Any], checkpoint: TATCheckpoint | None
    ) -> Iterator[FetchDelta]:
        client = self.get_client()
        for page in client.fetch_hashes_iter(checkpoint.checkpoint if checkpoint is not None else ""):
            updates: dict[tuple[str, str], FetchedSignalMetadata | None] = {}
            for record in page.results:
                type_name = _type_name(record)
                ideology = (
                    record.ideology.value if isinstance(record.ideology, tat.TATIdeology) else str(record.ideology)
                )
                updates[type_name, record.hash_digest] = None if record.deleted else TCAPRecordMetadata(ideology)
            yield FetchDelta(updates, TATCheckpoint(page.checkpoint) if page.checkpoint else checkpoint)


def _type_name(record: tat.TATHashListEntry) -> str:
    algorithm = str(record.algorithm).upper()
    if algorithm == "MD5" and str(record.file_type).lower() in VIDEO_FILE_TYPES:
        return "tcap_video_md5"  # not a type we hold: counted as skipped
    return algorithm.lower()


def tcap_connector(*, name: str, config: Mapping[str, Any], credentials: Mapping[str, Any], base_url: str) -> Connector:
    username, password = required(credentials, "username", "password", what="TCAP")
    return Connector(
        api=TCAPExchange(username, password, base_url),
        convert=lambda updates: simple_updates_convert(updates, source="tat:"),
    )
