from django.urls import path

from search import views, views_evaluation, views_ingest

app_name = "search"
urlpatterns = [
    path("", views.collection_list, name="collection_list"),
    path("signup/", views.signup, name="signup"),
    path("collections/<int:collection_id>/", views.collection_detail, name="collection_detail"),
    path("collections/<int:collection_id>/progress/", views.collection_progress, name="collection_progress"),
    path("collections/<int:collection_id>/settings/", views.collection_settings, name="collection_settings"),
    path("collections/<int:collection_id>/delete/", views.collection_delete, name="collection_delete"),
    path("collections/<int:collection_id>/references/", views.references_upload, name="references_upload"),
    path("collections/<int:collection_id>/queries/", views.query_upload, name="query_upload"),
    path("queries/<int:query_id>/", views.query_detail, name="query_detail"),
    path("queries/<int:query_id>/results/", views.query_results, name="query_results"),
    path("images/<str:kind>/<int:image_id>/retry/", views.image_retry, name="image_retry"),
    path("review/", views.review_dashboard, name="review_dashboard"),
    path("matches/<int:match_id>/review/", views.match_review, name="match_review"),
    path("reindex/", views.reindex, name="reindex"),
    path("evaluation/", views_evaluation.evaluation_page, name="evaluation"),
    path("collections/<int:collection_id>/imports/", views_ingest.ingest_jobs_panel, name="ingest_jobs_panel"),
    path("imports/<int:job_id>/", views_ingest.ingest_job_detail, name="ingest_job_detail"),
]
