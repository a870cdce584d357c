"""The team dashboard."""

from django.urls import path

from search.dashboard import views

urlpatterns = [
    path("dashboard/", views.dashboard_home, name="dashboard_home"),
    path("teams/<slug:team_slug>/dashboard/", views.team_dashboard, name="team_dashboard"),
    path("teams/<slug:team_slug>/dashboard/threshold/", views.dashboard_threshold, name="dashboard_threshold"),
]
