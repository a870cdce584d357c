"""Meta's ThreatExchange: a privacy group's `/threat_updates` stream, through threatexchange's
`FBThreatExchangeSignalExchangeAPI`.

Records are keyed `(indicator type, indicator)`; a tombstone (`should_delete`, or a record whose
descriptors are no longer visible) arrives as a removal. The checkpoint is the newest update time
read; ThreatExchange keeps tombstones 90 days, so the library calls a checkpoint older than 85 days
stale and the next fetch starts over as a snapshot.

threatexchange 1.2.17 reads every page with a bare `requests.get` (no timeout, no retry; its own
comment flags it): the caller bounds a run's time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from threatexchange.exchanges.clients.fb_threatexchange.api import ThreatExchangeAPI, is_valid_app_token
from threatexchange.exchanges.impl.fb_threatexchange_api import (
    FBThreatExchangeCollabConfig,
    FBThreatExchangeSignalExchangeAPI,
)

from copydetect.exchanges.connector import Connector, ExchangeConfigError, required
from copydetect.exchanges.convert import simple_updates_convert


def threatexchange_connector(
    *, name: str, config: Mapping[str, Any], credentials: Mapping[str, Any], base_url: str
) -> Connector:
    (token,) = required(credentials, "api_token", what="ThreatExchange")
    if not is_valid_app_token(token):
        raise ExchangeConfigError("a ThreatExchange token looks like <app id>|<secret>")
    try:
        privacy_group = int(config.get("privacy_group") or 0)
    except (TypeError, ValueError):
        privacy_group = 0
    if privacy_group <= 0:
        raise ExchangeConfigError("ThreatExchange needs the privacy group's numeric id")
    client = ThreatExchangeAPI(token, endpoint_override=base_url.rstrip("/") or None)
    collab = FBThreatExchangeCollabConfig(name=name, privacy_group=privacy_group)
    return Connector(
        api=FBThreatExchangeSignalExchangeAPI(client, collab),
        convert=lambda updates: simple_updates_convert(updates, source=f"fb_threatexchange:{privacy_group}"),
    )
