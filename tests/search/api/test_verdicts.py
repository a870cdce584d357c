import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def _best(query):
    return query.matches.order_by("rank").first()


def test_confirming_a_match(api, user, searched_query):
    match = _best(searched_query)
    response = api.post(f"/api/matches/{match.id}/verdict/", {"decision": "confirmed"}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["review"] == "confirmed" and body["reviewed_by"] == user.username and body["reviewed_at"]
    match.refresh_from_db()
    assert match.review == "confirmed" and match.reviewed_by == user


def test_rejecting_then_undoing_puts_the_match_back_in_the_review_queue(api, client, user, searched_query):
    match = _best(searched_query)
    api.post(f"/api/matches/{match.id}/verdict/", {"decision": "rejected"}, format="json")
    client.force_login(user)
    assert list(client.get(reverse("search:review_dashboard")).context["matches"]) == []
    response = api.delete(f"/api/matches/{match.id}/verdict/")
    assert response.status_code == 200 and response.json()["review"] == "unreviewed"
    assert response.json()["reviewed_at"] is None
    assert list(client.get(reverse("search:review_dashboard")).context["matches"]) == [match]


@pytest.mark.parametrize(("body", "code"), [({"decision": "maybe"}, "invalid_choice"), ({}, "required")])
def test_a_bad_decision_is_invalid_field(api, searched_query, body, code):
    match = _best(searched_query)
    response = api.post(f"/api/matches/{match.id}/verdict/", body, format="json")
    assert response.status_code == 400 and response.json()["code"] == "invalid_field"
    assert response.json()["fields"]["decision"][0]["code"] == code
    match.refresh_from_db()
    assert match.review == "unreviewed"


def test_unreviewed_is_not_a_verdict_one_can_post(api, searched_query):
    match = _best(searched_query)
    response = api.post(f"/api/matches/{match.id}/verdict/", {"decision": "unreviewed"}, format="json")
    assert response.status_code == 400


def test_retrieving_one_match(api, searched_query):
    match = _best(searched_query)
    body = api.get(f"/api/matches/{match.id}/").json()
    assert body["id"] == match.id and body["query"] == searched_query.id and body["inliers"] == 37
