"""API: a collection's DISC21 evaluation."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from search.api import serializers as s
from search.api.base import (
    ApiView,
    UploadMixin,
    collection_visible,
    errors,
    valid,
)
from search.api.errors import ApiError
from search.evaluation import selectors as evaluation_selectors


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
        ground_truth = _csv_parse(data["ground_truth"], evaluation_selectors.ground_truth_parse)
        edits = _csv_parse(data["edits"], evaluation_selectors.edits_parse) if data.get("edits") else None
        result = evaluation_selectors.collection_evaluate(collection=collection, ground_truth=ground_truth, edits=edits)
        return Response(s.EvaluationSerializer(result).data)


def _csv_parse(upload, parse):
    limit = settings.ISC.max_upload_bytes
    if upload.size > limit:
        raise ApiError("too_large", f"{upload.name} is {upload.size / 1e6:.1f} MB; the limit is {limit / 1e6:.1f} MB.")
    try:
        return parse(data=upload.read(), name=upload.name)
    except ValueError as error:
        raise ApiError("bad_csv", str(error)) from None
