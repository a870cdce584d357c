"""Team events (match.confirmed, match.rejected, query.flagged) for outside systems; callers emit after commit."""

import logging

logger = logging.getLogger(__name__)


def event_emit(*, team, name: str, payload: dict) -> None:
    logger.info("event %s for team %s: %s", name, getattr(team, "pk", team), payload)
