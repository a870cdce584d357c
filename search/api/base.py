"""What every API view shares: the order of request checks, scoped lookups that answer with a code, role
checks, input validation, and the upload rate limit."""

from __future__ import annotations

from collections.abc import Callable

from django.http import Http404
from rest_framework import generics
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request

from search.api import serializers as s
from search.api.errors import ApiError, not_visible
from search.api.throttles import UploadThrottle
from search.collection import selectors
from search.core import permissions
from search.core.uploads import Rejection


class ApiView(generics.GenericAPIView):
    """DRF's request checks with the rate limits first: DRF checks permissions before throttles, so a
    client without valid credentials would get its 401 forever and never meet the anonymous limit
    (which is what bounds token guessing).

    `query_parameters`: the query-string parameters each method takes (the schema lists the same). Any
    other is refused, as unknown body fields are: a misspelt `?page_sise=10` must not be silently ignored.
    """

    query_parameters: dict[str, frozenset[str]] | None = {}  # None: not checked (the JSON 404 view)

    def initial(self, request: Request, *args, **kwargs) -> None:
        self.format_kwarg = self.get_format_suffix(**kwargs)
        request.accepted_renderer, request.accepted_media_type = self.perform_content_negotiation(request)
        request.version, request.versioning_scheme = self.determine_version(request, *args, **kwargs)
        try:
            self.perform_authentication(request)
        except AuthenticationFailed:
            self.check_throttles(request)  # the request now counts as anonymous
            raise
        self.check_throttles(request)
        self.check_permissions(request)
        self.query_parameters_check(request)

    def query_parameters_check(self, request: Request) -> None:
        if self.query_parameters is None or not hasattr(self, request.method.lower()):
            return  # a method the view lacks is answered 405 by DRF's dispatch
        allowed = self.query_parameters.get("GET" if request.method == "HEAD" else request.method, frozenset())
        unknown = sorted(set(request.query_params) - allowed)
        if unknown:
            takes = ", ".join(sorted(allowed)) or "none"
            raise ApiError("invalid_parameter", f"Unknown query parameter {', '.join(unknown)!r}; this takes: {takes}.")


PAGED = frozenset({"page", "page_size"})


ERRORS = {code: s.ErrorSerializer for code in (400, 401, 404, 429)}


def errors(*extra: int) -> dict:
    return {**ERRORS, **{code: s.ErrorSerializer for code in extra}}


def visible(selector: Callable, code: str, what: str, object_id: int, **kwargs):
    """The object from a scoped selector, or a 404 that looks the same whether it exists or not."""
    try:
        return selector(**kwargs)
    except Http404:
        raise not_visible(code, what, object_id) from None


def reference_visible(request: Request, reference_id: int):
    return visible(
        selectors.reference_get,
        "unknown_reference",
        "reference",
        reference_id,
        user=request.user,
        reference_id=reference_id,
    )


def collection_visible(request: Request, collection_id: int):
    return visible(
        selectors.collection_get,
        "unknown_collection",
        "collection",
        collection_id,
        user=request.user,
        collection_id=collection_id,
    )


def role_check(request: Request, *, team_id: int, minimum) -> None:
    """The role an action needs (search.permissions' table, which the services check again), checked
    before the body is read, so a viewer's upload is refused without parsing it: 403 role_required."""
    permissions.role_require(user=request.user, team=team_id, minimum=minimum)


def valid(serializer_class, request: Request, **kwargs) -> dict:
    serializer = serializer_class(data=request.data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class UploadMixin:
    """POST requests here also count against the upload rate limit."""

    parser_classes = [MultiPartParser]

    def get_throttles(self):
        throttles = super().get_throttles()
        return [*throttles, UploadThrottle()] if self.request.method == "POST" else throttles


def rejection_raise(rejection: Rejection) -> None:
    code = "too_large" if rejection.code == "too_large" else "bad_image"
    raise ApiError(code, f"{rejection.name}: {rejection.reason}")
