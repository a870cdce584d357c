"""Liveness for container health checks: the web answers `/healthz/` when it can reach its database;
`python -m isc_site.liveness web|worker NAME` is the check itself (exit 0 = healthy)."""

from __future__ import annotations

import os
import socket
import sys
import urllib.request

from django.db import connection
from django.http import HttpRequest, HttpResponse

WEB_URL = "http://127.0.0.1:8000/healthz/"


def healthz(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok", content_type="text/plain")


def _allowed_host() -> str:
    """A Host header the site accepts: the first DJANGO_ALLOWED_HOSTS entry made concrete."""
    first = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost").split(",")[0].strip()
    if first in ("", "*"):
        return "localhost"
    return first.lstrip(".")


def web_alive() -> bool:
    # Over plain HTTP inside the container: `/healthz/` is exempt from the HTTPS redirect.
    request = urllib.request.Request(WEB_URL, headers={"Host": _allowed_host()})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status == 200


def worker_alive(name: str) -> bool:
    """Whether the Celery worker `NAME@<this host>` answers a ping through the broker."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "isc_site.settings")
    from isc_site.celery import app

    return bool(app.control.ping(destination=[f"{name}@{socket.gethostname()}"], timeout=5.0))


def main(argv: list[str]) -> int:
    if argv[:1] == ["web"]:
        return 0 if web_alive() else 1
    if len(argv) == 2 and argv[0] == "worker":
        return 0 if worker_alive(argv[1]) else 1
    print("usage: python -m isc_site.liveness web | worker NAME", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
