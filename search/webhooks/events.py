"""Team events (a verdict, a flagged query) and where they go: today, the team's webhooks."""

from __future__ import annotations

import logging

from search.teams.models import Team
from search.webhooks.models import WebhookEndpoint
from search.webhooks.services import delivery_create, event_envelope

logger = logging.getLogger(__name__)


def event_emit(*, team: Team, name: str, payload: dict) -> None:
    """Records the event as one delivery per active endpoint of `team` subscribed to `name`, in the
    caller's transaction; each is sent by a worker once that transaction commits (never if it rolls back).
    One event id for all endpoints, so a receiver behind two endpoints can deduplicate."""
    endpoints = [e for e in WebhookEndpoint.objects.filter(team=team, active=True) if e.subscribes_to(name)]
    if not endpoints:
        return
    envelope = event_envelope(team=team, event_type=name, data=payload)
    for endpoint in endpoints:
        delivery_create(endpoint=endpoint, envelope=envelope)
    logger.info("event %s %s queued for %d webhook endpoint(s)", name, envelope["id"], len(endpoints))
