"""The REST API, mounted at /api/: the resources, the OpenAPI schema (/api/schema/) and its docs (/api/docs/)."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from search.api import (
    schema,  # noqa: F401  (registers the token scheme with drf-spectacular)
    views,
)

app_name = "api"
urlpatterns = [
    path("teams/", views.TeamListView.as_view(), name="team_list"),
    path("collections/", views.CollectionListView.as_view(), name="collection_list"),
    path("collections/<int:collection_id>/", views.CollectionDetailView.as_view(), name="collection_detail"),
    path("collections/<int:collection_id>/references/", views.ReferenceListView.as_view(), name="reference_list"),
    path(
        "collections/<int:collection_id>/references/batch/",
        views.ReferenceBatchView.as_view(),
        name="reference_batch",
    ),
    path("collections/<int:collection_id>/queries/", views.QueryListView.as_view(), name="query_list"),
    path(
        "collections/<int:collection_id>/evaluation/",
        views.CollectionEvaluationView.as_view(),
        name="collection_evaluation",
    ),
    path("references/<int:reference_id>/", views.ReferenceDetailView.as_view(), name="reference_detail"),
    path("references/<int:reference_id>/restore/", views.ReferenceRestoreView.as_view(), name="reference_restore"),
    path("references/<int:reference_id>/file/", views.ReferenceFileView.as_view(), name="reference_file"),
    path("queries/<int:query_id>/file/", views.QueryFileView.as_view(), name="query_file"),
    path("queries/<int:query_id>/", views.QueryDetailView.as_view(), name="query_detail"),
    path("queries/<int:query_id>/matches/", views.QueryMatchesView.as_view(), name="query_matches"),
    path("matches/<int:match_id>/", views.MatchDetailView.as_view(), name="match_detail"),
    path("matches/<int:match_id>/verdict/", views.MatchVerdictView.as_view(), name="match_verdict"),
    path("jobs/reindex/", views.ReindexJobListView.as_view(), name="reindex_job_list"),
    path("jobs/reindex/<int:job_id>/", views.ReindexJobDetailView.as_view(), name="reindex_job_detail"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
    re_path(r"^", views.NotFoundView.as_view(), name="not_found"),
]
