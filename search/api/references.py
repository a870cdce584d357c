"""API: reference images of a collection: list, upload, detail, soft delete and restore, files."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from copydetect.imaging import sha256_of
from search.api import serializers as s
from search.api.base import (
    ERRORS,
    PAGED,
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
from search.collection import selectors as collection_selectors
from search.collection import services as collection_services
from search.collection.models import ImageStatus
from search.core import media, uploads
from search.core.permissions import REVIEW, UPLOAD
from search.core.uploads import files_read
from search.images import selectors as images_selectors

STATUS_PARAMETER = OpenApiParameter(
    "status", enum=ImageStatus.values, required=False, description="Only references in this state."
)


class ReferenceListView(UploadMixin, ApiView):
    serializer_class = s.ReferenceSerializer
    query_parameters = {"GET": PAGED | {"status"}}

    @extend_schema(
        operation_id="references_list",
        parameters=[STATUS_PARAMETER],
        responses={200: s.ReferenceSerializer(many=True), **ERRORS},
    )
    def get(self, request: Request, collection_id: int) -> Response:
        collection = collection_visible(request, collection_id)
        state = request.query_params.get("status")
        if state is not None and state not in ImageStatus.values:  # an empty one too, as the schema says
            raise ApiError("invalid_parameter", f"status must be one of {', '.join(ImageStatus.values)}.")
        references = collection_selectors.reference_list(collection=collection, status=state).order_by(
            "-created_at", "-id"
        )
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
        items = list(files_read([upload], limits=uploads.upload_limits()))
        report = collection_services.reference_images_add(actor=request.user, collection=collection, items=items)
        if report.rejected:
            rejection_raise(report.rejected[0])
        if report.duplicates:
            existing = collection_selectors.reference_find(collection=collection, sha256=sha256_of(items[0].data))
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
        files = valid(s.ReferenceBatchSerializer, request)["files"]
        report = collection_services.reference_images_add(
            actor=request.user, collection=collection, items=files_read(files, limits=uploads.upload_limits())
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
        collection_services.reference_delete(actor=request.user, reference=reference)
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
        if reference.deleted_at is not None and not collection_services.reference_restore(
            actor=request.user, reference=reference
        ):
            raise ApiError(
                "restore_expired",
                f"{reference.original_name} was deleted on {reference.deleted_at:%Y-%m-%d}; "
                "its grace period is over and it is purged or about to be.",
            )
        reference.refresh_from_db()
        return Response(s.ReferenceSerializer(reference, context={"request": request}).data)


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
    query_parameters = {"GET": frozenset({"variant"})}

    def perform_content_negotiation(self, request, force=False):
        # The answer is an image, not a rendered body; the JSON renderer stays for the error answers.
        return super().perform_content_negotiation(request, force=True)

    def _file(self, request: Request, image_id: int) -> HttpResponse:
        variant = request.query_params.get("variant", "original")
        if variant not in media.VARIANTS:
            raise ApiError("invalid_parameter", f"variant must be one of {', '.join(media.VARIANTS)}.")
        image = visible(
            images_selectors.stored_image_get,
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
