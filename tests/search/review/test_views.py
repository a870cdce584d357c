"""The verdict form of the result page."""

import pytest
from django.urls import reverse

from search.collection import services as collection_services
from search.core.uploads import Payload
from search.queries import services as queries_services
from tests.factories import UserFactory, collection_for
from tests.images import encode, scene

pytestmark = pytest.mark.django_db


def test_reviewing_a_match_moves_it_out_of_the_queue(client, moderator, media_root):
    collection = collection_for(moderator)
    reference = collection_services.reference_images_add(
        actor=collection.created_by, collection=collection, items=[Payload("r.jpg", encode(scene(1)))]
    ).created[0]
    query, _ = queries_services.query_image_add(
        actor=collection.created_by, collection=collection, payload=Payload("q.jpg", encode(scene(2)))
    )
    queries_services.query_results_record(
        query_id=query.id,
        descriptor_version="v",
        search_ms=1,
        results=[queries_services.MatchResult(reference.id, 0.9, False, 0, 0.0, [], 0.9)],
    )
    match = query.matches.get()
    assert list(client.get(reverse("search:review_dashboard")).context["matches"]) == [match]
    client.post(
        reverse("search:match_review", args=[match.id]), {"decision": "confirmed", "next": "https://evil.example/"}
    )
    match.refresh_from_db()
    assert match.review == "confirmed" and match.reviewed_by == moderator
    assert list(client.get(reverse("search:review_dashboard")).context["matches"]) == []


def test_another_user_cannot_review_my_matches(client, media_root):
    owner = UserFactory()
    collection = collection_for(owner)
    reference = collection_services.reference_images_add(
        actor=collection.created_by, collection=collection, items=[Payload("r.jpg", encode(scene(1)))]
    ).created[0]
    query, _ = queries_services.query_image_add(
        actor=collection.created_by, collection=collection, payload=Payload("q.jpg", encode(scene(2)))
    )
    queries_services.query_results_record(
        query_id=query.id,
        descriptor_version="v",
        search_ms=1,
        results=[queries_services.MatchResult(reference.id, 0.9, False, 0, 0.0, [], 0.9)],
    )
    client.force_login(UserFactory())
    response = client.post(reverse("search:match_review", args=[query.matches.get().id]), {"decision": "rejected"})
    assert response.status_code == 404
