"""Collection pages and single-reference actions."""

from django.urls import path

from search.collection import views

urlpatterns = [
    path("", views.collection_list, name="collection_list"),
    path("collections/<int:collection_id>/", views.collection_detail, name="collection_detail"),
    path("collections/<int:collection_id>/progress/", views.collection_progress, name="collection_progress"),
    path("collections/<int:collection_id>/settings/", views.collection_settings, name="collection_settings"),
    path("collections/<int:collection_id>/delete/", views.collection_delete, name="collection_delete"),
    path("collections/<int:collection_id>/references/", views.references_upload, name="references_upload"),
    path("references/<int:reference_id>/delete/", views.reference_delete, name="reference_delete"),
    path("references/<int:reference_id>/restore/", views.reference_restore, name="reference_restore"),
    path("references/<int:reference_id>/disable/", views.reference_disable, name="reference_disable"),
    path("references/<int:reference_id>/release/", views.reference_release, name="reference_release"),
]
