"""The audit log as people read it: an event's object and its before/after values in words.

The stored values stay JSON (the CSV export keeps them so); this only decides how a page shows them.
"""

from __future__ import annotations

import re
from typing import Any

from django.apps import apps

from search.core.models import AuditEvent

# Rows written before a model had a description of its own were named by Django's default str().
_DEFAULT_REPR = re.compile(r"^\w+ object \(\d+\)$")

_ISO_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.\d+)?(Z|[+-]00:00)?$")


def audit_target_text(*, event: AuditEvent) -> str:
    """'match #81 q1.jpg → r1.jpg (rank 1)'; the kind and id alone when nothing better was stored."""
    if not event.target_type:
        return ""
    kind = _kind(event.target_type)
    label = f"{kind} #{event.target_id}" if event.target_id is not None else kind
    description = event.target_repr.strip()
    if not description or _DEFAULT_REPR.match(description):
        return label
    return f"{label} {description}"


def _kind(target_type: str) -> str:
    """'search.queryimage' → 'query image' (the model's verbose name; the bare name for a model gone since)."""
    try:
        return str(apps.get_model(target_type)._meta.verbose_name)
    except (LookupError, ValueError):
        return target_type.split(".")[-1].replace("_", " ")


def audit_value_lines(value: Any) -> list[tuple[str, str]]:
    """A before/after value as (field, text) lines; a value that is not a mapping is one line without a field."""
    if value is None or value == {}:
        return []
    if isinstance(value, dict):
        return [(_field(key), _text(item)) for key, item in value.items()]
    return [("", _text(value))]


def _field(key: str) -> str:
    return str(key).replace("_", " ")


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        moment = _ISO_TIME.match(value)
        if moment:
            return f"{moment.group(1)} {moment.group(2)}{' UTC' if moment.group(3) else ''}"
        return value
    if isinstance(value, list):
        return ", ".join(_text(item) for item in value) or "none"
    if isinstance(value, dict):
        return "; ".join(f"{_field(key)}: {_text(item)}" for key, item in value.items()) or "none"
    return str(value)
