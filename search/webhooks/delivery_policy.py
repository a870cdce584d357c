"""What an attempt's result means for a delivery, and how long to wait before the next one."""

from __future__ import annotations

import random
from dataclasses import dataclass

from search.webhooks.models import (
    AttemptOutcome,
)


@dataclass(frozen=True)
class AttemptResult:
    """What one HTTP request gave: a status code, or an error (timeout, refused connection, refused URL)."""

    status_code: int | None = None
    error: str = ""
    duration_ms: int = 0
    response_snippet: str = ""
    # The receiver's Retry-After (429/503), in seconds.
    retry_after: float | None = None
    # True for errors no retry can fix (a refused URL, an unreadable secret, an inactive endpoint).
    permanent: bool = False


def attempt_outcome(result: AttemptResult) -> AttemptOutcome:
    """2xx: delivered. 408, 429, 5xx, timeouts and connection errors: retry. Other 4xx, redirects (not
    followed) and permanent errors: failed at once."""
    if result.permanent:
        return AttemptOutcome.FAILED
    code = result.status_code
    if code is None:
        return AttemptOutcome.RETRY
    if 200 <= code < 300:
        return AttemptOutcome.DELIVERED
    if code in (408, 429) or code >= 500:
        return AttemptOutcome.RETRY
    return AttemptOutcome.FAILED


def backoff_seconds(*, attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """The wait after failed attempt `attempt` (1-based): exponential, capped, with 'equal jitter' (between
    half and all of the exponential value), so retries of many deliveries spread out but still grow."""
    ceiling = min(cap, base * 2 ** (attempt - 1))
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)
