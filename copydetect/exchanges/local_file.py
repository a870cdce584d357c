"""threatexchange's file exchange (`LocalFileSignalExchangeAPI`): a signal file re-read whole each fetch.

The file holds `<signal type> <signal>` lines, or bare signals read as the configured `signal_type`
(threatexchange's rule: with a configured type every line is a bare signal). It has no checkpoint, so
every fetch is a snapshot: what the file no longer lists has been removed upstream.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from threatexchange.exchanges.impl.file_api import FileCollaborationConfig, LocalFileSignalExchangeAPI

from copydetect.exchanges.connector import Connector, ExchangeConfigError
from copydetect.exchanges.convert import simple_updates_convert


def local_file_connector(
    *, name: str, config: Mapping[str, Any], credentials: Mapping[str, Any], base_url: str
) -> Connector:
    filename = str(config.get("filename") or "")
    if not filename:
        raise ExchangeConfigError("the file exchange needs `filename`")
    signal_type = config.get("signal_type") or None
    collab = FileCollaborationConfig(name=name, filename=filename, signal_type=signal_type)
    return Connector(
        api=LocalFileSignalExchangeAPI.for_collab(collab),
        convert=lambda updates: simple_updates_convert(updates, source=f"local_file:{name}"),
        always_snapshot=True,
    )
