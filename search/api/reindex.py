"""API: reindex jobs."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from search.api import serializers as s
from search.api.base import (
    PAGED,
    ApiView,
    errors,
    visible,
)
from search.api.permissions import IsStaff
from search.reindex import selectors
from search.reindex import services as reindex_services
from search.reindex.models import ReindexJob


class ReindexJobSerializer(s.ReadModelSerializer):
    percent = serializers.SerializerMethodField()

    class Meta:
        model = ReindexJob
        fields = ["id", "descriptor_version", "state", "total", "done", "percent", "error", "created_at", "finished_at"]

    def get_percent(self, job: ReindexJob) -> int:
        return 100 if job.total == 0 else min(100, round(100 * job.done / job.total))


class ReindexJobListView(ApiView):
    serializer_class = ReindexJobSerializer
    permission_classes = [*ApiView.permission_classes, IsStaff]
    query_parameters = {"GET": PAGED}

    @extend_schema(
        operation_id="jobs_reindex_list",
        responses={200: ReindexJobSerializer(many=True), **errors(403)},
        description="Staff only.",
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.reindex_job_list(user=request.user).order_by("-created_at", "-id"))
        return self.get_paginated_response(ReindexJobSerializer(page, many=True).data)

    @extend_schema(
        operation_id="jobs_reindex_start",
        request=None,
        responses={201: ReindexJobSerializer, 200: ReindexJobSerializer, **errors(403)},
        description=(
            "Staff only: re-embeds every reference beside the live index, then swaps it in. One job at a time: "
            "while one is queued or running, the answer is that job with 200."
        ),
    )
    def post(self, request: Request) -> Response:
        job, created = reindex_services.reindex_job_start(actor=request.user)
        return Response(
            ReindexJobSerializer(job).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class ReindexJobDetailView(ApiView):
    serializer_class = ReindexJobSerializer
    permission_classes = [*ApiView.permission_classes, IsStaff]

    @extend_schema(
        operation_id="jobs_reindex_retrieve",
        responses={200: ReindexJobSerializer, **errors(403)},
        description="Staff only.",
    )
    def get(self, request: Request, job_id: int) -> Response:
        job = visible(selectors.reindex_job_get, "unknown_job", "job", job_id, user=request.user, job_id=job_id)
        return Response(ReindexJobSerializer(job).data)
