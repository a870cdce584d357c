"""Claims and failures of stored-image rows."""

import pytest

from search.collection import services as collection_services
from search.collection.models import ImageStatus, ReferenceImage
from search.core import stored_images
from search.core.uploads import Payload
from tests.factories import CollectionFactory
from tests.images import encode, scene

pytestmark = pytest.mark.django_db


def test_claiming_is_conditional(media_root):
    collection = CollectionFactory()
    reference = collection_services.reference_images_add(
        actor=collection.created_by, collection=collection, items=[Payload("a.jpg", encode(scene(6)))]
    ).created[0]
    claim = stored_images.stored_image_claim
    assert claim(model=ReferenceImage, image_id=reference.id, descriptor_version="v1") == stored_images.Claim.CLAIMED
    collection_services.reference_indexed_mark(
        reference_id=reference.id, descriptor_version="v1", features_path="f.npz"
    )
    assert claim(model=ReferenceImage, image_id=reference.id, descriptor_version="v1") == stored_images.Claim.SKIPPED
    # A new model version makes the row due again.
    assert claim(model=ReferenceImage, image_id=reference.id, descriptor_version="v2") == stored_images.Claim.CLAIMED
    reference.refresh_from_db()
    assert (reference.status, reference.attempts) == (ImageStatus.PROCESSING, 1)
    assert (
        claim(model=ReferenceImage, image_id=reference.id + 999, descriptor_version="v1") == stored_images.Claim.SKIPPED
    )


def test_failing_a_row_keeps_the_reason(media_root):
    collection = CollectionFactory()
    reference = collection_services.reference_images_add(
        actor=collection.created_by, collection=collection, items=[Payload("a.jpg", encode(scene(7)))]
    ).created[0]
    stored_images.stored_image_fail(model=ReferenceImage, image_id=reference.id, error="The image is truncated")
    reference.refresh_from_db()
    assert (reference.status, reference.error) == (ImageStatus.FAILED, "The image is truncated")
