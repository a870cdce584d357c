from django.urls import path

from search.lookback import views

urlpatterns = [
    path("teams/<slug:team_slug>/lookback/", views.lookback_jobs, name="lookback_jobs"),
]
