"""API: queries of a collection: upload (optionally waiting for the result), detail, matches."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from copydetect.imaging import ImageRejected
from search.api import serializers as s
from search.api.base import (
    ERRORS,
    PAGED,
    ApiView,
    UploadMixin,
    collection_visible,
    errors,
    rejection_raise,
    role_check,
    valid,
    visible,
)
from search.api.errors import ApiError
from search.core import uploads
from search.core.permissions import UPLOAD
from search.core.uploads import Payload, Rejection, files_read
from search.queries import selectors
from search.queries import services as queries_services

WAIT_PARAMETER = OpenApiParameter(
    "wait",
    {"type": "number", "minimum": 0, "maximum": settings.ISC_API["MAX_WAIT_SECONDS"]},
    required=False,
    description=(
        "Seconds (0 to ISC_API_MAX_WAIT_SECONDS, 30 by default) to hold the request until the search has "
        "finished. Finished in time: the result with its matches (201 new, 200 for the same bytes sent "
        "before). Not yet: 202 with the status; poll the Location URL."
    ),
)


NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?")


def _wait_seconds(request: Request) -> float:
    raw = request.query_params.get("wait", "0")
    limit = settings.ISC_API["MAX_WAIT_SECONDS"]
    # Compared as written, not as the nearest float: 30.0000000000000001 is above the bound.
    seconds = Decimal(raw) if NUMBER.fullmatch(raw) else Decimal(-1)
    if not 0 <= seconds <= limit:
        raise ApiError("invalid_parameter", f"wait must be a number of seconds from 0 to {limit}.")
    return float(seconds)


class QueryListView(UploadMixin, ApiView):
    serializer_class = s.QuerySerializer
    query_parameters = {"GET": PAGED, "POST": frozenset({"wait"})}

    @extend_schema(operation_id="queries_list", responses={200: s.QuerySerializer(many=True), **ERRORS})
    def get(self, request: Request, collection_id: int) -> Response:
        collection = collection_visible(request, collection_id)
        page = self.paginate_queryset(selectors.query_list(collection=collection).order_by("-created_at", "-id"))
        return self.get_paginated_response(s.QuerySerializer(page, many=True, context={"request": request}).data)

    @extend_schema(
        operation_id="queries_upload",
        parameters=[WAIT_PARAMETER],
        request=s.QueryUploadSerializer,
        responses={
            201: s.QueryResultSerializer,
            200: s.QueryResultSerializer,
            202: s.QuerySerializer,
            **errors(403, 413),
        },
        description="Searches an image against the collection (uploader role).",
    )
    def post(self, request: Request, collection_id: int) -> Response:
        collection = collection_visible(request, collection_id)
        role_check(request, team_id=collection.team_id, minimum=UPLOAD)
        seconds = _wait_seconds(request)
        upload = valid(s.QueryUploadSerializer, request)["file"]
        item = next(files_read([upload], limits=uploads.upload_limits()))
        if isinstance(item, Rejection):
            rejection_raise(item)
        try:
            query, created = queries_services.query_image_add(
                actor=request.user, collection=collection, payload=Payload(Path(item.name).name, item.data)
            )
        except ImageRejected as exc:
            raise ApiError(exc.code, f"{item.name}: {exc}") from None
        query = selectors.query_wait(query=query, seconds=seconds)
        return _query_response(
            request, query, finished_status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


def _query_response(request: Request, query, *, finished_status: int) -> Response:
    location = request.build_absolute_uri(reverse("api:query_detail", args=[query.id]))
    if query.status not in selectors.QUERY_FINISHED:
        body = s.QuerySerializer(query, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": location})
    body = s.QueryResultSerializer(query, context={"request": request}).data
    return Response(body, status=finished_status, headers={"Location": location})


class QueryDetailView(ApiView):
    serializer_class = s.QueryResultSerializer
    query_parameters = {"GET": frozenset({"wait"})}

    @extend_schema(
        operation_id="queries_retrieve",
        parameters=[WAIT_PARAMETER],
        responses={200: s.QueryResultSerializer, 202: s.QuerySerializer, **ERRORS},
        description="The query's status; once finished, its matches too. `?wait` holds the request as on upload.",
    )
    def get(self, request: Request, query_id: int) -> Response:
        query = _query(request, query_id)
        query = selectors.query_wait(query=query, seconds=_wait_seconds(request))
        return _query_response(request, query, finished_status=status.HTTP_200_OK)


def _query(request: Request, query_id: int):
    return visible(selectors.query_get, "unknown_query", "query", query_id, user=request.user, query_id=query_id)


class QueryMatchesView(ApiView):
    serializer_class = s.MatchSerializer
    query_parameters = {"GET": PAGED}

    @extend_schema(operation_id="queries_matches", responses={200: s.MatchSerializer(many=True), **ERRORS})
    def get(self, request: Request, query_id: int) -> Response:
        page = self.paginate_queryset(selectors.match_list(query=_query(request, query_id)))
        return self.get_paginated_response(s.MatchSerializer(page, many=True).data)
