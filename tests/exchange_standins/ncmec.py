"""NCMEC's hash sharing API v2 (report.cybertip.org/hashsharing/v2/documentation.pdf): HTTP Basic
auth; `GET /v2/entries?from=<UTC time>&to=<UTC time>` answers XML: an `images` (and `videos`)
element whose `maxTimestamp` attribute is the newest entry's time, one `image` or `deletedImage`
per entry (id, member, classification, fingerprints), and `paging/next`, a path relative to the
service root, when the range holds more than a page."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from urllib.parse import urlencode
from xml.sax.saxutils import escape

from tests.exchange_standins.server import Reply, Request, StandInServer

USER = "esp-user"
PASSWORD = "esp-password"
NAMESPACE = "https://hashsharing.ncmec.org/hashsharing/v2"
PAGE_SIZE = 3
_TIME = "%Y-%m-%dT%H:%M:%SZ"


class NCMECStandIn(StandInServer):
    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[int, str], dict] = {}

    @property
    def base_url(self) -> str:
        return f"{self.root}/hashsharing"

    def entry_put(
        self,
        entry_id: str,
        *,
        member_id: int,
        time: int,
        fingerprints: dict[str, str],
        classification: str = "A1",
        kind: str = "image",
    ) -> None:
        self.entries[member_id, entry_id] = {
            "id": entry_id,
            "member": member_id,
            "time": time,
            "fingerprints": fingerprints,
            "classification": classification,
            "kind": kind,
            "deleted": False,
        }

    def entry_delete(self, entry_id: str, *, member_id: int, time: int) -> None:
        entry = self.entries[member_id, entry_id]
        entry.update(time=time, deleted=True, fingerprints={})

    def answer(self, request: Request) -> Reply:
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return Reply(401, b"<error>Unauthorized</error>", "application/xml")
        if request.path != "/hashsharing/v2/entries":
            return Reply(404, b"<error>Not found</error>", "application/xml")
        start, end = _time_of(request.arg("from")), _time_of(request.arg("to"))
        offset = int(request.arg("start") or 0)
        rows = sorted(
            (row for row in self.entries.values() if start <= row["time"] < end),
            key=lambda row: (row["time"], row["member"], row["id"]),
        )
        page = rows[offset : offset + PAGE_SIZE]
        parts = [f'<queryResult xmlns="{NAMESPACE}">']
        images = [row for row in page if row["kind"] == "image"]
        if images:
            newest = datetime.fromtimestamp(max(row["time"] for row in images), UTC).strftime(_TIME)
            parts.append(f'<images count="{len(images)}" maxTimestamp="{newest}">')
            parts.extend(_entry_xml(row) for row in images)
            parts.append("</images>")
        if offset + PAGE_SIZE < len(rows):
            query = urlencode(
                {
                    "from": request.arg("from"),
                    "to": request.arg("to"),
                    "start": offset + PAGE_SIZE,
                    "size": PAGE_SIZE,
                    "max": len(rows),
                }
            )
            parts.append(f"<paging><next>{escape('/v2/entries?' + query)}</next></paging>")
        parts.append("</queryResult>")
        return Reply(200, "".join(parts).encode(), "application/xml")


def _entry_xml(row: dict) -> str:
    tag = "deletedImage" if row["deleted"] else "image"
    stamp = datetime.fromtimestamp(row["time"], UTC).strftime(_TIME)
    inner = [
        f"<id>{escape(row['id'])}</id>",
        f'<member id="{row["member"]}">ESP {row["member"]}</member>',
        f"<timestamp>{stamp}</timestamp>",
    ]
    if not row["deleted"]:
        inner.append(f"<classification>{escape(row['classification'])}</classification>")
        inner.append(
            "<fingerprints>"
            + "".join(f"<{k}>{escape(v)}</{k}>" for k, v in row["fingerprints"].items())
            + "</fingerprints>"
        )
    return f"<{tag}>{''.join(inner)}</{tag}>"


def _time_of(text: str) -> int:
    return int(datetime.strptime(text, _TIME).replace(tzinfo=UTC).timestamp())
