"""`Authorization: Token <key>` (or `Bearer <key>`), checked against the hashed keys of search.ApiToken."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from search.teams import selectors, services

KEYWORDS = ("token", "bearer")


class HashedTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].decode(errors="replace").lower() not in KEYWORDS:
            return None  # no token offered: other authenticators (the session) may still apply
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("The Authorization header must be 'Token <key>'.")
        try:
            key = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("The token holds characters a key never has.") from None
        token = selectors.api_token_authenticate(key_hash=services.api_token_hash(key))
        if token is None:
            raise exceptions.AuthenticationFailed("Unknown or revoked token.")
        services.api_token_used(token=token)
        return token.user, token

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) to a request without credentials.
        return "Token"


class HashedTokenScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema describes this authentication (drf-spectacular finds it by `target_class`)."""

    target_class = "search.api.authentication.HashedTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>` (or `Bearer <key>`); create keys on the API tokens page.",
        }
