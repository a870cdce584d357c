"""The one retry policy of the workers' tasks.

A transient error (workers/errors.py TRANSIENT_ERRORS: Milvus, Redis or the database out of reach) is
retried by Celery's own `autoretry_for`, with exponential back-off capped at ISC_RETRY_BACKOFF_MAX and
full jitter, about ISC_RETRY_FOR_SECONDS in all; then the task's row or job is failed with the reason.
Any other error fails it at once. A task that schedules its own next run (a webhook's next attempt)
still retries transient errors this way.
"""

from __future__ import annotations

from django.conf import settings

from workers.errors import TRANSIENT_ERRORS, retry_count

RETRY_OPTIONS = dict(
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=True,
    retry_backoff_max=settings.ISC.retry_backoff_max,
    retry_jitter=True,
    max_retries=retry_count(
        backoff_max=settings.ISC.retry_backoff_max, retry_for_seconds=settings.ISC.retry_for_seconds
    ),
)


def retries_exhausted(task) -> bool:
    """Whether a transient error should now fail the work instead of being retried: the retries are used
    up, or the task runs in process (eagerly), where no broker can hold a retry."""
    return task.request.is_eager or task.request.retries >= task.max_retries
