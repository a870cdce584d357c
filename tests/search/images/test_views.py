"""Retry on a row that is not done."""

import pytest
from django.urls import reverse

from search.collection import services as collection_services
from search.collection.models import ImageStatus, ReferenceImage
from search.core.uploads import Payload
from tests.factories import collection_for
from tests.images import encode, scene

pytestmark = pytest.mark.django_db


def test_retry_requeues_a_stuck_row_with_a_fresh_attempt_count(client, moderator, media_root):
    collection = collection_for(moderator)
    reference = collection_services.reference_images_add(
        actor=collection.created_by, collection=collection, items=[Payload("r.jpg", encode(scene(4)))]
    ).created[0]
    ReferenceImage.objects.filter(id=reference.id).update(status=ImageStatus.PROCESSING, attempts=3, notice="x")
    client.post(reverse("search:image_retry", args=["reference", reference.id]))
    reference.refresh_from_db()
    assert (reference.status, reference.attempts, reference.notice) == (ImageStatus.PENDING, 0, "")
