"""Tech Against Terrorism's TCAP hash list API (terrorismanalytics.org/docs/hash-list-v1): `POST
/token-auth/tcap/` with username and password gives a JWT; `GET /api/hash-list/v2/all` with it as a
Bearer token, `order` and `after` (the `<timestamp>,<id>` checkpoint of the last record read) pages
with Django REST framework's limit/offset (`next` is a full URL) and answers `count`, `next`,
`previous`, `checkpoint` and `results`."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

from tests.exchange_standins.server import Reply, Request, StandInServer

USERNAME = "tcap-user"
PASSWORD = "tcap-password"
JWT = "eyJ0eXAiOiJKV1QifQ.stand-in.token"
PAGE_SIZE = 2


class TCAPStandIn(StandInServer):
    def __init__(self) -> None:
        super().__init__()
        self.records: dict[int, dict] = {}

    @property
    def base_url(self) -> str:
        return f"{self.root}/"

    def record_put(
        self, record_id: int, *, hash_digest: str, algorithm: str, file_type: str, time: float, deleted: bool = False
    ) -> None:
        self.records[record_id] = {
            "hash_digest": hash_digest,
            "algorithm": algorithm,
            "ideology": "far-right",
            "file_type": file_type,
            "deleted": deleted,
            "updated_on": time,
            "created_on": "2026-11-01T00:00:00Z",
            "id": record_id,
        }

    def answer(self, request: Request) -> Reply:
        if request.method == "POST" and request.path == "/token-auth/tcap/":
            form = parse_qs(request.body.decode())
            if form.get("username") == [USERNAME] and form.get("password") == [PASSWORD]:
                return Reply(200, json.dumps({"user": {"username": USERNAME}, "token": JWT}).encode())
            return Reply(400, b'{"non_field_errors": ["Unable to log in with provided credentials."]}')
        if request.path != "/api/hash-list/v2/all":
            return Reply(404, b'{"detail": "Not found."}')
        if request.headers.get("Authorization") != f"Bearer {JWT}":
            return Reply(401, b'{"detail": "Authentication credentials were not provided."}')
        after = _key_of(request.arg("after"))
        offset = int(request.arg("offset") or 0)
        rows = sorted(self.records.values(), key=lambda row: (row["updated_on"], row["id"]))
        rows = [row for row in rows if after is None or (row["updated_on"], row["id"]) > after]
        page = rows[offset : offset + PAGE_SIZE]
        more = offset + PAGE_SIZE < len(rows)
        last = page[-1] if page else None
        body = {
            "count": len(rows),
            "next": f"{self.base_url}api/hash-list/v2/all?limit={PAGE_SIZE}&offset={offset + PAGE_SIZE}"
            if more
            else None,
            "previous": None,
            "checkpoint": f"{last['updated_on']},{last['id']}" if last else request.arg("after"),
            "results": page,
        }
        return Reply(200, json.dumps(body).encode())


def _key_of(checkpoint: str) -> tuple[float, int] | None:
    if not checkpoint:
        return None
    timestamp, _, record_id = checkpoint.partition(",")
    return float(timestamp), int(record_id or 0)
