"""The reindex page."""

from django.urls import path

from search.reindex import views

urlpatterns = [
    path("reindex/", views.reindex, name="reindex"),
    path("reindex/progress/", views.reindex_progress, name="reindex_progress"),
]
