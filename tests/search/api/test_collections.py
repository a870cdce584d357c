import pytest

from search.models import Collection
from tests.factories import CollectionFactory

pytestmark = pytest.mark.django_db


def test_creating_a_collection_returns_it_with_its_progress(api, user):
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
    assert Collection.objects.get(id=body["id"]).owner == user


def test_the_threshold_defaults_to_the_site_setting(api, settings):
    settings.ISC = {**settings.ISC, "DEFAULT_THRESHOLD": 0.42}
    assert api.post("/api/collections/", {"name": "x"}, format="json").json()["match_threshold"] == 0.42


def test_a_taken_name_is_a_409_duplicate(api, collection):
    response = api.post("/api/collections/", {"name": collection.name}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "duplicate"


def test_the_same_name_is_fine_for_another_owner(api, stranger):
    CollectionFactory(owner=stranger, name="Shared name")
    assert api.post("/api/collections/", {"name": "Shared name"}, format="json").status_code == 201


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
def test_wrong_field_values_are_invalid_field_naming_the_field(api, body, field, field_code):
    response = api.post("/api/collections/", body, format="json")
    assert response.status_code == 400
    error = response.json()
    assert error["code"] == "invalid_field"
    assert error["fields"][field][0]["code"] == field_code and error["fields"][field][0]["message"]
    assert not Collection.objects.exists()


def test_an_unknown_field_is_refused_not_ignored(api):
    response = api.post("/api/collections/", {"name": "x", "treshold": 0.3}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "unknown_field" and "treshold" in response.json()["fields"]


def test_malformed_json_is_a_parse_error(api):
    response = api.post("/api/collections/", "{not json", content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "parse_error"


def test_listing_shows_only_my_collections_with_counts_paginated(api, user, stranger):
    for i in range(3):
        CollectionFactory(owner=user, name=f"mine {i}")
    CollectionFactory(owner=stranger, name="theirs")
    first = api.get("/api/collections/?page_size=2").json()
    assert first["count"] == 3 and len(first["results"]) == 2 and first["next"]
    second = api.get(first["next"]).json()
    names = {c["name"] for c in first["results"] + second["results"]}
    assert names == {"mine 0", "mine 1", "mine 2"}
    assert all(c["reference_count"] == 0 and c["query_count"] == 0 for c in first["results"])


@pytest.mark.parametrize("query", ["page=99", "page=x", "page_size=0", "page_size=1000"])
def test_bad_paging_parameters_are_invalid_parameter(api, collection, query):
    response = api.get(f"/api/collections/?{query}")
    assert response.status_code == 400 and response.json()["code"] == "invalid_parameter"


def test_retrieving_and_updating_settings(api, collection):
    assert api.get(f"/api/collections/{collection.id}/").json()["name"] == "Known"
    response = api.patch(f"/api/collections/{collection.id}/", {"match_threshold": 0.7}, format="json")
    assert response.status_code == 200 and response.json()["match_threshold"] == 0.7
    collection.refresh_from_db()
    assert collection.match_threshold == 0.7 and collection.name == "Known", "fields left out keep their value"
    api.patch(f"/api/collections/{collection.id}/", {"name": "Renamed", "description": "d"}, format="json")
    collection.refresh_from_db()
    assert (collection.name, collection.description, collection.match_threshold) == ("Renamed", "d", 0.7)


def test_renaming_onto_a_taken_name_is_a_duplicate(api, user, collection):
    CollectionFactory(owner=user, name="Other")
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
