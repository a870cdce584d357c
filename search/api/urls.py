"""The REST API, mounted at /api/: the resources, the OpenAPI schema (/api/schema/) and its docs (/api/docs/)."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from search.api import collection, evaluation, matches, not_found, queries, references, reindex, schema, teams

assert schema.StrictSerializerSchema  # imported for its registration with drf-spectacular

app_name = "api"
urlpatterns = [
    path("teams/", teams.TeamListView.as_view(), name="team_list"),
    path("collections/", collection.CollectionListView.as_view(), name="collection_list"),
    path("collections/<int:collection_id>/", collection.CollectionDetailView.as_view(), name="collection_detail"),
    path("collections/<int:collection_id>/references/", references.ReferenceListView.as_view(), name="reference_list"),
    path(
        "collections/<int:collection_id>/references/batch/",
        references.ReferenceBatchView.as_view(),
        name="reference_batch",
    ),
    path("collections/<int:collection_id>/queries/", queries.QueryListView.as_view(), name="query_list"),
    path(
        "collections/<int:collection_id>/evaluation/",
        evaluation.CollectionEvaluationView.as_view(),
        name="collection_evaluation",
    ),
    path("references/<int:reference_id>/", references.ReferenceDetailView.as_view(), name="reference_detail"),
    path("references/<int:reference_id>/restore/", references.ReferenceRestoreView.as_view(), name="reference_restore"),
    path("references/<int:reference_id>/file/", references.ReferenceFileView.as_view(), name="reference_file"),
    path("queries/<int:query_id>/file/", references.QueryFileView.as_view(), name="query_file"),
    path("queries/<int:query_id>/", queries.QueryDetailView.as_view(), name="query_detail"),
    path("queries/<int:query_id>/matches/", queries.QueryMatchesView.as_view(), name="query_matches"),
    path("matches/<int:match_id>/", matches.MatchDetailView.as_view(), name="match_detail"),
    path("matches/<int:match_id>/verdict/", matches.MatchVerdictView.as_view(), name="match_verdict"),
    path("jobs/reindex/", reindex.ReindexJobListView.as_view(), name="reindex_job_list"),
    path("jobs/reindex/<int:job_id>/", reindex.ReindexJobDetailView.as_view(), name="reindex_job_detail"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
    re_path(r"^", not_found.NotFoundView.as_view(), name="not_found"),
]
