"""Sign-up, teams, members, invites, the audit log and API keys."""

from django.urls import path

from search.teams import views

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("teams/", views.team_list, name="team_list"),
    path("teams/new/", views.team_create, name="team_create"),
    path("teams/<slug:team_slug>/members/", views.team_members, name="team_members"),
    path("teams/<slug:team_slug>/members/<int:membership_id>/role/", views.member_role, name="member_role"),
    path(
        "teams/<slug:team_slug>/members/<int:membership_id>/remove/",
        views.member_remove,
        name="member_remove",
    ),
    path("teams/<slug:team_slug>/invites/", views.invite_create, name="invite_create"),
    path("teams/<slug:team_slug>/audit/", views.audit_log, name="audit_log"),
    path("teams/<slug:team_slug>/audit.csv", views.audit_csv, name="audit_csv"),
    path("invites/<str:token>/", views.invite_accept, name="invite_accept"),
    path("account/api-tokens/", views.api_tokens, name="api_tokens"),
    path("account/api-tokens/<int:token_id>/revoke/", views.api_token_revoke, name="api_token_revoke"),
]
