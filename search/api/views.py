"""Thin API views: find the object through a selector (scoped to the user's teams: 404 outside them),
check the role the action needs (403 role_required), check the input, call one service, serialise.
Scoping lives in search/selectors.py, the role table in search/permissions.py."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import IntegrityError
from django.http import Http404, HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from copydetect.imaging import ImageRejected, sha256_of
from search import evaluation, media, references, selectors, services
from search import reindex as reindex_services
from search.api import serializers as s
from search.api.base import (
    ERRORS,
    ApiView,
    UploadMixin,
    collection_visible,
    errors,
    reference_visible,
    rejection_raise,
    role_check,
    valid,
    visible,
)
from search.api.errors import ApiError
from search.api.permissions import IsStaff
from search.models import ImageStatus, ReviewDecision, Team
from search.permissions import MANAGE, REVIEW, UPLOAD
from search.uploads import Payload, Rejection, files_read

# --- Teams ---------------------------------------------------------------------------------------


class TeamListView(ApiView):
    serializer_class = s.TeamSerializer

    @extend_schema(
        operation_id="teams_list",
        responses={200: s.TeamSerializer(many=True), **ERRORS},
        description="The teams you are a member of, with your role in each (read-only; teams are managed on the site).",
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.team_list(user=request.user).order_by("name", "id"))
        return self.get_paginated_response(s.TeamSerializer(page, many=True).data)


# --- Collections ---------------------------------------------------------------------------------

TEAM_PARAMETER = OpenApiParameter("team", required=False, description="Only the collections of this team (slug).")


class CollectionListView(ApiView):
    serializer_class = s.CollectionSerializer

    @extend_schema(
        operation_id="collections_list",
        parameters=[TEAM_PARAMETER],
        responses={200: s.CollectionSerializer(many=True), **ERRORS},
        description="The collections of every team you are in (viewer or above).",
    )
    def get(self, request: Request) -> Response:
        collections = selectors.collection_list(user=request.user)
        if team := request.query_params.get("team"):
            collections = collections.filter(team__slug=team)
        page = self.paginate_queryset(collections.order_by("-created_at", "-id"))
        return self.get_paginated_response(s.CollectionSerializer(page, many=True).data)

    @extend_schema(
        operation_id="collections_create",
        request=s.CollectionCreateSerializer,
        responses={201: s.CollectionDetailSerializer, **errors(403, 409)},
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
            team, _ = selectors.team_get(user=request.user, slug=slug)
        except Http404:
            raise ApiError("unknown_team", f"You are not a member of a team {slug!r}.") from None
        return team
    admin_teams = list(selectors.team_admin_list(user=request.user).order_by("slug"))
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


# --- References ----------------------------------------------------------------------------------

STATUS_PARAMETER = OpenApiParameter(
    "status", enum=ImageStatus.values, required=False, description="Only references in this state."
)


class ReferenceListView(UploadMixin, ApiView):
    serializer_class = s.ReferenceSerializer

    @extend_schema(
        operation_id="references_list",
        parameters=[STATUS_PARAMETER],
        responses={200: s.ReferenceSerializer(many=True), **ERRORS},
    )
    def get(self, request: Request, collection_id: int) -> Response:
        collection = collection_visible(request, collection_id)
        state = request.query_params.get("status") or None
        if state is not None and state not in ImageStatus.values:
            raise ApiError("invalid_parameter", f"status must be one of {', '.join(ImageStatus.values)}.")
        references = selectors.reference_list(collection=collection, status=state).order_by("-created_at", "-id")
        page = self.paginate_queryset(references)
        return self.get_paginated_response(s.ReferenceSerializer(page, many=True, context={"request": request}).data)

    @extend_schema(
        operation_id="references_upload",
        request=s.ReferenceUploadSerializer,
        responses={201: s.ReferenceSerializer, **errors(403, 409, 413)},
        description=(
            "Stores one image and queues it for indexing (uploader role); follow its `status` in the reference list."
        ),
    )
    def post(self, request: Request, collection_id: int) -> Response:
        collection = collection_visible(request, collection_id)
        role_check(request, team_id=collection.team_id, minimum=UPLOAD)
        upload = valid(s.ReferenceUploadSerializer, request)["file"]
        items = list(files_read([upload], limits=services.upload_limits()))
        report = services.reference_images_add(actor=request.user, collection=collection, items=items)
        if report.rejected:
            rejection_raise(report.rejected[0])
        if report.duplicates:
            existing = selectors.reference_find(collection=collection, sha256=sha256_of(items[0].data))
            raise ApiError(
                "duplicate",
                f"{report.duplicates[0]}: these exact bytes are already in the collection.",
                existing_id=existing.id if existing else None,
            )
        return Response(
            s.ReferenceSerializer(report.created[0], context={"request": request}).data, status=status.HTTP_201_CREATED
        )


class ReferenceBatchView(UploadMixin, ApiView):
    serializer_class = s.UploadReportSerializer

    @extend_schema(
        operation_id="references_upload_batch",
        request=s.ReferenceBatchSerializer,
        responses={201: s.UploadReportSerializer, 200: s.UploadReportSerializer, **errors(403, 413)},
        description=(
            "Stores many images in one multipart request (repeat the `files` field; uploader role). Each file "
            "is reported: "
            "created, duplicate (already in the collection) or rejected with a code and reason. 201 when at "
            "least one file was added, else 200."
        ),
    )
    def post(self, request: Request, collection_id: int) -> Response:
        collection = collection_visible(request, collection_id)
        role_check(request, team_id=collection.team_id, minimum=UPLOAD)
        uploads = valid(s.ReferenceBatchSerializer, request)["files"]
        report = services.reference_images_add(
            actor=request.user, collection=collection, items=files_read(uploads, limits=services.upload_limits())
        )
        body = s.UploadReportSerializer(report, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED if report.created else status.HTTP_200_OK)


class ReferenceDetailView(ApiView):
    serializer_class = s.ReferenceSerializer

    @extend_schema(operation_id="references_retrieve", responses={200: s.ReferenceSerializer, **ERRORS})
    def get(self, request: Request, reference_id: int) -> Response:
        reference = reference_visible(request, reference_id)
        return Response(s.ReferenceSerializer(reference, context={"request": request}).data)

    @extend_schema(
        operation_id="references_delete",
        responses={
            204: OpenApiResponse(
                description="Out of every result and review queue at once; restorable until `purge_after`."
            ),
            **errors(403),
        },
        description=(
            "Moderator role, as on the page: the reference is soft-deleted (`deleted_at` set) and purged with its "
            "matches, vector and file after ISC_REFERENCE_DELETE_GRACE_DAYS days. Deleting it again is a no-op."
        ),
    )
    def delete(self, request: Request, reference_id: int) -> Response:
        reference = reference_visible(request, reference_id)
        role_check(request, team_id=reference.collection.team_id, minimum=REVIEW)
        references.reference_delete(actor=request.user, reference=reference)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReferenceRestoreView(ApiView):
    serializer_class = s.ReferenceSerializer

    @extend_schema(
        operation_id="references_restore",
        request=None,
        responses={200: s.ReferenceSerializer, **errors(403, 409)},
        description=(
            "Moderator role: undoes a delete within the grace period (a reference that is not deleted is returned "
            "as it is); `restore_expired` after it."
        ),
    )
    def post(self, request: Request, reference_id: int) -> Response:
        reference = reference_visible(request, reference_id)
        role_check(request, team_id=reference.collection.team_id, minimum=REVIEW)
        if reference.deleted_at is not None and not references.reference_restore(
            actor=request.user, reference=reference
        ):
            raise ApiError(
                "restore_expired",
                f"{reference.original_name} was deleted on {reference.deleted_at:%Y-%m-%d}; "
                "its grace period is over and it is purged or about to be.",
            )
        reference.refresh_from_db()
        return Response(s.ReferenceSerializer(reference, context={"request": request}).data)


# --- Image files ---------------------------------------------------------------------------------

VARIANT_PARAMETER = OpenApiParameter(
    "variant",
    enum=list(media.VARIANTS),
    required=False,
    description="original (the bytes uploaded, the default), thumb (256 px JPEG) or preview (1024 px JPEG).",
)
FILE_RESPONSES = {
    (200, "image/*"): OpenApiResponse(OpenApiTypes.BINARY, description="The image."),
    **{code: OpenApiResponse(s.ErrorSerializer) for code in (400, 401, 404, 429)},
}


class _ImageFileView(ApiView):
    """The image bytes for token clients (the pages' /files/ URLs need a browser session); viewer role."""

    kind = ""

    def perform_content_negotiation(self, request, force=False):
        # The answer is an image, not a rendered body; the JSON renderer stays for the error answers.
        return super().perform_content_negotiation(request, force=True)

    def _file(self, request: Request, image_id: int) -> HttpResponse:
        variant = request.query_params.get("variant", "original")
        if variant not in media.VARIANTS:
            raise ApiError("invalid_parameter", f"variant must be one of {', '.join(media.VARIANTS)}.")
        image = visible(
            selectors.stored_image_get,
            f"unknown_{self.kind}",
            self.kind,
            image_id,
            user=request.user,
            kind=self.kind,
            image_id=image_id,
        )
        try:
            return media.image_response(image=image, variant=variant)
        except Http404:
            raise ApiError(
                "file_missing", "The image file is missing or unreadable.", status_code=status.HTTP_404_NOT_FOUND
            ) from None


class ReferenceFileView(_ImageFileView):
    kind = "reference"

    @extend_schema(operation_id="references_file", parameters=[VARIANT_PARAMETER], responses=FILE_RESPONSES)
    def get(self, request: Request, reference_id: int) -> HttpResponse:
        return self._file(request, reference_id)


class QueryFileView(_ImageFileView):
    kind = "query"

    @extend_schema(operation_id="queries_file", parameters=[VARIANT_PARAMETER], responses=FILE_RESPONSES)
    def get(self, request: Request, query_id: int) -> HttpResponse:
        return self._file(request, query_id)


# --- Queries -------------------------------------------------------------------------------------

WAIT_PARAMETER = OpenApiParameter(
    "wait",
    float,
    required=False,
    description=(
        "Seconds (0 to ISC_API_MAX_WAIT_SECONDS, 30 by default) to hold the request until the search has "
        "finished. Finished in time: the result with its matches (201 new, 200 for the same bytes sent "
        "before). Not yet: 202 with the status; poll the Location URL."
    ),
)


def _wait_seconds(request: Request) -> float:
    raw = request.query_params.get("wait", "0")
    limit = settings.ISC_API["MAX_WAIT_SECONDS"]
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= limit:  # also refuses nan
        raise ApiError("invalid_parameter", f"wait must be a number of seconds from 0 to {limit}.")
    return seconds


class QueryListView(UploadMixin, ApiView):
    serializer_class = s.QuerySerializer

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
        item = next(files_read([upload], limits=services.upload_limits()))
        if isinstance(item, Rejection):
            rejection_raise(item)
        try:
            query, created = services.query_image_add(
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

    @extend_schema(operation_id="queries_matches", responses={200: s.MatchSerializer(many=True), **ERRORS})
    def get(self, request: Request, query_id: int) -> Response:
        page = self.paginate_queryset(selectors.match_list(query=_query(request, query_id)))
        return self.get_paginated_response(s.MatchSerializer(page, many=True).data)


# --- Matches and verdicts ------------------------------------------------------------------------


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
        responses={200: s.MatchSerializer, **errors(403)},
        description=(
            "Confirms the match as a copy or rejects it (moderator role); a second verdict replaces the first."
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


# --- Evaluation ----------------------------------------------------------------------------------


class CollectionEvaluationView(UploadMixin, ApiView):
    serializer_class = s.EvaluationSerializer

    @extend_schema(
        operation_id="collections_evaluate",
        request=s.EvaluationRequestSerializer,
        responses={200: s.EvaluationSerializer, **errors(413)},
        description=(
            "Scores the collection's matches against a DISC21 ground-truth CSV (ids are file stems): µAP, "
            "recall at 90 % precision, counts, and with an edits file the breakdown by family and difficulty. "
            "Nothing is stored, so the viewer role is enough."
        ),
    )
    def post(self, request: Request, collection_id: int) -> Response:
        collection = collection_visible(request, collection_id)
        data = valid(s.EvaluationRequestSerializer, request)
        ground_truth = _csv_parse(data["ground_truth"], evaluation.ground_truth_parse)
        edits = _csv_parse(data["edits"], evaluation.edits_parse) if data.get("edits") else None
        result = evaluation.collection_evaluate(collection=collection, ground_truth=ground_truth, edits=edits)
        return Response(s.EvaluationSerializer(result).data)


def _csv_parse(upload, parse):
    limit = settings.ISC["MAX_UPLOAD_BYTES"]
    if upload.size > limit:
        raise ApiError("too_large", f"{upload.name} is {upload.size / 1e6:.1f} MB; the limit is {limit / 1e6:.1f} MB.")
    try:
        return parse(data=upload.read(), name=upload.name)
    except ValueError as error:
        raise ApiError("bad_csv", str(error)) from None


# --- Jobs ----------------------------------------------------------------------------------------


class ReindexJobListView(ApiView):
    serializer_class = s.ReindexJobSerializer
    permission_classes = [*ApiView.permission_classes, IsStaff]

    @extend_schema(
        operation_id="jobs_reindex_list",
        responses={200: s.ReindexJobSerializer(many=True), **errors(403)},
        description="Staff only.",
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.reindex_job_list(user=request.user).order_by("-created_at", "-id"))
        return self.get_paginated_response(s.ReindexJobSerializer(page, many=True).data)

    @extend_schema(
        operation_id="jobs_reindex_start",
        request=None,
        responses={201: s.ReindexJobSerializer, 200: s.ReindexJobSerializer, **errors(403)},
        description=(
            "Staff only: re-embeds every reference beside the live index, then swaps it in. One job at a time: "
            "while one is queued or running, the answer is that job with 200."
        ),
    )
    def post(self, request: Request) -> Response:
        job, created = reindex_services.reindex_job_start(actor=request.user)
        return Response(
            s.ReindexJobSerializer(job).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class ReindexJobDetailView(ApiView):
    serializer_class = s.ReindexJobSerializer
    permission_classes = [*ApiView.permission_classes, IsStaff]

    @extend_schema(
        operation_id="jobs_reindex_retrieve",
        responses={200: s.ReindexJobSerializer, **errors(403)},
        description="Staff only.",
    )
    def get(self, request: Request, job_id: int) -> Response:
        job = visible(selectors.reindex_job_get, "unknown_job", "job", job_id, user=request.user, job_id=job_id)
        return Response(s.ReindexJobSerializer(job).data)


# --- Anything else under /api/ -------------------------------------------------------------------


@extend_schema(exclude=True)
class NotFoundView(ApiView):
    """Unknown API URLs answer in JSON with a code, like every other API error, not with an HTML page."""

    permission_classes = []

    def _not_found(self, request: Request, *args, **kwargs) -> Response:
        raise ApiError("not_found", f"No API endpoint at {request.path}.", status_code=status.HTTP_404_NOT_FOUND)

    get = post = put = patch = delete = _not_found
