"""The client address that login throttling counts by.

Behind the compose file's nginx every request comes from nginx's address, so with ISC_BEHIND_PROXY=1 the
X-Real-IP header that nginx sets (and overwrites, so a client cannot forge it) is used instead.
"""

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    if settings.ISC_BEHIND_PROXY:
        forwarded = request.META.get("HTTP_X_REAL_IP", "").strip()
        if forwarded:
            return forwarded
    return request.META.get("REMOTE_ADDR")
