"""Bulk-import progress."""

from django.urls import path

from search.ingest import views

urlpatterns = [
    path("collections/<int:collection_id>/imports/", views.ingest_jobs_panel, name="ingest_jobs_panel"),
    path("imports/<int:job_id>/", views.ingest_job_detail, name="ingest_job_detail"),
]
