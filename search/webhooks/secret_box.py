"""Endpoint secrets: made here, stored encrypted, decrypted only to sign."""

from __future__ import annotations

import base64
import hashlib
import secrets

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

SECRET_PREFIX = "whsec_"


class SecretUnreadable(Exception):
    """A stored secret that the configured keys cannot decrypt (the keys changed): rotate it."""


def secret_generate() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def secret_hint(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:8]


def _keys() -> MultiFernet:
    configured = settings.ISC.webhook_secret_keys or []
    if configured:
        return MultiFernet([Fernet(key.encode() if isinstance(key, str) else key) for key in configured])
    # A separate key per purpose, so the session signing key itself never encrypts anything.
    derived = hashlib.sha256(b"isc-webhook-secrets:" + settings.SECRET_KEY.encode()).digest()
    return MultiFernet([Fernet(base64.urlsafe_b64encode(derived))])


def secret_encrypt(secret: str) -> str:
    return _keys().encrypt(secret.encode()).decode()


def secret_decrypt(token: str) -> str:
    try:
        return _keys().decrypt(token.encode()).decode()
    except InvalidToken as error:
        raise SecretUnreadable(
            "The endpoint's secret cannot be decrypted with the configured keys; rotate the secret."
        ) from error
