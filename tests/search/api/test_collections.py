import pytest

from search.collection.models import Collection
from search.core.models import AuditAction, AuditEvent
from search.teams.models import Role
from tests.factories import CollectionFactory, team_with

pytestmark = pytest.mark.django_db


def test_creating_a_collection_returns_it_with_its_progress(api, user, team):
    response = api.post("/api/collections/", {"name": "Memes", "description": "seen online", "match_threshold": 0.6})
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "Memes" and body["match_threshold"] == 0.6 and body["reference_count"] == 0
    assert body["progress"] == {
        "total": 0,
        "indexed": 0,
        "pending": 0,
        "processing": 0,
        "failed": 0,
        "percent": 100,
        "finished": True,
    }
    assert body["team"] == "newsroom"
    created = Collection.objects.get(id=body["id"])
    assert (created.team, created.created_by) == (team, user)
    event = AuditEvent.objects.get(action=AuditAction.COLLECTION_CREATE)
    assert (event.actor, event.team, event.target_id) == (user, team, created.id)


def test_the_threshold_defaults_to_the_site_setting(api, team, settings):
    settings.ISC = settings.ISC.replace(default_threshold=0.42)
    assert api.post("/api/collections/", {"name": "x"}, format="json").json()["match_threshold"] == 0.42


def test_a_taken_name_is_a_409_duplicate(api, collection):
    response = api.post("/api/collections/", {"name": collection.name}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "duplicate"


def test_the_same_name_is_fine_in_another_team(api, team):
    CollectionFactory(name="Shared name")
    assert api.post("/api/collections/", {"name": "Shared name"}, format="json").status_code == 201


def test_the_team_is_named_by_its_slug(api, user, team):
    other = team_with(user, Role.ADMIN, slug="archive")
    response = api.post("/api/collections/", {"name": "Old prints", "team": "archive"}, format="json")
    assert response.status_code == 201 and response.json()["team"] == "archive"
    assert Collection.objects.get(id=response.json()["id"]).team == other


def test_without_a_team_an_admin_of_several_is_asked_to_choose(api, user, team):
    team_with(user, Role.ADMIN, slug="archive")
    team_with(user, Role.UPLOADER, slug="desk")  # not admin there: not a choice
    response = api.post("/api/collections/", {"name": "x"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "team_required" and response.json()["admin_teams"] == ["archive", "newsroom"]
    assert not Collection.objects.exists()


def test_without_a_team_a_user_admin_of_no_team_gets_team_required(user):
    from tests.search.api.conftest import token_client

    team_with(user, Role.MODERATOR)
    response = token_client(user).post("/api/collections/", {"name": "x"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "team_required" and response.json()["admin_teams"] == []


def test_a_team_one_is_not_in_is_unknown_team(api, team, stranger):
    for slug in ("elsewhere", "no-such-team"):  # someone else's, and none at all: the same answer
        response = api.post("/api/collections/", {"name": "x", "team": slug}, format="json")
        assert response.status_code == 404 and response.json()["code"] == "unknown_team", slug
    assert not Collection.objects.exists()


def test_a_team_where_one_is_not_admin_is_role_required(api, user, team):
    team_with(user, Role.MODERATOR, slug="desk")
    response = api.post("/api/collections/", {"name": "x", "team": "desk"}, format="json")
    assert response.status_code == 403
    body = response.json()
    assert (body["code"], body["required_role"], body["role"], body["team"]) == (
        "role_required",
        "admin",
        "moderator",
        "desk",
    )
    assert not Collection.objects.exists()


@pytest.mark.parametrize(
    ("body", "field", "field_code"),
    [
        ({"name": "x", "match_threshold": 3}, "match_threshold", "max_value"),
        ({"name": "x", "match_threshold": "high"}, "match_threshold", "invalid"),
        ({"description": "no name"}, "name", "required"),
        ({"name": "   "}, "name", "blank"),
        ({"name": "x" * 201}, "name", "max_length"),
    ],
)
def test_wrong_field_values_are_invalid_field_naming_the_field(api, team, body, field, field_code):
    response = api.post("/api/collections/", body, format="json")
    assert response.status_code == 400
    error = response.json()
    assert error["code"] == "invalid_field"
    assert error["fields"][field][0]["code"] == field_code and error["fields"][field][0]["message"]
    assert not Collection.objects.exists()


def test_an_unknown_field_is_refused_not_ignored(api, team):
    response = api.post("/api/collections/", {"name": "x", "treshold": 0.3}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "unknown_field" and "treshold" in response.json()["fields"]


def test_malformed_json_is_a_parse_error(api):
    response = api.post("/api/collections/", "{not json", content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "parse_error"


def test_listing_shows_only_my_teams_collections_with_counts_paginated(api, user, team, stranger):
    for i in range(2):
        CollectionFactory(team=team, created_by=user, name=f"mine {i}")
    CollectionFactory(team=team_with(user, Role.VIEWER), name="mine 2")  # a viewer sees the collections too
    CollectionFactory(team=stranger.teams.get(), created_by=stranger, name="theirs")
    first = api.get("/api/collections/?page_size=2").json()
    assert first["count"] == 3 and len(first["results"]) == 2 and first["next"]
    second = api.get(first["next"]).json()
    names = {c["name"] for c in first["results"] + second["results"]}
    assert names == {"mine 0", "mine 1", "mine 2"}
    assert all(c["reference_count"] == 0 and c["query_count"] == 0 for c in first["results"])


def test_listing_one_teams_collections(api, user, team):
    CollectionFactory(team=team, name="news")
    CollectionFactory(team=team_with(user, Role.VIEWER, slug="archive"), name="old")
    assert [c["name"] for c in api.get("/api/collections/?team=archive").json()["results"]] == ["old"]
    assert api.get("/api/collections/?team=elsewhere").json()["count"] == 0


@pytest.mark.parametrize(
    "query", ["page=x", "page=", "page=0", "page=last", "page=-1", "page_size=0", "page_size=201", "page_size="]
)
def test_bad_paging_parameters_are_invalid_parameter(api, collection, query):
    response = api.get(f"/api/collections/?{query}")
    assert response.status_code == 400 and response.json()["code"] == "invalid_parameter"


def test_a_page_past_the_last_is_unknown_page(api, collection):
    assert api.get("/api/collections/?page=1").status_code == 200
    response = api.get("/api/collections/?page=2")
    assert response.status_code == 404 and response.json()["code"] == "unknown_page"


@pytest.mark.parametrize("page_size", [1, 200])
def test_the_page_size_bounds_are_accepted(api, collection, page_size):
    response = api.get(f"/api/collections/?page_size={page_size}")
    assert response.status_code == 200 and response.json()["count"] == 1


def test_retrieving_and_updating_settings(api, collection):
    assert api.get(f"/api/collections/{collection.id}/").json()["name"] == "Known"
    response = api.patch(f"/api/collections/{collection.id}/", {"match_threshold": 0.7}, format="json")
    assert response.status_code == 200 and response.json()["match_threshold"] == 0.7
    collection.refresh_from_db()
    assert collection.match_threshold == 0.7 and collection.name == "Known", "fields left out keep their value"
    api.patch(f"/api/collections/{collection.id}/", {"name": "Renamed", "description": "d"}, format="json")
    collection.refresh_from_db()
    assert (collection.name, collection.description, collection.match_threshold) == ("Renamed", "d", 0.7)
    events = AuditEvent.objects.filter(target_id=collection.id).values_list("action", "actor__username")
    assert set(events) >= {
        (AuditAction.THRESHOLD_CHANGE, collection.created_by.username),
        (AuditAction.COLLECTION_UPDATE, collection.created_by.username),
    }


def test_renaming_onto_a_taken_name_is_a_duplicate(api, user, collection):
    CollectionFactory(team=collection.team, name="Other")
    response = api.patch(f"/api/collections/{collection.id}/", {"name": "Other"}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "duplicate"


def test_an_update_with_a_bad_threshold_changes_nothing(api, collection):
    response = api.patch(f"/api/collections/{collection.id}/", {"match_threshold": -0.1}, format="json")
    assert response.status_code == 400 and response.json()["fields"]["match_threshold"][0]["code"] == "min_value"
    collection.refresh_from_db()
    assert collection.match_threshold == 0.5


def test_an_unknown_api_url_is_a_json_not_found(api):
    response = api.get("/api/no-such-thing/")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_a_wrong_method_is_method_not_allowed(api, collection):
    response = api.delete(f"/api/collections/{collection.id}/")
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"
