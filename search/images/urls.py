"""Image files and Retry."""

from django.urls import path

from search.images import views

urlpatterns = [
    path("images/<str:kind>/<int:image_id>/retry/", views.image_retry, name="image_retry"),
    path("files/<str:kind>/<int:image_id>/<str:variant>/", views.image_file, name="image_file"),
]
