"""Adding references."""

import pytest
from django.core.files.storage import default_storage

from search.collection import services as collection_services
from search.collection.models import ImageStatus, ReferenceImage
from search.core.uploads import Payload, Rejection
from tests.factories import CollectionFactory
from tests.images import encode, scene

pytestmark = pytest.mark.django_db


def test_references_are_stored_once_per_collection(media_root, django_capture_on_commit_callbacks):
    collection = CollectionFactory()
    image = encode(scene(1))
    with django_capture_on_commit_callbacks() as queued:
        first = collection_services.reference_images_add(
            actor=collection.created_by, collection=collection, items=[Payload("a.jpg", image)]
        )
        second = collection_services.reference_images_add(
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
                collection_services.reference_images_add(
                    actor=collection.created_by, collection=collection, items=[Payload("x.jpg", image)]
                ).created
            )
            == 1
        )
    assert ReferenceImage.objects.count() == 2


def test_bad_files_are_reported_and_leave_nothing_behind(media_root):
    collection = CollectionFactory()
    report = collection_services.reference_images_add(
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
