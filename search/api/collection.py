"""API: collections, their settings and progress."""

from __future__ import annotations

from django.db import IntegrityError
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from search.api import serializers as s
from search.api.base import (
    ERRORS,
    PAGED,
    ApiView,
    collection_visible,
    errors,
    role_check,
    valid,
)
from search.api.errors import ApiError
from search.api.teams import TEAM_PARAMETER
from search.collection import selectors as collection_selectors
from search.collection import services
from search.core.permissions import MANAGE
from search.teams import selectors as teams_selectors
from search.teams.models import Team


class CollectionListView(ApiView):
    serializer_class = s.CollectionSerializer
    query_parameters = {"GET": PAGED | {"team"}}

    @extend_schema(
        operation_id="collections_list",
        parameters=[TEAM_PARAMETER],
        responses={200: s.CollectionSerializer(many=True), **ERRORS},
        description="The collections of every team you are in (viewer or above).",
    )
    def get(self, request: Request) -> Response:
        collections = collection_selectors.collection_list(user=request.user)
        if team := request.query_params.get("team"):
            collections = collections.filter(team__slug=team)
        page = self.paginate_queryset(collections.order_by("-created_at", "-id"))
        return self.get_paginated_response(s.CollectionSerializer(page, many=True).data)

    @extend_schema(
        operation_id="collections_create",
        request=s.CollectionCreateSerializer,
        responses={201: s.CollectionDetailSerializer, **errors(403, 404, 409)},
        description="Needs the admin role in the team. `team` may be left out when you are admin of exactly one.",
    )
    def post(self, request: Request) -> Response:
        data = valid(s.CollectionCreateSerializer, request)
        team = _team_for_new_collection(request, data.pop("team", None))
        try:
            collection = services.collection_create(actor=request.user, team=team, **data)
        except IntegrityError:
            raise ApiError("duplicate", f"{team} already has a collection named {data['name']!r}.") from None
        return Response(_collection_detail(collection), status=status.HTTP_201_CREATED)


def _team_for_new_collection(request: Request, slug: str | None) -> Team:
    """The named team (one of the user's: the service then checks the admin role), else the user's only
    admin team."""
    if slug is not None:
        try:
            team, _ = teams_selectors.team_get(user=request.user, slug=slug)
        except Http404:
            raise ApiError(
                "unknown_team", f"You are not a member of a team {slug!r}.", status_code=status.HTTP_404_NOT_FOUND
            ) from None
        return team
    admin_teams = list(teams_selectors.team_admin_list(user=request.user).order_by("slug"))
    if len(admin_teams) == 1:
        return admin_teams[0]
    slugs = [team.slug for team in admin_teams]
    reason = "you are admin of no team" if not slugs else f"you are admin of several: {', '.join(slugs)}"
    raise ApiError("team_required", f"Say in which team (`team`: its slug); {reason}.", admin_teams=slugs)


def _collection_detail(collection) -> dict:
    return s.CollectionDetailSerializer(collection).data


class CollectionDetailView(ApiView):
    serializer_class = s.CollectionDetailSerializer

    @extend_schema(operation_id="collections_retrieve", responses={200: s.CollectionDetailSerializer, **ERRORS})
    def get(self, request: Request, collection_id: int) -> Response:
        return Response(_collection_detail(collection_visible(request, collection_id)))

    @extend_schema(
        operation_id="collections_settings_update",
        request=s.CollectionWriteSerializer(partial=True),
        responses={200: s.CollectionDetailSerializer, **errors(403, 409)},
        description=(
            "Changes any of name, description and match_threshold (admin role); fields left out keep their value."
        ),
    )
    def patch(self, request: Request, collection_id: int) -> Response:
        collection = collection_visible(request, collection_id)
        role_check(request, team_id=collection.team_id, minimum=MANAGE)
        data = valid(s.CollectionWriteSerializer, request, partial=True)
        try:
            services.collection_update(
                actor=request.user,
                collection=collection,
                name=data.get("name", collection.name),
                description=data.get("description", collection.description),
                match_threshold=data.get("match_threshold", collection.match_threshold),
            )
        except IntegrityError:
            raise ApiError("duplicate", f"{collection.team} already has a collection named {data['name']!r}.") from None
        return Response(_collection_detail(collection))
