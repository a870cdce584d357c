import pytest
from django.core.files.storage import default_storage

from copydetect.imaging import ImageRejected
from search import services
from search.models import ImageStatus, Match, QueryImage, ReferenceImage, ReviewDecision
from search.uploads import Payload, Rejection
from tests.factories import CollectionFactory, UserFactory, collection_for
from tests.images import encode, scene

pytestmark = pytest.mark.django_db


def test_references_are_stored_once_per_collection(media_root, django_capture_on_commit_callbacks):
    collection = CollectionFactory()
    image = encode(scene(1))
    with django_capture_on_commit_callbacks() as queued:
        first = services.reference_images_add(
            actor=collection.created_by, collection=collection, items=[Payload("a.jpg", image)]
        )
        second = services.reference_images_add(
            actor=collection.created_by, collection=collection, items=[Payload("again.jpg", image)]
        )
    assert len(first.created) == 1 and second.duplicates == ["again.jpg"]
    reference = first.created[0]
    assert (reference.width, reference.height, reference.status) == (480, 360, ImageStatus.PENDING)
    assert default_storage.exists(reference.file.name)
    assert len(queued) == 1, "only the new row is queued for indexing"
    assert ReferenceImage.objects.count() == 1


def test_the_same_bytes_may_live_in_two_collections(media_root):
    image = encode(scene(2))
    for collection in (CollectionFactory(), CollectionFactory()):
        assert (
            len(
                services.reference_images_add(
                    actor=collection.created_by, collection=collection, items=[Payload("x.jpg", image)]
                ).created
            )
            == 1
        )
    assert ReferenceImage.objects.count() == 2


def test_bad_files_are_reported_and_leave_nothing_behind(media_root):
    collection = CollectionFactory()
    report = services.reference_images_add(
        actor=collection.created_by,
        collection=collection,
        items=[
            Payload("notes.txt", b"hello"),
            Payload("broken.jpg", encode(scene(3))[:500]),
            Rejection("evil.zip", "Nested archives are not accepted"),
            Payload("good.png", encode(scene(4), "PNG")),
        ],
    )
    assert [r.name for r in report.rejected] == ["notes.txt", "broken.jpg", "evil.zip"]
    assert len(report.created) == 1
    assert report.summary == "1 added, 3 rejected"
    stored = list((media_root / "references").rglob("*.*"))
    assert len(stored) == 1, "rejected files are never written to storage"


def test_a_repeated_query_returns_the_earlier_row(media_root):
    collection = CollectionFactory()
    data = encode(scene(5))
    query, created = services.query_image_add(
        actor=collection.created_by, collection=collection, payload=Payload("q.jpg", data)
    )
    again, created_again = services.query_image_add(
        actor=collection.created_by, collection=collection, payload=Payload("q2.jpg", data)
    )
    assert created and not created_again and again.id == query.id


def test_a_non_image_query_is_refused_without_a_row(media_root):
    with pytest.raises(ImageRejected):
        services.query_image_add(
            actor=(empty := CollectionFactory()).created_by, collection=empty, payload=Payload("q.gif", b"GIF89a junk")
        )
    assert QueryImage.objects.count() == 0


def test_claiming_is_conditional(media_root):
    collection = CollectionFactory()
    reference = services.reference_images_add(
        actor=collection.created_by, collection=collection, items=[Payload("a.jpg", encode(scene(6)))]
    ).created[0]
    claim = services.stored_image_claim
    assert claim(model=ReferenceImage, image_id=reference.id, descriptor_version="v1") == services.Claim.CLAIMED
    services.reference_indexed_mark(reference_id=reference.id, descriptor_version="v1", features_path="f.npz")
    assert claim(model=ReferenceImage, image_id=reference.id, descriptor_version="v1") == services.Claim.SKIPPED
    # A new model version makes the row due again.
    assert claim(model=ReferenceImage, image_id=reference.id, descriptor_version="v2") == services.Claim.CLAIMED
    reference.refresh_from_db()
    assert (reference.status, reference.attempts) == (ImageStatus.PROCESSING, 1)
    assert claim(model=ReferenceImage, image_id=reference.id + 999, descriptor_version="v1") == services.Claim.SKIPPED


def _result(reference_id: int, score: float) -> services.MatchResult:
    return services.MatchResult(
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
    refs = services.reference_images_add(
        actor=collection.created_by,
        collection=collection,
        items=[Payload(f"{i}.jpg", encode(scene(10 + i))) for i in range(3)],
    ).created
    query, _ = services.query_image_add(
        actor=collection.created_by, collection=collection, payload=Payload("q.jpg", encode(scene(20)))
    )
    results = [_result(refs[0].id, 0.9), _result(refs[1].id, 0.4)]
    services.query_results_record(query_id=query.id, descriptor_version="v1", results=results, search_ms=12)
    first = Match.objects.get(query=query, reference=refs[0])
    services.match_review(match=first, reviewer=collection.created_by, decision=ReviewDecision.CONFIRMED)
    services.query_results_record(query_id=query.id, descriptor_version="v1", results=results, search_ms=15)
    matches = list(query.matches.order_by("rank"))
    assert [(m.reference_id, m.rank) for m in matches] == [(refs[0].id, 1), (refs[1].id, 2)]
    assert matches[0].review == ReviewDecision.CONFIRMED
    query.refresh_from_db()
    assert (query.status, query.search_ms) == (ImageStatus.INDEXED, 15)


def test_results_never_point_into_another_collection(media_root):
    mine, theirs = CollectionFactory(), collection_for(UserFactory())
    foreign = services.reference_images_add(
        actor=theirs.created_by, collection=theirs, items=[Payload("t.jpg", encode(scene(30)))]
    ).created[0]
    query, _ = services.query_image_add(
        actor=mine.created_by, collection=mine, payload=Payload("q.jpg", encode(scene(31)))
    )
    services.query_results_record(
        query_id=query.id, descriptor_version="v1", results=[_result(foreign.id, 0.99)], search_ms=1
    )
    assert query.matches.count() == 0


def test_failing_a_row_keeps_the_reason(media_root):
    collection = CollectionFactory()
    reference = services.reference_images_add(
        actor=collection.created_by, collection=collection, items=[Payload("a.jpg", encode(scene(7)))]
    ).created[0]
    services.stored_image_fail(model=ReferenceImage, image_id=reference.id, error="The image is truncated")
    reference.refresh_from_db()
    assert (reference.status, reference.error) == (ImageStatus.FAILED, "The image is truncated")
