"""Real services for tests: Milvus Lite, Redis and a Celery worker, each a real process."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

from copydetect.milvus_lite import free_port, wait_for_port


def database_url(settings_dict: dict) -> str:
    """DATABASE_URL naming the database Django is connected to (during tests: the test database),
    so a worker process started by a test reads and writes the same rows."""
    engine = settings_dict["ENGINE"]
    if engine.endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    if not engine.endswith("postgresql"):
        raise ValueError(f"no URL form for database engine {engine}")
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(settings_dict.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{credentials}{host}:{port}/{quote(settings_dict['NAME'], safe='')}"


def redis_answers(host: str, port: int) -> bool:
    import redis

    try:
        return bool(redis.Redis(host=host, port=port, socket_connect_timeout=0.5).ping())
    except redis.exceptions.ConnectionError:
        return False


def worker_redis_db() -> int:
    """The Redis database number of this test process. Two test runs on one machine (CI and a developer)
    each take their own base (ISC_TEST_REDIS_DB, 15 by default); the parallel workers of one run
    (pytest-xdist's gw0, gw1, ...) count down from it, so no worker consumes another's tasks."""
    base = int(os.environ.get("ISC_TEST_REDIS_DB", "15"))
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return (base - int(worker.removeprefix("gw") or 0)) % 16


class RedisServer:
    """Uses the Redis already running on 127.0.0.1:6379, or starts a private one when none answers."""

    def __init__(self, data_dir: Path, db: int | None = None):
        self.data_dir = data_dir
        self.db = worker_redis_db() if db is None else db
        self.port = 6379
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/{self.db}"

    def start(self) -> "RedisServer":
        if not redis_answers("127.0.0.1", self.port):
            import shutil

            self.port = free_port()
            executable = shutil.which("redis-server") or str(Path(sys.executable).with_name("redis-server"))
            self.process = subprocess.Popen(
                [
                    executable,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--dir",
                    str(self.data_dir),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            wait_for_port(self.port, timeout=20)
        import redis

        # A private database number, emptied first: tasks left by an earlier run must not be replayed.
        redis.Redis(host="127.0.0.1", port=self.port, db=self.db).flushdb()
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)


class PrivateRedis:
    """A redis-server of this test's own on a free port, without persistence, that can be stopped
    and started again on the same port (a restart loses every queued message, as a crash would)."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        import shutil

        executable = shutil.which("redis-server") or str(Path(sys.executable).with_name("redis-server"))
        return [executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"] + [
            "--dir",
            str(self.data_dir),
        ]

    def start(self) -> "PrivateRedis":
        self.process = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, timeout=20)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=20)


def run_stack_module():
    """scripts/run_stack.py (`make run`'s supervisor, a script rather than a package module), loaded so that
    tests start Redis and the workers with exactly its commands."""
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "scripts" / "run_stack.py"
    spec = importlib.util.spec_from_file_location("run_stack", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class StackRedis(PrivateRedis):
    """The redis-server exactly as `make run` starts it (scripts/run_stack.py's command: append-only), on a
    free port with its data under `data_dir`; `stop` is the polite stop of an operator (SIGTERM)."""

    def command(self) -> list[str]:
        return run_stack_module().redis_command(self.port, data_dir=self.data_dir)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)


_worker_count = 0


class CeleryWorker:
    """A real `celery worker` process, configured through the environment like production."""

    def __init__(
        self, *, env: dict[str, str], log_path: Path, include: tuple[str, ...] = (), queues: str = "queries,gpu,default"
    ):
        self.env = env
        self.queues = queues
        self.log_path = log_path
        # Extra modules the worker imports (test-only signal handlers, e.g. tests/system/faults/worker_faults.py).
        self.include = include
        self.process: subprocess.Popen | None = None

    def start(self, app, timeout: float = 120) -> "CeleryWorker":
        import os

        global _worker_count
        _worker_count += 1
        executable = Path(sys.executable).with_name("celery")
        self.hostname = f"e2e-{os.getpid()}-{_worker_count}@{socket.gethostname()}"
        self.log = open(self.log_path, "a")
        self.process = subprocess.Popen(
            [
                str(executable),
                "-A",
                "isc_site",
                "worker",
                "-Q",
                self.queues,
                "-c",
                "1",
                "--loglevel",
                "INFO",
                "--hostname",
                self.hostname,
                *(["--include", ",".join(self.include)] if self.include else []),
            ],
            env={**os.environ, **self.env},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parent.parent,
            # Its own process group, so that `kill` takes the pool children along.
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"the worker exited early:\n{self.log_path.read_text()[-3000:]}")
            if app.control.ping(timeout=1.0, destination=[self.hostname]):
                return self
        # Never leave a worker behind: it would consume the next run's tasks.
        self.stop()
        raise TimeoutError(f"the worker did not answer within {timeout}s:\n{self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        """kill -9 of the worker and its pool children, as an OOM killer or a lost machine would."""
        import signal

        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self.log.close()

    def stop(self) -> None:
        import signal

        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if self.process:
            try:  # pool children left behind by a worker that died first
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.log.close()


def milvus_wipe(uri: str, attempts: int = 4) -> None:
    """Drops every alias, then every collection, of the Milvus at `uri`: row ids restart in every test
    database, so nothing a test indexed may leak into the next one (an alias would block the drop).

    A fresh connection right after a worker process closed its own can be refused by the server's gRPC
    keep-alive policy ("Too many pings", seen on a loaded machine): it is tried again after a pause."""
    from pymilvus import MilvusClient, MilvusException

    for attempt in range(attempts):
        try:
            client = MilvusClient(uri=uri)
        except MilvusException:
            if attempt == attempts - 1:
                raise
            time.sleep(2.0 * (attempt + 1))
            continue
        try:
            listing = client.list_aliases()
            for alias in listing.get("aliases", []) if isinstance(listing, dict) else listing:
                client.drop_alias(alias)
            for name in client.list_collections():
                client.drop_collection(name)
            return
        finally:
            client.close()


def broker_switch(app, url: str) -> None:
    """Points the in-process Celery app at `url`, dropping the connections an earlier test pooled."""
    app.conf.broker_url = url
    # Not closed: kombu's global producer registry may still hand the old pool to eager code paths.
    app._pool = None
    app.amqp._producer_pool = None


def milvus_test_server(data_dir: Path):
    """The Milvus a test session uses, as (uri, stop): an already running server when ISC_TEST_MILVUS_URI
    is set (with MILVUS_TOKEN when it needs credentials), else a Milvus Lite server, or with
    ISC_TEST_MILVUS=standalone a real Milvus standalone (copydetect/milvus_standalone.py, `make
    test-milvus`). Credentials travel inside the URI, so every fixture, store and worker that takes
    `milvus_uri` reaches a server with authentication on unchanged."""
    import secrets
    from urllib.parse import urlsplit, urlunsplit

    def with_credentials(uri: str, token: str) -> str:
        parts = urlsplit(uri)
        if not token or parts.username:
            return uri
        return urlunsplit(parts._replace(netloc=f"{quote(token, safe=':')}@{parts.netloc}"))

    if os.environ.get("ISC_TEST_MILVUS_URI"):
        return with_credentials(os.environ["ISC_TEST_MILVUS_URI"], os.environ.get("MILVUS_TOKEN", "")), lambda: None
    kind = os.environ.get("ISC_TEST_MILVUS", "lite")
    if kind == "standalone":
        from copydetect.milvus_standalone import MilvusStandaloneServer

        server = MilvusStandaloneServer(data_dir, password=secrets.token_urlsafe(16)).start()
        return with_credentials(server.uri, server.token), server.stop
    if kind != "lite":
        raise ValueError(f"ISC_TEST_MILVUS must be lite or standalone, not {kind!r}")
    from copydetect.milvus_lite import MilvusLiteServer

    server = MilvusLiteServer(data_dir).start()
    return server.uri, server.stop
