#!/usr/bin/env python
"""Query latency under load: C concurrent clients search through a running site (loopback only).

Usage, against `make run` (scripts/run_stack.py) with a collection that holds references:
    .venv/bin/python scripts/load_queries.py --url http://127.0.0.1:8000 --username ana --password ... \\
        --collection-id 1 --photos data/photos --clients 4 --queries 40 --time-cap 300

Each client logs in over HTTP, uploads query images to the collection (the site's form, with its CSRF
token) and polls the query's result block until it is final, as the page's own script does. Every
query is a distinct file (a random crop of a photo, re-encoded), so none is answered from an earlier
identical upload. Bounded: exactly --queries uploads in all (shared among the clients), and no new
upload once --time-cap seconds have passed. Prints p50 / p95 / max of the time from the start of the
upload to the finished result, and the throughput.
"""

from __future__ import annotations

import argparse
import csv
import http.cookiejar
import io
import ipaddress
import os
import random
import re
import socket
import statistics
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass
class Outcome:
    client: int
    seconds: float
    status: str  # "done", "failed", "timeout", "error: ..."


def loopback_check(url: str) -> None:
    host = urllib.parse.urlparse(url).hostname or ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except socket.gaierror:
        sys.exit(f"Cannot resolve {host!r}.")
    if not addresses or not all(ipaddress.ip_address(address).is_loopback for address in addresses):
        sys.exit(f"Refusing to load {host!r}: this command only talks to a site on this machine (loopback).")


def queries_make(photos: Path, count: int, seed: int) -> list[bytes]:
    with open(photos / "manifest.csv", newline="") as handle:
        sources = [photos / row["path"] for row in csv.DictReader(handle)]
    rng = random.Random(seed)
    made = []
    for _ in range(count):
        with Image.open(rng.choice(sources)) as opened:
            image = opened.convert("RGB")
        width, height = image.size
        crop_w, crop_h = int(width * rng.uniform(0.6, 0.95)), int(height * rng.uniform(0.6, 0.95))
        left, top = rng.randrange(width - crop_w + 1), rng.randrange(height - crop_h + 1)
        buffer = io.BytesIO()
        image.crop((left, top, left + crop_w, top + crop_h)).save(buffer, "JPEG", quality=rng.randint(70, 92))
        made.append(buffer.getvalue())
    return made


class Client:
    def __init__(self, base: str, *, timeout: float = 60.0):
        self.base = base.rstrip("/")
        self.timeout = timeout
        self.cookies = http.cookiejar.CookieJar()
        # Redirects are read, not followed: the upload's Location names the new query.
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect())

    def _csrf(self) -> str:
        return next((cookie.value for cookie in self.cookies if cookie.name == "csrftoken"), "")

    def get(self, path: str) -> tuple[int, str, dict]:
        return self._send(urllib.request.Request(self.base + path))

    def post(self, path: str, *, fields: dict[str, str], files: dict[str, tuple[str, bytes]] | None = None):
        boundary = uuid.uuid4().hex
        body = io.BytesIO()
        for name, value in {**fields, "csrfmiddlewaretoken": self._csrf()}.items():
            body.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
        for name, (filename, data) in (files or {}).items():
            body.write(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                "Content-Type: image/jpeg\r\n\r\n".encode()
            )
            body.write(data + b"\r\n")
        body.write(f"--{boundary}--\r\n".encode())
        request = urllib.request.Request(
            self.base + path,
            data=body.getvalue(),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}", "Referer": self.base + path},
            method="POST",
        )
        return self._send(request)

    def _send(self, request) -> tuple[int, str, dict]:
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                return response.status, response.read().decode("utf-8", "replace"), dict(response.headers)
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode("utf-8", "replace"), dict(error.headers)

    def login(self, username: str, password: str) -> None:
        self.get("/accounts/login/")
        status, _body, headers = self.post("/accounts/login/", fields={"username": username, "password": password})
        if status != 302 or "/accounts/login" in headers.get("Location", ""):
            sys.exit(f"Login as {username!r} failed (HTTP {status}).")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def client_run(
    index: int, args, queue: list[bytes], lock: threading.Lock, deadline: float, outcomes: list[Outcome]
) -> None:
    client = Client(args.url)
    client.login(args.username, args.password)
    upload_path = f"/collections/{args.collection_id}/queries/"
    while True:
        with lock:
            if not queue or time.monotonic() > deadline:
                return
            data = queue.pop()
        started = time.monotonic()
        try:
            status, _body, headers = client.post(
                upload_path, fields={}, files={"image": (f"load-{uuid.uuid4().hex[:8]}.jpg", data)}
            )
            match = re.search(r"/queries/(\d+)/", headers.get("Location", ""))
            if status != 302 or not match:
                outcomes.append(Outcome(index, time.monotonic() - started, f"error: upload HTTP {status}"))
                continue
            results_path = f"/queries/{match.group(1)}/results/"
            result = "timeout"
            while time.monotonic() - started < args.query_timeout:
                status, body, _ = client.get(results_path)
                if status == 200 and "data-live-url" not in body:
                    result = "failed" if "The search failed." in body else "done"
                    break
                time.sleep(args.poll_interval)
            outcomes.append(Outcome(index, time.monotonic() - started, result))
        except (OSError, urllib.error.URLError) as exc:
            outcomes.append(Outcome(index, time.monotonic() - started, f"error: {exc}"))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))  # nearest-rank
    return ordered[rank]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", default=os.environ.get("ISC_LOAD_PASSWORD", ""))
    parser.add_argument("--collection-id", type=int, required=True)
    parser.add_argument("--photos", type=Path, required=True, help="fetch_photos.py output (manifest.csv)")
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--queries", type=int, default=20, help="uploads in all, shared among the clients")
    parser.add_argument("--time-cap", type=float, default=300.0, help="no new upload after this many seconds")
    parser.add_argument("--query-timeout", type=float, default=120.0)
    parser.add_argument("--poll-interval", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=None, help="query images (default: a fresh seed each run)")
    parser.add_argument("--label", default="", help="printed with the figures (e.g. the worker concurrency)")
    args = parser.parse_args()
    loopback_check(args.url)
    if args.clients < 1 or args.queries < 1:
        sys.exit("--clients and --queries must be at least 1.")

    queue = queries_make(args.photos, args.queries, args.seed if args.seed is not None else random.randrange(2**31))
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    load_start = os.getloadavg()[0]
    started = time.monotonic()
    deadline = started + args.time_cap
    threads = [
        threading.Thread(target=client_run, args=(i, args, queue, lock, deadline, outcomes), daemon=True)
        for i in range(args.clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - started

    done = [o.seconds for o in outcomes if o.status == "done"]
    others = [o for o in outcomes if o.status != "done"]
    label = f" [{args.label}]" if args.label else ""
    print(
        f"clients={args.clients}{label}: {len(done)}/{len(outcomes)} queries finished in {wall:.1f} s "
        f"({len(done) / wall:.2f} queries/s); upload → finished result: "
        f"p50 {percentile(done, 0.5):.2f} s, p95 {percentile(done, 0.95):.2f} s, max {max(done, default=float('nan')):.2f} s, "
        f"mean {statistics.fmean(done) if done else float('nan'):.2f} s; load average {load_start:.1f} → {os.getloadavg()[0]:.1f}"
    )
    for outcome in others[:10]:
        print(f"  client {outcome.client}: {outcome.status} after {outcome.seconds:.1f} s")


if __name__ == "__main__":
    main()
