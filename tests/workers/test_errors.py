"""Retry budget and the plain sentences rows show."""

import random

from celery.exceptions import TimeLimitExceeded, WorkerLostError
from celery.utils.time import get_exponential_backoff_interval

from copydetect.vector_store import VectorStoreUnavailable
from workers.errors import failure_message, notice_for, retry_count


def _total_wait(retries: int, backoff_max: int, rng: random.Random) -> float:
    random.seed(rng.random())
    return sum(
        get_exponential_backoff_interval(factor=1, retries=n, maximum=backoff_max, full_jitter=True)
        for n in range(retries)
    )


def test_the_default_retries_wait_well_over_ten_minutes_under_celerys_own_jittered_backoff():
    retries = retry_count(backoff_max=120, retry_for_seconds=1200)
    rng = random.Random(0)
    totals = sorted(_total_wait(retries, 120, rng) for _ in range(2000))
    assert totals[0] > 600, f"shortest of 2000 draws: {totals[0]:.0f} s"
    assert 1000 < totals[len(totals) // 2] < 1400


def test_rows_say_what_is_unavailable_in_plain_words():
    assert notice_for(VectorStoreUnavailable()) == "Search backend unavailable, retrying automatically."
    assert (
        failure_message(TimeLimitExceeded(360), time_limit=360) == "Processing took longer than 360 s and was stopped."
    )
    assert "worker died" in failure_message(WorkerLostError("exitcode 9"), time_limit=360)
    assert "MilvusException" not in failure_message(VectorStoreUnavailable(), time_limit=360)


def test_redis_hands_a_message_to_another_worker_only_after_the_longest_task_could_have_run(settings):
    from isc_site.celery import app

    app.loader.import_default_modules()  # every task module, as a worker imports them

    limits = [task.time_limit for name, task in app.tasks.items() if name.startswith("workers.") and task.time_limit]
    assert limits, "the worker tasks declare hard time limits"
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] > max(limits)
    assert settings.ISC.stale_after_seconds > settings.ROW_TASK_TIME_LIMIT, "the sweeper never re-queues a running task"
