import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from search.review import services as review_services
from search.teams.models import Role
from tests.factories import MembershipFactory, token_client

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


def test_a_verdict_on_an_item_another_moderator_holds_is_a_409_with_a_code(api, searched_query):
    match = _best(searched_query)
    holder = MembershipFactory(team=searched_query.collection.team, role=Role.MODERATOR).user
    assert review_services.match_claim(actor=holder, match=match)
    response = api.post(f"/api/matches/{match.id}/verdict/", {"decision": "confirmed"}, format="json")
    assert response.status_code == 409, response.content
    assert response.json()["code"] == "claimed_by_other"
    body = response.json()
    assert holder.username in body["detail"] and body["claimed_by"] == holder.username
    assert parse_datetime(body["claimed_until"]) > timezone.now()
    match.refresh_from_db()
    assert match.review == "unreviewed" and match.claimed_by == holder


def test_the_holder_of_the_claim_may_give_the_verdict(searched_query):
    match = _best(searched_query)
    holder = MembershipFactory(team=searched_query.collection.team, role=Role.MODERATOR).user
    assert review_services.match_claim(actor=holder, match=match)
    response = token_client(holder).post(f"/api/matches/{match.id}/verdict/", {"decision": "rejected"}, format="json")
    assert response.status_code == 200 and response.json()["review"] == "rejected"
