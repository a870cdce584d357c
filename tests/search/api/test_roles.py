"""Within a team, the role decides: viewers read, uploaders upload references and queries, moderators post
and undo verdicts and delete and restore references, admins create collections and change settings. A role too low is a
403 `role_required` naming the role needed, and changes nothing."""

import io

import pytest

from search.collection.models import Collection, ReferenceImage
from search.core.models import AuditAction, AuditEvent
from search.queries.models import Match, QueryImage
from search.teams.models import Role
from tests.factories import MembershipFactory
from tests.images import image_upload
from tests.search.api.conftest import member_api, token_client

pytestmark = pytest.mark.django_db


def _gt() -> io.BytesIO:
    handle = io.BytesIO(b"query_id,reference_id\nq,r1\n")
    handle.name = "gt.csv"
    return handle


# (method, url template, body factory, least role, status when allowed, audit action when allowed)
# {c} collection, {r} reference, {q} query, {m} match, {t} team slug.
ENDPOINTS = [
    ("get", "/api/collections/{c}/", None, Role.VIEWER, 200, None),
    ("get", "/api/collections/{c}/references/", None, Role.VIEWER, 200, None),
    ("get", "/api/references/{r}/", None, Role.VIEWER, 200, None),
    ("get", "/api/collections/{c}/queries/", None, Role.VIEWER, 200, None),
    ("get", "/api/queries/{q}/", None, Role.VIEWER, 200, None),
    ("get", "/api/queries/{q}/matches/", None, Role.VIEWER, 200, None),
    ("get", "/api/matches/{m}/", None, Role.VIEWER, 200, None),
    ("get", "/api/references/{r}/file/", None, Role.VIEWER, 200, None),
    ("post", "/api/collections/{c}/evaluation/", lambda: {"ground_truth": _gt()}, Role.VIEWER, 200, None),
    (
        "post",
        "/api/collections/{c}/references/",
        lambda: {"file": image_upload("new.jpg", 50)},
        Role.UPLOADER,
        201,
        AuditAction.REFERENCES_UPLOAD,
    ),
    (
        "post",
        "/api/collections/{c}/references/batch/",
        lambda: {"files": [image_upload("new.jpg", 50)]},
        Role.UPLOADER,
        201,
        AuditAction.REFERENCES_UPLOAD,
    ),
    (
        "post",
        "/api/collections/{c}/queries/",
        lambda: {"file": image_upload("suspect.jpg", 51)},
        Role.UPLOADER,
        202,
        AuditAction.QUERY_UPLOAD,
    ),
    (
        "post",
        "/api/matches/{m}/verdict/",
        lambda: {"decision": "confirmed"},
        Role.MODERATOR,
        200,
        AuditAction.MATCH_VERDICT,
    ),
    ("delete", "/api/matches/{m}/verdict/", None, Role.MODERATOR, 200, AuditAction.MATCH_UNDO),
    (
        "patch",
        "/api/collections/{c}/",
        lambda: {"match_threshold": 0.8},
        Role.ADMIN,
        200,
        AuditAction.THRESHOLD_CHANGE,
    ),
    ("delete", "/api/references/{r}/", None, Role.MODERATOR, 204, AuditAction.REFERENCE_DELETE),
    ("post", "/api/references/{r}/restore/", None, Role.MODERATOR, 200, None),
    (
        "post",
        "/api/collections/",
        lambda: {"name": "Another", "team": "newsroom"},
        Role.ADMIN,
        201,
        AuditAction.COLLECTION_CREATE,
    ),
]
CASES = [(*endpoint, role) for endpoint in ENDPOINTS for role in Role]


def _state(match_id: int) -> tuple:
    return (
        ReferenceImage.objects.count(),
        QueryImage.objects.count(),
        sorted(Collection.objects.values_list("name", "match_threshold")),
        Match.objects.get(id=match_id).review if Match.objects.filter(id=match_id).exists() else None,
        AuditEvent.objects.count(),
    )


def _request(client, method: str, url: str, body):
    json_body = method in ("patch", "delete") or "verdict" in url or url == "/api/collections/"
    kwargs = {"format": "json" if json_body else "multipart"}
    if body is not None:
        kwargs["data"] = body()
    return getattr(client, method)(url, **kwargs)


@pytest.mark.parametrize(
    ("method", "template", "body", "least", "allowed_status", "action", "role"),
    CASES,
    ids=[f"{case[0]} {case[1]} as {case[6].value}" for case in CASES],
)
def test_each_endpoint_needs_its_role(searched_query, method, template, body, least, allowed_status, action, role):
    collection = searched_query.collection
    match = searched_query.matches.order_by("rank").first()
    url = template.format(c=collection.id, r=match.reference_id, q=searched_query.id, m=match.id)
    if "{m}/verdict" in template and method == "delete":
        Match.objects.filter(id=match.id).update(review="confirmed")  # something to undo
    member = MembershipFactory(team=collection.team, role=role).user
    client = token_client(member)
    before = _state(match.id)

    response = _request(client, method, url, body)

    if role.at_least(least):
        assert response.status_code == allowed_status, response.content
        if action is not None:
            assert AuditEvent.objects.filter(action=action, actor=member, team=collection.team).exists()
    else:
        assert response.status_code == 403, response.content
        body = response.json()
        assert body["code"] == "role_required" and body["detail"]
        assert (body["required_role"], body["role"], body["team"]) == (least.value, role.value, "newsroom")
        assert _state(match.id) == before, "a refused request changes nothing"


def test_the_role_is_checked_before_the_body(searched_query):
    # A viewer learns nothing about what the upload would have needed (no missing_file, no too_large).
    viewer = member_api(searched_query.collection.team, Role.VIEWER)
    response = viewer.post(f"/api/collections/{searched_query.collection_id}/references/", {}, format="multipart")
    assert response.status_code == 403 and response.json()["code"] == "role_required"


def test_a_role_change_takes_effect_on_the_next_request(searched_query):
    team = searched_query.collection.team
    client = member_api(team, Role.VIEWER)
    url = f"/api/matches/{searched_query.matches.order_by('rank').first().id}/verdict/"
    assert client.post(url, {"decision": "rejected"}, format="json").status_code == 403
    team.memberships.filter(role=Role.VIEWER).update(role=Role.MODERATOR)
    assert client.post(url, {"decision": "rejected"}, format="json").json()["review"] == "rejected"
