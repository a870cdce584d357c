"""API: the JSON 404 for unknown API paths."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from search.api.base import (
    ApiView,
)
from search.api.errors import ApiError


@extend_schema(exclude=True)
class NotFoundView(ApiView):
    """Unknown API URLs answer in JSON with a code, like every other API error, not with an HTML page."""

    permission_classes = []
    query_parameters = None

    def _not_found(self, request: Request, *args, **kwargs) -> Response:
        raise ApiError("not_found", f"No API endpoint at {request.path}.", status_code=status.HTTP_404_NOT_FOUND)

    get = post = put = patch = delete = _not_found
