from django.urls import path

from search import views, views_evaluation, views_ingest, views_teams, views_tokens, views_webhooks

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
    path("reindex/progress/", views.reindex_progress, name="reindex_progress"),
    path("evaluation/", views_evaluation.evaluation_page, name="evaluation"),
    path("files/<str:kind>/<int:image_id>/<str:variant>/", views.image_file, name="image_file"),
    path("teams/", views_teams.team_list, name="team_list"),
    path("teams/<slug:team_slug>/members/", views_teams.team_members, name="team_members"),
    path("teams/<slug:team_slug>/members/<int:membership_id>/role/", views_teams.member_role, name="member_role"),
    path(
        "teams/<slug:team_slug>/members/<int:membership_id>/remove/",
        views_teams.member_remove,
        name="member_remove",
    ),
    path("teams/<slug:team_slug>/invites/", views_teams.invite_create, name="invite_create"),
    path("teams/<slug:team_slug>/audit/", views_teams.audit_log, name="audit_log"),
    path("teams/<slug:team_slug>/audit.csv", views_teams.audit_csv, name="audit_csv"),
    path("invites/<str:token>/", views_teams.invite_accept, name="invite_accept"),
    path("account/api-tokens/", views_tokens.api_tokens, name="api_tokens"),
    path("account/api-tokens/<int:token_id>/revoke/", views_tokens.api_token_revoke, name="api_token_revoke"),
    path("teams/<slug:team_slug>/webhooks/", views_webhooks.webhook_list, name="webhook_list"),
    path("teams/<slug:team_slug>/webhooks/<int:endpoint_id>/", views_webhooks.webhook_detail, name="webhook_detail"),
    path(
        "teams/<slug:team_slug>/webhooks/<int:endpoint_id>/active/",
        views_webhooks.webhook_active,
        name="webhook_active",
    ),
    path(
        "teams/<slug:team_slug>/webhooks/<int:endpoint_id>/rotate/",
        views_webhooks.webhook_rotate,
        name="webhook_rotate",
    ),
    path(
        "teams/<slug:team_slug>/webhooks/<int:endpoint_id>/delete/",
        views_webhooks.webhook_delete,
        name="webhook_delete",
    ),
    path("teams/<slug:team_slug>/webhooks/<int:endpoint_id>/test/", views_webhooks.webhook_test, name="webhook_test"),
    path(
        "teams/<slug:team_slug>/webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>/",
        views_webhooks.webhook_delivery,
        name="webhook_delivery",
    ),
    path(
        "teams/<slug:team_slug>/webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>/redeliver/",
        views_webhooks.webhook_redeliver,
        name="webhook_redeliver",
    ),
    path("collections/<int:collection_id>/imports/", views_ingest.ingest_jobs_panel, name="ingest_jobs_panel"),
    path("imports/<int:job_id>/", views_ingest.ingest_job_detail, name="ingest_job_detail"),
]
