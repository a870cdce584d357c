"""Which URLs a webhook may point at."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

# Names that cloud providers resolve to their instance-metadata service.
METADATA_HOSTS = {
    "metadata.google.internal",
    "metadata.goog",
    "metadata",
    "instance-data",
    "instance-data.ec2.internal",
}


# AWS's IPv6 metadata address; it sits in the private fc00::/7 range, so it is named on its own.
METADATA_ADDRESSES = {ipaddress.ip_address("fd00:ec2::254")}


class WebhookUrlRefused(ValueError):
    """The message says why, for the form and for the delivery page."""


def url_check(url: str, *, resolve: bool) -> None:
    """Raises WebhookUrlRefused for a URL deliveries must not go to. With `resolve`, every address the host
    resolves to is checked; a name that does not resolve passes (the attempt then fails and is retried)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise WebhookUrlRefused("Only http:// and https:// URLs can receive webhooks.")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise WebhookUrlRefused("The URL has no host.")
    if host in METADATA_HOSTS:
        raise WebhookUrlRefused(f"{host} is a cloud metadata service.")
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        addresses = _resolve(host, parts.port or (443 if parts.scheme == "https" else 80)) if resolve else []
    for address in addresses:
        address_check(address)


def address_check(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    isc = settings.ISC
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_link_local or address in METADATA_ADDRESSES:
        raise WebhookUrlRefused(f"{address} is a link-local or metadata address.")
    if address.is_loopback:
        if isc.webhook_allow_loopback:
            return
        raise WebhookUrlRefused(f"{address} is a loopback address (allowed only with ISC_WEBHOOK_ALLOW_LOOPBACK=1).")
    if address.is_unspecified or address.is_multicast or address.is_reserved:
        raise WebhookUrlRefused(f"{address} is not an address a receiver can have.")
    if not address.is_global and not isc.webhook_allow_private:
        raise WebhookUrlRefused(f"{address} is a private address (allowed only with ISC_WEBHOOK_ALLOW_PRIVATE=1).")


def _resolve(host: str, port: int) -> list:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror:
        return []
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
