"""How a webhook body is signed."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence

SCHEME = "v1"


# Receivers should refuse a timestamp further than this from their clock (replayed or stale requests).
REPLAY_WINDOW_SECONDS = 300


HEADER_SIGNATURE = "X-ISC-Signature"


HEADER_TIMESTAMP = "X-ISC-Timestamp"


HEADER_EVENT = "X-ISC-Event"


HEADER_DELIVERY = "X-ISC-Delivery"


def signature_compute(*, secret: str, timestamp: int, body: bytes) -> str:
    message = str(int(timestamp)).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(*, secrets: Sequence[str], timestamp: int, body: bytes) -> str:
    """`v1=<hex>` for each secret, current first, comma-separated."""
    if not secrets:
        raise ValueError("At least one secret is needed to sign.")
    return ",".join(f"{SCHEME}={signature_compute(secret=s, timestamp=timestamp, body=body)}" for s in secrets)


def signatures_parse(header: str) -> list[str]:
    """The v1 signatures in a header; entries of other schemes are ignored (room for a v2)."""
    found = []
    for entry in header.split(","):
        scheme, _, value = entry.strip().partition("=")
        if scheme == SCHEME and value:
            found.append(value.strip())
    return found


def signature_verify(
    *,
    secret: str,
    signature_header_value: str,
    timestamp_header_value: str,
    body: bytes,
    now: float | None = None,
    window_seconds: int = REPLAY_WINDOW_SECONDS,
) -> bool:
    """True when the timestamp is within the window and one v1 signature matches `secret`."""
    try:
        timestamp = int(timestamp_header_value)
    except (TypeError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > window_seconds:
        return False
    expected = signature_compute(secret=secret, timestamp=timestamp, body=body)
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures_parse(signature_header_value))
