"""One signed HTTP request of a webhook delivery."""

from __future__ import annotations

import logging
import time

import requests
from django.conf import settings

from search.webhooks import delivery_policy
from search.webhooks import services as webhooks_services
from search.webhooks.destinations import WebhookUrlRefused, url_check
from search.webhooks.models import WebhookDelivery
from search.webhooks.secret_box import SecretUnreadable
from search.webhooks.signing import HEADER_DELIVERY, HEADER_EVENT, HEADER_SIGNATURE, HEADER_TIMESTAMP, signature_header

logger = logging.getLogger(__name__)


USER_AGENT = "ISC-Webhooks/1"


SNIPPET_BYTES = 4096


def delivery_post(delivery: WebhookDelivery) -> delivery_policy.AttemptResult:
    """One signed POST of the delivery's body; never raises (every outcome becomes an attempt row)."""
    endpoint = delivery.endpoint
    try:
        if not endpoint.active:
            return delivery_policy.AttemptResult(error="The endpoint was deactivated.", permanent=True)
        url_check(endpoint.url, resolve=True)
        secrets = webhooks_services.endpoint_signing_secrets(endpoint)
    except (WebhookUrlRefused, SecretUnreadable) as error:
        return delivery_policy.AttemptResult(error=str(error), permanent=True)
    body = webhooks_services.delivery_body(delivery)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_SIGNATURE: signature_header(secrets=secrets, timestamp=timestamp, body=body),
        HEADER_EVENT: delivery.event_type,
        HEADER_DELIVERY: str(delivery.id),
    }
    timeout = settings.ISC.webhook_timeout_seconds
    started = time.perf_counter()
    try:
        with _session() as session:
            # Redirects are not followed: a receiver could point them at an address the URL check refuses.
            response = session.post(
                endpoint.url, data=body, headers=headers, timeout=timeout, allow_redirects=False, stream=True
            )
            with response:
                snippet = response.raw.read(SNIPPET_BYTES, decode_content=True) or b""
    except requests.Timeout:
        return delivery_policy.AttemptResult(error=f"No answer within {timeout:g} s.", duration_ms=_ms_since(started))
    except requests.RequestException as error:
        return delivery_policy.AttemptResult(error=f"{type(error).__name__}: {error}", duration_ms=_ms_since(started))
    status = response.status_code
    return delivery_policy.AttemptResult(
        status_code=status,
        error="" if 200 <= status < 300 else _status_error(status),
        duration_ms=_ms_since(started),
        response_snippet=snippet.decode("utf-8", errors="replace"),
        retry_after=_retry_after(response.headers.get("Retry-After")),
    )


def _session() -> requests.Session:
    session = requests.Session()
    # Deliveries go where the endpoint says, or through the configured proxy, never an inherited one.
    session.trust_env = False
    proxy = settings.ISC.webhook_proxy
    if proxy:
        session.proxies = {"http": proxy, "https": proxy}
    return session


def _status_error(status: int) -> str:
    if 300 <= status < 400:
        return f"HTTP {status}: redirects are not followed; point the endpoint at the final URL."
    return f"HTTP {status}"


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:  # an HTTP date: rare for webhooks; the backoff applies
        return None


def _ms_since(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
