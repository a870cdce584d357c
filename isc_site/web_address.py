"""The address people open, from the address the site listens on (ISC_WEB_ADDRESS, as runserver takes it).

No Django here: scripts/run_stack.py prints it before the site starts, `ensure_admin` prints the login URL.
"""

from __future__ import annotations

DEFAULT_WEB_ADDRESS = "127.0.0.1:8000"

# Listening on every interface is not an address a browser can open; this machine's loopback is.
_ANY_HOSTS = {"", "0", "0.0.0.0", "::", "[::]"}


def site_url(address: str) -> str:
    """'0.0.0.0:8630' → 'http://127.0.0.1:8630/'; '8630' → 'http://127.0.0.1:8630/'; '[::1]:8630' kept."""
    address = (address or DEFAULT_WEB_ADDRESS).strip()
    if address.isdigit():
        host, port = "", address
    else:
        host, _, port = address.rpartition(":")
        if not port.isdigit():
            host, port = address, "8000"
    if host in _ANY_HOSTS:
        host = "127.0.0.1"
    return f"http://{host}:{port}/"


def login_url(address: str) -> str:
    return site_url(address) + "accounts/login/"
