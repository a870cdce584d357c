"""Query upload and result pages."""

from django.urls import path

from search.queries import views

urlpatterns = [
    path("collections/<int:collection_id>/queries/", views.query_upload, name="query_upload"),
    path("queries/<int:query_id>/", views.query_detail, name="query_detail"),
    path("queries/<int:query_id>/results/", views.query_results, name="query_results"),
]
