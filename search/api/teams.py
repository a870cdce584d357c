"""API: the user's teams."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from search.api import serializers as s
from search.api.base import (
    ERRORS,
    PAGED,
    ApiView,
)
from search.teams import selectors


class TeamListView(ApiView):
    serializer_class = s.TeamSerializer
    query_parameters = {"GET": PAGED}

    @extend_schema(
        operation_id="teams_list",
        responses={200: s.TeamSerializer(many=True), **ERRORS},
        description="The teams you are a member of, with your role in each (read-only; teams are managed on the site).",
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.team_list(user=request.user).order_by("name", "id"))
        return self.get_paginated_response(s.TeamSerializer(page, many=True).data)


TEAM_PARAMETER = OpenApiParameter("team", required=False, description="Only the collections of this team (slug).")
