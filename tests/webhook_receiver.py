"""A real HTTP receiver for webhook tests: http.server in a thread on 127.0.0.1, answering with the status
codes it is told, refusing (401) any request whose signature the given verifier rejects."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# This worktree's own range (several test runs share the machine); a free port in it is taken.
PORT_RANGE = range(8900, 9000)
DOCS = Path(__file__).resolve().parent.parent / "docs" / "webhooks.md"


def documented_verifier() -> Callable[[str, bytes, str, str], bool]:
    """The Python verification snippet of docs/webhooks.md, run as written."""
    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(), flags=re.S)
    source = next(block for block in blocks if "def isc_webhook_verify" in block)
    namespace: dict = {}
    exec(compile(source, str(DOCS), "exec"), namespace)  # noqa: S102 - our own documentation
    return namespace["isc_webhook_verify"]


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    status: int


class WebhookReceiver:
    def __init__(self, *, secret: str | None = None, statuses: list[int] | None = None, delay_seconds: float = 0.0):
        self.secret = secret
        # Answers this late (for timeouts).
        self.delay_seconds = delay_seconds
        # One status per request, in order; the last one repeats.
        self.statuses = list(statuses or [200])
        self.received: list[Received] = []
        self.verify = documented_verifier()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k: v for k, v in self.headers.items()}
                verified = receiver.secret is not None and receiver.verify(
                    receiver.secret, body, headers.get("X-ISC-Timestamp", ""), headers.get("X-ISC-Signature", "")
                )
                with receiver._lock:
                    index = min(len(receiver.received), len(receiver.statuses) - 1)
                    status = receiver.statuses[index] if verified or receiver.secret is None else 401
                    receiver.received.append(Received(self.path, headers, body, verified, status))
                reply = b'{"ok": true}' if status < 300 else f"error {status}".encode()
                if receiver.delay_seconds:
                    time.sleep(receiver.delay_seconds)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self._server = _server_on_free_port(Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)


def _server_on_free_port(handler) -> ThreadingHTTPServer:
    for port in PORT_RANGE:
        try:
            return ThreadingHTTPServer(("127.0.0.1", port), handler)
        except OSError:
            continue
    raise OSError(f"no free port in {PORT_RANGE.start}-{PORT_RANGE.stop - 1}")


def closed_port() -> int:
    """A port in the range that nothing listens on (for connection-refused attempts)."""
    for port in PORT_RANGE:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise OSError("every port in the range is in use")
