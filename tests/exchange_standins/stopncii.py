"""StopNCII.org's `GET /v1/FetchHashes` (Azure API Management): the `x-functions-key` and
`Ocp-Apim-Subscription-Key` headers, `startTimestamp`, `pageSize`, `nextPageToken`; the answer holds
`count`, `nextPageToken`, `nextSetTimestamp`, `hasMoreRecords` and `hashRecords`, each record the
latest state of a hash (its aggregate `hashStatus`, per-case statuses, CSP feedback). A wrong key
gets 401."""

from __future__ import annotations

import json

from tests.exchange_standins.server import Reply, Request, StandInServer

FETCH_KEY = "fetch-function-key"
SUBSCRIPTION_KEY = "subscription-key"


class StopNCIIStandIn(StandInServer):
    def __init__(self) -> None:
        super().__init__()
        self.records: dict[str, dict] = {}  # hash -> its latest record

    @property
    def base_url(self) -> str:
        return f"{self.root}/v1"

    def hash_put(
        self, hash_value: str, *, time: int, status: str = "Active", signal_type: str = "ImagePDQ", feedback=()
    ) -> None:
        self.records[hash_value] = {
            "lastModtimestamp": time,
            "signalType": signal_type,
            "hashValue": hash_value,
            "hashStatus": status,
            "caseNumbers": {f"case-{len(self.records) + 1}": status},
            "CSPFeedbacks": [{"feedbackValue": value, "tags": ["ncii"], "source": "csp-a"} for value in feedback],
        }

    def answer(self, request: Request) -> Reply:
        if request.path != "/v1/FetchHashes":
            return Reply(404, b'{"message": "Resource not found"}')
        if (
            request.headers.get("x-functions-key") != FETCH_KEY
            or request.headers.get("Ocp-Apim-Subscription-Key") != SUBSCRIPTION_KEY
        ):
            return Reply(401, b'{"statusCode": 401, "message": "Access denied due to invalid subscription key."}')
        start = int(request.arg("startTimestamp") or 0)
        size = int(request.arg("pageSize") or 800)
        offset = int(request.arg("nextPageToken") or 0)
        rows = sorted(
            (row for row in self.records.values() if row["lastModtimestamp"] >= start),
            key=lambda row: (row["lastModtimestamp"], row["hashValue"]),
        )
        page = rows[offset : offset + size]
        more = offset + size < len(rows)
        body = {
            "count": len(page),
            "nextPageToken": str(offset + size) if more else None,
            "nextSetTimestamp": max((row["lastModtimestamp"] for row in rows), default=start),
            "hasMoreRecords": more,
            "hashRecords": page,
        }
        return Reply(200, json.dumps(body).encode())
