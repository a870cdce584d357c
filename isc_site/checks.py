"""Deployment checks of our own, run by `manage.py check --deploy` beside Django's."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Tags, Warning, register

# Passwords that ship in examples, images and older versions of our compose file.
WELL_KNOWN_PASSWORDS = {"", "isc", "postgres", "password", "changeme", "minioadmin"}


@register(Tags.security, deploy=True)
def database_password_check(app_configs, **kwargs) -> list[Warning]:
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        return [
            Warning(
                "SQLite is the database: fine for one machine, but web and workers then share a file "
                "lock. Set DATABASE_URL to PostgreSQL in production.",
                id="isc.W002",
            )
        ]
    if (database.get("PASSWORD") or "") in WELL_KNOWN_PASSWORDS:
        return [
            Warning(
                "The database password is empty or a well-known default. Set POSTGRES_PASSWORD "
                "(compose) or the password in DATABASE_URL to a secret.",
                id="isc.W001",
            )
        ]
    return []
