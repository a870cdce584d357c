"""API: a collection's DISC21 evaluation."""

from __future__ import annotations

import math

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
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


class EvaluationRequestSerializer(s.StrictSerializer):
    ground_truth = s.UploadField(
        help_text="DISC21 CSV: query_id,reference_id (empty reference for a query with no copy); ids are file stems."
    )
    edits = s.UploadField(
        required=False, help_text="Optional edits.csv from make_benchmark (query_id,families,difficulty,…)."
    )


def _finite(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


class MismatchSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    examples = serializers.ListField(child=serializers.CharField())


class GroupRowSerializer(serializers.Serializer):
    name = serializers.CharField()
    n_queries = serializers.IntegerField()
    n_pairs = serializers.IntegerField()
    micro_ap = serializers.FloatField(allow_null=True)
    recall_at_p90 = serializers.FloatField(allow_null=True)
    threshold_at_p90 = serializers.FloatField(allow_null=True)


class EvaluationSerializer(serializers.Serializer):
    """The figures of search.evaluation.collection_evaluate; µAP and recall are null without any true pair."""

    collection = serializers.IntegerField(source="collection.id")
    micro_ap = serializers.SerializerMethodField()
    recall_at_p90 = serializers.SerializerMethodField()
    threshold_at_p90 = serializers.SerializerMethodField()
    n_ground_truth_queries = serializers.IntegerField()
    n_queries_scored = serializers.IntegerField()
    n_pairs = serializers.IntegerField()
    n_pairs_found = serializers.IntegerField()
    n_predictions = serializers.IntegerField()
    unsearched_queries = serializers.IntegerField()
    missing_queries = MismatchSerializer()
    unlisted_queries = MismatchSerializer()
    missing_references = MismatchSerializer()
    duplicate_stems = MismatchSerializer()
    queries_without_edits = MismatchSerializer(allow_null=True)
    families = GroupRowSerializer(many=True)
    difficulties = GroupRowSerializer(many=True)

    def get_micro_ap(self, evaluation) -> float | None:
        return _finite(evaluation.metrics.micro_ap)

    def get_recall_at_p90(self, evaluation) -> float | None:
        return _finite(evaluation.metrics.recall_at_p90)

    def get_threshold_at_p90(self, evaluation) -> float | None:
        return _finite(evaluation.metrics.threshold_at_p90)


class CollectionEvaluationView(UploadMixin, ApiView):
    serializer_class = EvaluationSerializer

    @extend_schema(
        operation_id="collections_evaluate",
        request=EvaluationRequestSerializer,
        responses={200: EvaluationSerializer, **errors(413)},
        description=(
            "Scores the collection's matches against a DISC21 ground-truth CSV (ids are file stems): µAP, "
            "recall at 90 % precision, counts, and with an edits file the breakdown by family and difficulty. "
            "Nothing is stored, so the viewer role is enough."
        ),
    )
    def post(self, request: Request, collection_id: int) -> Response:
        collection = collection_visible(request, collection_id)
        data = valid(EvaluationRequestSerializer, request)
        ground_truth = _file_read(data["ground_truth"], evaluation_selectors.ground_truth_parse)
        edits = _file_read(data["edits"], evaluation_selectors.edits_parse) if data.get("edits") else None
        result = evaluation_selectors.collection_evaluate(collection=collection, ground_truth=ground_truth, edits=edits)
        return Response(EvaluationSerializer(result).data)


def _file_read(upload, parse):
    try:
        return evaluation_selectors.evaluation_file_read(upload, parse=parse, max_bytes=settings.ISC.max_upload_bytes)
    except evaluation_selectors.EvaluationFileRefused as error:
        raise ApiError(error.code, str(error)) from None
