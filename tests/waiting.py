"""The one way tests wait for a live process: poll until a deadline, then fail with what was awaited."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T],
    *,
    timeout: float,
    what: str,
    every: float = 0.5,
    also: Callable[[], object] | None = None,
) -> T:
    """Calls `predicate` until it returns something truthy and returns that; `also` runs between polls (a
    sweeper standing in for beat). Fails the test after `timeout` seconds, naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        if also is not None:
            also()
        time.sleep(every)
