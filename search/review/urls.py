"""The review queue and the allowlist."""

from django.urls import path

from search.review import views

urlpatterns = [
    path("review/", views.review_dashboard, name="review_dashboard"),
    path("review/items/<int:match_id>/", views.review_item, name="review_item"),
    path("review/items/<int:match_id>/verdict/", views.review_verdict, name="review_verdict"),
    path("review/items/<int:match_id>/skip/", views.review_skip, name="review_skip"),
    path("review/items/<int:match_id>/allowlist/", views.review_allowlist, name="review_allowlist"),
    path("review/bulk/", views.review_bulk, name="review_bulk"),
    path("review/undo/", views.review_undo, name="review_undo"),
    path("teams/<slug:team_slug>/allowlist/", views.team_allowlist, name="team_allowlist"),
    path(
        "teams/<slug:team_slug>/allowlist/<int:entry_id>/remove/",
        views.allowlist_remove,
        name="allowlist_remove",
    ),
    path("matches/<int:match_id>/review/", views.match_review, name="match_review"),
]
