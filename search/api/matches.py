"""API: one match and the verdict on it."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from search.api import serializers as s
from search.api.base import (
    ERRORS,
    ApiView,
    errors,
    role_check,
    valid,
    visible,
)
from search.core.permissions import REVIEW
from search.queries import selectors
from search.review import services
from search.review.models import ReviewDecision


def _match(request: Request, match_id: int):
    return visible(selectors.match_get, "unknown_match", "match", match_id, user=request.user, match_id=match_id)


class MatchDetailView(ApiView):
    serializer_class = s.MatchSerializer

    @extend_schema(operation_id="matches_retrieve", responses={200: s.MatchSerializer, **ERRORS})
    def get(self, request: Request, match_id: int) -> Response:
        return Response(s.MatchSerializer(_match(request, match_id)).data)


class MatchVerdictView(ApiView):
    serializer_class = s.MatchSerializer

    @extend_schema(
        operation_id="matches_verdict_set",
        request=s.VerdictSerializer,
        responses={200: s.MatchSerializer, **errors(403, 409)},
        description=(
            "Confirms the match as a copy or rejects it (moderator role); a second verdict replaces the first. "
            "409 `claimed_by_other` while another moderator holds the item in the review queue."
        ),
    )
    def post(self, request: Request, match_id: int) -> Response:
        match = _match(request, match_id)
        role_check(request, team_id=match.query.collection.team_id, minimum=REVIEW)
        decision = valid(s.VerdictSerializer, request)["decision"]
        match = services.match_review(match=match, reviewer=request.user, decision=decision)
        return Response(s.MatchSerializer(match).data)

    @extend_schema(
        operation_id="matches_verdict_undo",
        responses={200: s.MatchSerializer, **errors(403)},
        description="Undoes the verdict (moderator role): the match is unreviewed again and back in the review queue.",
    )
    def delete(self, request: Request, match_id: int) -> Response:
        match = _match(request, match_id)
        role_check(request, team_id=match.query.collection.team_id, minimum=REVIEW)
        match = services.match_review(match=match, reviewer=request.user, decision=ReviewDecision.UNREVIEWED)
        return Response(s.MatchSerializer(match).data)
