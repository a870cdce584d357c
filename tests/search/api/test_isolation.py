"""A member of another team sees none of a team's objects, on every endpoint, and cannot change them: the
answer is the 404 of a missing object, even though they are admin of their own team."""

import io

import pytest

from search.collection.models import Collection, ReferenceImage
from search.queries.models import Match, QueryImage
from search.teams.models import Role
from tests.factories import CollectionFactory, team_with
from tests.images import image_upload

pytestmark = pytest.mark.django_db


def _gt() -> io.BytesIO:
    handle = io.BytesIO(b"query_id,reference_id\nq,r1\n")
    handle.name = "gt.csv"
    return handle


# (method, url template, body factory, expected code); {c} collection, {r} reference, {q} query, {m} match.
ENDPOINTS = [
    ("get", "/api/collections/{c}/", None, "unknown_collection"),
    ("patch", "/api/collections/{c}/", lambda: {"name": "mine now"}, "unknown_collection"),
    ("get", "/api/collections/{c}/references/", None, "unknown_collection"),
    ("post", "/api/collections/{c}/references/", lambda: {"file": image_upload("x.jpg", 50)}, "unknown_collection"),
    (
        "post",
        "/api/collections/{c}/references/batch/",
        lambda: {"files": [image_upload("x.jpg", 50)]},
        "unknown_collection",
    ),
    ("get", "/api/collections/{c}/queries/", None, "unknown_collection"),
    ("post", "/api/collections/{c}/queries/?wait=1", lambda: {"file": image_upload("x.jpg", 50)}, "unknown_collection"),
    ("post", "/api/collections/{c}/evaluation/", lambda: {"ground_truth": _gt()}, "unknown_collection"),
    ("get", "/api/references/{r}/", None, "unknown_reference"),
    ("delete", "/api/references/{r}/", None, "unknown_reference"),
    ("get", "/api/references/{r}/file/", None, "unknown_reference"),
    ("get", "/api/queries/{q}/", None, "unknown_query"),
    ("get", "/api/queries/{q}/file/?variant=thumb", None, "unknown_query"),
    ("get", "/api/queries/{q}/matches/", None, "unknown_query"),
    ("get", "/api/matches/{m}/", None, "unknown_match"),
    ("post", "/api/matches/{m}/verdict/", lambda: {"decision": "rejected"}, "unknown_match"),
    ("delete", "/api/matches/{m}/verdict/", None, "unknown_match"),
]


@pytest.mark.parametrize(("method", "template", "body", "code"), ENDPOINTS, ids=[f"{e[0]} {e[1]}" for e in ENDPOINTS])
def test_another_teams_objects_are_404_on_every_endpoint(stranger_api, searched_query, method, template, body, code):
    match = searched_query.matches.order_by("rank").first()
    url = template.format(c=searched_query.collection_id, r=match.reference_id, q=searched_query.id, m=match.id)
    before = (ReferenceImage.objects.count(), QueryImage.objects.count(), Collection.objects.get().name)
    kwargs = {"format": "multipart" if method == "post" and "verdict" not in url else "json"}
    if body is not None:
        kwargs["data"] = body()
    response = getattr(stranger_api, method)(url, **kwargs)
    assert response.status_code == 404, response.content
    assert response.json()["code"] == code
    assert (ReferenceImage.objects.count(), QueryImage.objects.count(), Collection.objects.get().name) == before
    assert Match.objects.get(id=match.id).review == "unreviewed"


def test_a_missing_id_gets_the_same_answer_as_someone_elses(api):
    response = api.get("/api/collections/999999/")
    assert response.status_code == 404 and response.json()["code"] == "unknown_collection"
    assert response.json()["detail"] == "No collection with id 999999 that you may see."


def test_listings_hold_only_ones_own_teams_collections(api, stranger_api, team, stranger):
    CollectionFactory(team=team, name="mine")
    CollectionFactory(team=stranger.teams.get(), name="theirs")
    assert [c["name"] for c in api.get("/api/collections/").json()["results"]] == ["mine"]
    assert [c["name"] for c in stranger_api.get("/api/collections/").json()["results"]] == ["theirs"]


def test_a_former_member_loses_access_at_once(api, user, collection):
    assert api.get(f"/api/collections/{collection.id}/").status_code == 200
    collection.team.memberships.filter(user=user).delete()
    response = api.get(f"/api/collections/{collection.id}/")
    assert response.status_code == 404 and response.json()["code"] == "unknown_collection"


def test_the_teams_list_holds_only_ones_own_teams_with_ones_role(api, user, team, stranger):
    team_with(user, Role.VIEWER, name="Archive", slug="archive")
    teams = api.get("/api/teams/").json()
    assert [(t["slug"], t["role"], t["member_count"]) for t in teams["results"]] == [
        ("archive", "viewer", 1),
        ("newsroom", "admin", 1),
    ]
