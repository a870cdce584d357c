"""Webhook pages."""

from django.urls import path

from search.webhooks import views

urlpatterns = [
    path("teams/<slug:team_slug>/webhooks/", views.webhook_list, name="webhook_list"),
    path("teams/<slug:team_slug>/webhooks/<int:endpoint_id>/", views.webhook_detail, name="webhook_detail"),
    path(
        "teams/<slug:team_slug>/webhooks/<int:endpoint_id>/active/",
        views.webhook_active,
        name="webhook_active",
    ),
    path(
        "teams/<slug:team_slug>/webhooks/<int:endpoint_id>/rotate/",
        views.webhook_rotate,
        name="webhook_rotate",
    ),
    path(
        "teams/<slug:team_slug>/webhooks/<int:endpoint_id>/delete/",
        views.webhook_delete,
        name="webhook_delete",
    ),
    path("teams/<slug:team_slug>/webhooks/<int:endpoint_id>/test/", views.webhook_test, name="webhook_test"),
    path(
        "teams/<slug:team_slug>/webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>/",
        views.webhook_delivery,
        name="webhook_delivery",
    ),
    path(
        "teams/<slug:team_slug>/webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>/redeliver/",
        views.webhook_redeliver,
        name="webhook_redeliver",
    ),
]
