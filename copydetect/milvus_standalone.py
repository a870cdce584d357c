"""A real Milvus server (standalone: the C++/Go engine with embedded etcd and local storage) as a child
process, from the PyPI package `milvus` (2.3.5), for `make run`, the tests and the benchmarks.

Why not the package's own `milvus-server` command: it takes its ports from fixed defaults upward (two
servers started together collide on etcd's 2379), leaves etcd on its defaults, and does not stop its
child. Here every port is a free one chosen at start, etcd listens on loopback only, and the server runs
with authentication on: the root password is changed from Milvus's well-known default to `password`
on the first start, so a client that reaches the server from another machine needs the credentials.

The data directory holds the configuration, the logs and the data (etcd metadata, segments, the
message log); starting a server again on the same directory finds its collections there.
"""

from __future__ import annotations

import hashlib
import lzma
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from copydetect.milvus_lite import wait_for_port

ROOT_USER = "root"
# What Milvus sets the root password to on a new server; replaced at the first start.
DEFAULT_ROOT_PASSWORD = "Milvus"
START_TIMEOUT = 120.0
STOP_TIMEOUT = 30.0
# Seconds an etcd session of a stopped server outlives it (Milvus's default 30).
SESSION_TTL = 10
# Template placeholders of the package's config.yaml.template that name a listening port.
PORT_KEYS = (
    "proxy_port",
    "proxy_internal_port",
    "root_coord_port",
    "query_coord_port",
    "query_node_port",
    "index_coord_port",
    "index_node_port",
    "data_coord_port",
    "data_node_port",
    "etcd_port",
)
PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*(?:\([a-z]+\))?\s*(?::\s*([^}]*?))?\s*\}\}")


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the process that started it dies (Linux), so a killed
    supervisor or test process leaves no server holding the data directory and its ports."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def package_dir() -> Path:
    import milvus  # the PyPI package `milvus`: binaries and config template, nothing imported at run time

    return Path(milvus.__file__).resolve().parent / "data"


def package_version() -> str:
    import milvus

    return str(milvus.__version__)


def free_ports(count: int) -> list[int]:
    """`count` distinct free loopback ports (held open together while chosen, so none repeats)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def binaries_unpack(target: Path) -> Path:
    """The server's executable and libraries, unpacked once into `target` (a cache shared by servers).

    Each file is written under a temporary name and renamed, so two processes unpacking at once never
    see half a library."""
    target.mkdir(parents=True, exist_ok=True)
    for packed in sorted((package_dir() / "bin").glob("*.lzma")):
        name = packed.name.removesuffix(".lzma")
        digest = hashlib.md5(packed.read_bytes(), usedforsecurity=False).hexdigest()
        stamp = target / f"{name}.md5"
        if (target / name).exists() and stamp.exists() and stamp.read_text().strip() == digest:
            continue
        partial = target / f".{name}.{os.getpid()}"
        with lzma.open(packed) as source, open(partial, "wb") as out:
            while chunk := source.read(1 << 20):
                out.write(chunk)
        partial.chmod(0o755)
        os.replace(partial, target / name)
        stamp.write_text(digest)
    return target / "milvus"


def default_bin_dir() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "isc-milvus" / package_version()


def config_render(template: str, values: dict[str, object]) -> str:
    """The package's template with its `{{ key(type): default }}` placeholders filled from `values`."""

    def fill(match: re.Match) -> str:
        key, default = match.group(1), match.group(2)
        value = values.get(key, default)
        if value is None:
            raise KeyError(f"no value for {key} in the Milvus config template")
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    text = PLACEHOLDER.sub(fill, template)
    # Components advertise (and reach each other at) loopback instead of the first network address.
    text = re.sub(r"(?m)^(  ip:)[^\n]*$", r"\1 127.0.0.1", text)
    return text


class MilvusStandaloneServer:
    """One Milvus standalone process on free ports, data in `data_dir`, root password `password`."""

    def __init__(
        self,
        data_dir: Path,
        *,
        password: str,
        port: int | None = None,
        bin_dir: Path | None = None,
        log_level: str = "warn",
    ) -> None:
        if not password or password == DEFAULT_ROOT_PASSWORD or ":" in password:
            raise ValueError("the root password must be set, not Milvus's default, and hold no ':'")
        self.data_dir = Path(data_dir).resolve()
        self.password = password
        self.bin_dir = Path(bin_dir) if bin_dir else default_bin_dir()
        self.log_level = log_level
        self.port = port
        self.process: subprocess.Popen | None = None
        self.started_in: float | None = None
        # Every port the last start chose, by template name (plus etcd_peer_port, metrics_port).
        self.ports: dict[str, int] = {}

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token(self) -> str:
        return f"{ROOT_USER}:{self.password}"

    def start(self) -> MilvusStandaloneServer:
        began = time.monotonic()
        executable = binaries_unpack(self.bin_dir)
        ports = dict(zip((*PORT_KEYS, "etcd_peer_port", "metrics_port"), free_ports(len(PORT_KEYS) + 2)))
        if self.port is not None:
            ports["proxy_port"] = self.port
        self.port = ports["proxy_port"]
        self.ports = ports
        config_dir = self._write_config(ports)
        log = open(self.data_dir / "logs" / "milvus.log", "ab")
        env = {
            **os.environ,
            "DEPLOY_MODE": "STANDALONE",
            "METRICS_PORT": str(ports["metrics_port"]),
            "MILVUS_RUN_DIR": str(self.data_dir / "run"),
            "MILVUSCONF": str(config_dir),
            "LD_LIBRARY_PATH": os.pathsep.join(
                filter(None, [str(executable.parent), os.environ.get("LD_LIBRARY_PATH")])
            ),
        }
        try:
            self.process = subprocess.Popen(
                [str(executable), "run", "standalone"],
                cwd=self.data_dir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own process group: stop() signals the server and whatever it started.
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        finally:
            log.close()
        try:
            wait_for_port(self.port, timeout=START_TIMEOUT)
            self._password_secure()
        except BaseException:
            self.stop()
            raise
        self.started_in = time.monotonic() - began
        return self

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, STOP_TIMEOUT)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                return
            try:
                process.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def __enter__(self) -> MilvusStandaloneServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _write_config(self, ports: dict[str, int]) -> Path:
        for sub in ("configs", "logs", "data", "run"):
            (self.data_dir / sub).mkdir(parents=True, exist_ok=True)
        storage = self.data_dir / "data"
        template = (package_dir() / "config.yaml.template").read_text(encoding="utf-8")
        values: dict[str, object] = {
            **{key: ports[key] for key in PORT_KEYS},
            "etcd_log_level": self.log_level,
            "etcd_log_path": str(self.data_dir / "logs" / "etcd.log"),
            "etcd_data_dir": str(storage / "etcd.data"),
            "local_storage_dir": str(storage),
            "rocksmq_data_dir": str(storage / "rocksmq"),
            "system_log_path": str(self.data_dir / "logs"),
            "authorization_enabled": True,
        }
        config = config_render(template, values)
        etcd_config = self.data_dir / "configs" / "embed-etcd.yaml"
        # Embedded etcd reads its listeners from this file (etcd.config.path); without it, it binds
        # its defaults 2379 / 2380, which a second server on the machine would collide with.
        etcd_config.write_text(
            "\n".join(
                [
                    f"listen-client-urls: http://127.0.0.1:{ports['etcd_port']}",
                    f"advertise-client-urls: http://127.0.0.1:{ports['etcd_port']}",
                    f"listen-peer-urls: http://127.0.0.1:{ports['etcd_peer_port']}",
                    f"initial-advertise-peer-urls: http://127.0.0.1:{ports['etcd_peer_port']}",
                    f"initial-cluster: default=http://127.0.0.1:{ports['etcd_peer_port']}",
                    "",
                ]
            )
        )
        config = config.replace(
            "  use:\n    embed: true", f"  config:\n    path: {etcd_config}\n  use:\n    embed: true", 1
        )
        config = re.sub(r"(?m)^(  level:) info( # Only supports)", rf"\1 {self.log_level}\2", config)
        # A restarted server waits for the sessions of its previous run to expire before it serves.
        config = config.replace("    ttl: 30 #", f"    ttl: {SESSION_TTL} #", 1)
        (self.data_dir / "configs" / "milvus.yaml").write_text(config, encoding="utf-8")
        (self.data_dir / "configs" / "glog.conf").write_text((package_dir() / "glog.conf").read_text())
        return self.data_dir / "configs"

    def _password_secure(self) -> None:
        """Replace the default root password on a new server; a restarted one already has ours."""
        from copydetect.vector_store import server_answers, server_password_change

        deadline = time.monotonic() + START_TIMEOUT
        while not server_answers(uri=self.uri, token=self.token):
            try:
                server_password_change(
                    uri=self.uri, user=ROOT_USER, old_password=DEFAULT_ROOT_PASSWORD, new_password=self.password
                )
                return
            except Exception:
                # Not ready yet (proxy up before the coordinators), or a password of another start.
                if time.monotonic() > deadline or (self.process and self.process.poll() is not None):
                    raise
                time.sleep(0.5)


def main(argv: list[str] | None = None) -> None:
    """`python -m copydetect.milvus_standalone --data DIR --port P`: one server in the foreground until
    SIGTERM / Ctrl-C (how scripts/run_stack.py supervises it). The root password comes from
    MILVUS_STANDALONE_PASSWORD."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    server = MilvusStandaloneServer(args.data, password=os.environ["MILVUS_STANDALONE_PASSWORD"], port=args.port)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    try:
        server.start()
        print(
            f"Milvus standalone {package_version()} on {server.uri}, started in {server.started_in:.1f} s", flush=True
        )
        code = server.process.wait() if server.process else 1
        sys.exit(f"Milvus standalone exited with {code}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
