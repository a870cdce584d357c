"""The one way to write to the audit log. Callers record in the same transaction as the change, so an
entry exists exactly when the change does."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from search.collection.models import Collection
from search.core.models import AuditAction, AuditEvent
from search.teams.models import Team


def audit_record(
    *,
    actor: AbstractBaseUser | None,
    team: Team | None,
    action: AuditAction | str,
    target: models.Model | None,
    before: Any = None,
    after: Any = None,
) -> AuditEvent:
    """Appends one event: who (None: the system), which team, what was done to which object, and the
    value before and after (anything JSON can hold; dates and decimals become strings)."""
    actor = actor if actor is not None and actor.is_authenticated else None
    return AuditEvent.objects.create(
        team=team,
        actor=actor,
        actor_username=actor.get_username() if actor else "",
        action=AuditAction(action),
        target_type=target._meta.label_lower if target is not None else "",
        target_id=target.pk if target is not None else None,
        target_repr=str(target)[:300] if target is not None else "",
        collection_id=_collection_id(target),
        before=_plain(before),
        after=_plain(after),
    )


def _collection_id(target: models.Model | None) -> int | None:
    if isinstance(target, Collection):
        return target.pk
    if hasattr(target, "collection_id"):
        return target.collection_id
    query = getattr(target, "query", None)  # a Match
    return getattr(query, "collection_id", None)


def _plain(value: Any) -> Any:
    return None if value is None else json.loads(json.dumps(value, cls=DjangoJSONEncoder))
