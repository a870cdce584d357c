"""Exchange credentials at rest: JSON encrypted with the webhook secrets' keys (search/webhooks/secret_box.py),
decrypted only inside a fetch."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from search.webhooks.secret_box import secret_decrypt, secret_encrypt

# The fields each exchange's credentials hold (what threatexchange's credential classes take).
CREDENTIAL_FIELDS: dict[str, tuple[str, ...]] = {
    "fb_threatexchange": ("api_token",),
    "ncmec": ("user", "password"),
    "stop_ncii": ("fetch_function_key", "subscription_key"),
    "tat": ("username", "password"),
    "local_file": (),
}


def credentials_encrypt(values: dict[str, Any]) -> tuple[str, str]:
    """(ciphertext, hint): the hint is 8 hex digits of the JSON's SHA-256, to tell two settings apart."""
    text = json.dumps(values, sort_keys=True)
    return secret_encrypt(text), hashlib.sha256(text.encode()).hexdigest()[:8]


def credentials_decrypt(ciphertext: str) -> dict[str, Any]:
    return json.loads(secret_decrypt(ciphertext)) if ciphertext else {}
