"""Meta ThreatExchange's `GET /<privacy group>/threat_updates/` (Graph API), as documented at
developers.facebook.com/docs/threat-exchange/reference/apis/threat-updates: an access token, a
`start_time`, a page `limit`; `data` holds each indicator's latest state since then (oldest first)
with `should_delete` tombstones, `paging.next` the next page's full URL. A bad token gets Graph's
400 OAuthException."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from tests.exchange_standins.server import Reply, Request, StandInServer

APP_ID = 1234567890
TOKEN = f"{APP_ID}|abcdefghijklmnopqrstuvwxyz012345"
OTHER_APP = 987654321


class ThreatExchangeStandIn(StandInServer):
    def __init__(self, *, privacy_group: int = 1012185296055235, token: str = TOKEN) -> None:
        super().__init__()
        self.privacy_group = privacy_group
        self.token = token
        self.updates: dict[str, dict] = {}  # indicator id -> its latest state

    @property
    def base_url(self) -> str:
        return f"{self.root}/v26.0"

    def indicator_put(
        self, indicator_id: str, *, type: str, indicator: str, time: int, tags=(), status: str = "MALICIOUS"
    ) -> None:
        descriptor = {
            "id": str(int(indicator_id) * 10),
            "owner": {"id": str(OTHER_APP)},
            "status": status,
            "tags": {"data": [{"text": tag} for tag in tags]},
            "reactions": [],
        }
        self.updates[indicator_id] = {
            "id": indicator_id,
            "indicator": indicator,
            "type": type,
            "last_updated": time,
            "should_delete": False,
            "descriptors": {"data": [descriptor]},
        }

    def indicator_delete(self, indicator_id: str, *, time: int) -> None:
        old = self.updates[indicator_id]
        self.updates[indicator_id] = {
            "id": indicator_id,
            "indicator": old["indicator"],
            "type": old["type"],
            "last_updated": time,
            "should_delete": True,
        }

    def answer(self, request: Request) -> Reply:
        if request.path.rstrip("/") != f"/v26.0/{self.privacy_group}/threat_updates":
            return _error(404, "Unknown path components", 2500)
        if request.arg("access_token") != self.token:
            return _error(400, "Invalid OAuth access token.", 190)
        start = int(request.arg("start_time") or 0)
        limit = int(request.arg("limit") or 25)
        offset = int(request.arg("after") or 0)
        rows = sorted(
            (row for row in self.updates.values() if row["last_updated"] >= start),
            key=lambda row: (row["last_updated"], row["id"]),
        )
        page = rows[offset : offset + limit]
        body: dict = {"data": page, "paging": {"cursors": {"before": str(offset), "after": str(offset + len(page))}}}
        if offset + limit < len(rows):
            query = {
                "access_token": self.token,
                "start_time": start,
                "limit": limit,
                "fields": request.arg("fields"),
                "after": offset + limit,
            }
            body["paging"]["next"] = f"{self.base_url}/{self.privacy_group}/threat_updates/?{urlencode(query)}"
        return Reply(200, json.dumps(body).encode())


def _error(status: int, message: str, code: int) -> Reply:
    return Reply(status, json.dumps({"error": {"message": message, "type": "OAuthException", "code": code}}).encode())
