"""Which failures are worth retrying, and what the page says about each.

Transient: a dependency is out of reach (Milvus, Redis, the database); the task retries with
Celery's exponential back-off and the row shows why it waits. Permanent: the image itself cannot be
used (workers/images.py PERMANENT_ERRORS); the row fails at once with the reason.
"""

from __future__ import annotations

import math

import kombu.exceptions
import redis.exceptions
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded, WorkerLostError
from django import db

from copydetect.vector_store import VectorStoreUnavailable

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    VectorStoreUnavailable,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    kombu.exceptions.OperationalError,
    db.OperationalError,
    db.InterfaceError,
)

SEARCH_BACKEND_RETRYING = "Search backend unavailable, retrying automatically."


def notice_for(error: BaseException) -> str:
    """Plain sentence for a row waiting on a transient error."""
    return f"{_dependency(error).capitalize()} unavailable, retrying automatically."


def gave_up_message(error: BaseException, *, retries: int) -> str:
    return f"The {_dependency(error)} stayed unavailable through {retries} retries; press Retry once it is back."


def failure_message(error: BaseException | None, *, time_limit: int) -> str:
    """What a failed row shows for an exception that reached Celery's failure signal."""
    if isinstance(error, TimeLimitExceeded):
        return f"Processing took longer than {time_limit} s and was stopped."
    if isinstance(error, SoftTimeLimitExceeded):
        return "Processing took too long and was stopped."
    if isinstance(error, WorkerLostError):
        return "The worker died while processing this image."
    if error is not None and isinstance(error, TRANSIENT_ERRORS):
        return gave_up_message(error, retries=0).replace(" through 0 retries", "")
    return f"{type(error).__name__}: {error}" if error is not None else "The task failed."


def _dependency(error: BaseException) -> str:
    if isinstance(error, VectorStoreUnavailable):
        return "search backend"
    if isinstance(error, (db.OperationalError, db.InterfaceError)):
        return "database"
    return "task queue"


def retry_count(*, backoff_max: int, retry_for_seconds: int) -> int:
    """Retries that wait about `retry_for_seconds` in total under Celery's back-off with full jitter.

    Retry n waits a uniform draw from 0 .. min(backoff_max, 2**n) seconds, half of that on average:
    first the doubling ramp up to the cap, then steps of backoff_max / 2 on average. With the defaults
    (cap 120 s, 1200 s) that is 26 retries, about 20 minutes on average and under 10 minutes with
    a probability below 1e-4.
    """
    ramp = max(0, math.ceil(math.log2(max(backoff_max, 1))))
    ramp_wait = sum(min(backoff_max, 2**n) / 2 for n in range(ramp))
    return ramp + max(1, math.ceil((retry_for_seconds - ramp_wait) / (max(backoff_max, 1) / 2)))
