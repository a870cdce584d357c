"""Rate limits, read from settings.ISC_API["THROTTLE_RATES"] on every request, so tests and operators can
change them without re-importing DRF (its own throttles freeze the rates at import)."""

from __future__ import annotations

from django.conf import settings
from rest_framework import throttling


class _SettingsRate:
    def get_rate(self) -> str | None:
        return settings.ISC_API["THROTTLE_RATES"].get(self.scope)


class UserThrottle(_SettingsRate, throttling.UserRateThrottle):
    """Every authenticated request, per user."""

    scope = "user"


class AnonThrottle(_SettingsRate, throttling.AnonRateThrottle):
    """Requests without valid credentials, per client address (bounds token guessing too)."""

    scope = "anon"


class UploadThrottle(_SettingsRate, throttling.UserRateThrottle):
    """Uploads (references, queries, evaluation files), per user, on top of the general limit."""

    scope = "upload"
