"""Query uploads and recorded results."""

import pytest

from copydetect.imaging import ImageRejected
from search.collection import services as collection_services
from search.collection.models import ImageStatus
from search.core.uploads import Payload
from search.queries import services as queries_services
from search.queries.models import Match, QueryImage
from search.review import services as review_services
from search.review.models import ReviewDecision
from tests.factories import CollectionFactory, UserFactory, collection_for
from tests.images import encode, scene

pytestmark = pytest.mark.django_db


def test_a_repeated_query_returns_the_earlier_row(media_root):
    collection = CollectionFactory()
    data = encode(scene(5))
    query, created = queries_services.query_image_add(
        actor=collection.created_by, collection=collection, payload=Payload("q.jpg", data)
    )
    again, created_again = queries_services.query_image_add(
        actor=collection.created_by, collection=collection, payload=Payload("q2.jpg", data)
    )
    assert created and not created_again and again.id == query.id


def test_a_non_image_query_is_refused_without_a_row(media_root):
    with pytest.raises(ImageRejected):
        queries_services.query_image_add(
            actor=(empty := CollectionFactory()).created_by, collection=empty, payload=Payload("q.gif", b"GIF89a junk")
        )
    assert QueryImage.objects.count() == 0


def _result(reference_id: int, score: float) -> queries_services.MatchResult:
    return queries_services.MatchResult(
        reference_id=reference_id,
        descriptor_similarity=score,
        verified=True,
        inliers=12,
        verification_score=0.5,
        keypoint_pairs=[[0.1, 0.2, 0.3, 0.4]],
        final_score=score,
    )


def test_recording_results_twice_leaves_one_set_and_keeps_reviews(media_root):
    collection = CollectionFactory()
    refs = collection_services.reference_images_add(
        actor=collection.created_by,
        collection=collection,
        items=[Payload(f"{i}.jpg", encode(scene(10 + i))) for i in range(3)],
    ).created
    query, _ = queries_services.query_image_add(
        actor=collection.created_by, collection=collection, payload=Payload("q.jpg", encode(scene(20)))
    )
    results = [_result(refs[0].id, 0.9), _result(refs[1].id, 0.4)]
    queries_services.query_results_record(query_id=query.id, descriptor_version="v1", results=results, search_ms=12)
    first = Match.objects.get(query=query, reference=refs[0])
    review_services.match_review(match=first, reviewer=collection.created_by, decision=ReviewDecision.CONFIRMED)
    queries_services.query_results_record(query_id=query.id, descriptor_version="v1", results=results, search_ms=15)
    matches = list(query.matches.order_by("rank"))
    assert [(m.reference_id, m.rank) for m in matches] == [(refs[0].id, 1), (refs[1].id, 2)]
    assert matches[0].review == ReviewDecision.CONFIRMED
    query.refresh_from_db()
    assert (query.status, query.search_ms) == (ImageStatus.INDEXED, 15)


def test_results_never_point_into_another_collection(media_root):
    mine, theirs = CollectionFactory(), collection_for(UserFactory())
    foreign = collection_services.reference_images_add(
        actor=theirs.created_by, collection=theirs, items=[Payload("t.jpg", encode(scene(30)))]
    ).created[0]
    query, _ = queries_services.query_image_add(
        actor=mine.created_by, collection=mine, payload=Payload("q.jpg", encode(scene(31)))
    )
    queries_services.query_results_record(
        query_id=query.id, descriptor_version="v1", results=[_result(foreign.id, 0.99)], search_ms=1
    )
    assert query.matches.count() == 0
