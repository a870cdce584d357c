"""Hash exchange tasks: the beat job that finds due exchanges, and one bounded fetch of one exchange."""

from __future__ import annotations

import logging

from django.conf import settings

from search.core import dispatch
from search.exchanges import services as exchanges_services
from workers.registry import worker_task

logger = logging.getLogger(__name__)

# Past the fetch budget by a margin: threatexchange's ThreatExchange client reads without a timeout,
# so only the time limit ends a hung request.
_LIMIT_MARGIN = 120


@worker_task(dispatch.EXCHANGES_FETCH_DUE, bind=True, acks_late=True, soft_time_limit=60, time_limit=90)
def exchanges_fetch_due(self) -> int:
    """Beat job: queues a fetch for every exchange whose interval has passed or whose run stopped at its budget."""
    ids = exchanges_services.exchanges_due_ids()
    for exchange_id in ids:
        dispatch.task_send(dispatch.EXCHANGE_FETCH, exchange_id)
    return len(ids)


@worker_task(
    dispatch.EXCHANGE_FETCH,
    bind=True,
    acks_late=True,
    soft_time_limit=settings.ISC.exchange_fetch_seconds + _LIMIT_MARGIN,
    time_limit=settings.ISC.exchange_fetch_seconds + 2 * _LIMIT_MARGIN,
)
def exchange_fetch(self, exchange_id: int) -> str:
    exchange = exchanges_services.exchange_claim(exchange_id=exchange_id)
    if exchange is None:
        return "skipped"  # another worker holds it, or it was disabled since
    outcome = exchanges_services.exchange_fetch_run(
        exchange=exchange,
        budget_seconds=settings.ISC.exchange_fetch_seconds,
    )
    run = outcome.run
    logger.info(
        "exchange %s: %s, +%s -%s (skipped %s, rejected %s)",
        exchange_id,
        run.state,
        run.added,
        run.removed,
        run.skipped,
        run.rejected,
    )
    return run.state
