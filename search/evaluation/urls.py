"""The evaluation page."""

from django.urls import path

from search.evaluation import views

urlpatterns = [
    path("evaluation/", views.evaluation_page, name="evaluation"),
]
