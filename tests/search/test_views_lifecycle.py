"""What the pages show for rows that are not done, and uploads where some files are bad."""

import io

import pytest
from django.urls import reverse

from search import services
from search.models import ImageStatus, QueryImage, ReferenceImage
from search.uploads import Payload
from tests.factories import UserFactory, collection_for
from tests.images import encode, scene
from workers.errors import SEARCH_BACKEND_RETRYING

pytestmark = pytest.mark.django_db


@pytest.fixture
def moderator(client):
    user = UserFactory()
    client.force_login(user)
    return user


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def _named(data: bytes, name: str) -> io.BytesIO:
    handle = io.BytesIO(data)
    handle.name = name
    return handle


def test_one_empty_file_in_a_multi_file_upload_is_rejected_alone(client, moderator, media_root):
    collection = collection_for(moderator)
    files = [_named(encode(scene(1)), "a.jpg"), _named(b"", "empty.jpg"), _named(encode(scene(2)), "b.jpg")]
    response = client.post(
        reverse("search:references_upload", args=[collection.id]), {"source": "files", "files": files}, follow=True
    )
    shown = _messages(response)
    assert "Upload: 2 added, 1 rejected." in shown
    assert "empty.jpg: The file is empty." in shown
    assert sorted(collection.references.values_list("original_name", flat=True)) == ["a.jpg", "b.jpg"]


def test_an_upload_of_only_an_empty_file_says_so(client, moderator, media_root):
    collection = collection_for(moderator)
    response = client.post(
        reverse("search:references_upload", args=[collection.id]),
        {"source": "files", "files": [_named(b"", "empty.png")]},
        follow=True,
    )
    assert "empty.png: The file is empty." in _messages(response)
    assert collection.references.count() == 0


def _query(collection, seed: int = 5) -> QueryImage:
    query, _ = services.query_image_add(
        actor=collection.created_by, collection=collection, payload=Payload("q.jpg", encode(scene(seed)))
    )
    return query


def test_a_query_waiting_on_the_search_backend_says_so_plainly_and_offers_retry(client, moderator, media_root):
    query = _query(collection_for(moderator))
    QueryImage.objects.filter(id=query.id).update(status=ImageStatus.PENDING, notice=SEARCH_BACKEND_RETRYING)
    page = client.get(reverse("search:query_results", args=[query.id])).content.decode()
    assert "Search backend unavailable, retrying" in page
    assert "failed" not in page.lower() and "MilvusException" not in page
    assert reverse("search:image_retry", args=["query", query.id]) in page
    assert "data-live-url" in page, "the page keeps polling by itself"


@pytest.mark.parametrize("status", [ImageStatus.PENDING, ImageStatus.PROCESSING, ImageStatus.FAILED])
def test_every_reference_that_is_not_done_shows_its_state_and_a_retry_button(client, moderator, media_root, status):
    collection = collection_for(moderator)
    reference = services.reference_images_add(
        actor=collection.created_by, collection=collection, items=[Payload("r.jpg", encode(scene(3)))]
    ).created[0]
    ReferenceImage.objects.filter(id=reference.id).update(status=status)
    page = client.get(reverse("search:collection_detail", args=[collection.id])).content.decode()
    assert f'badge {status}"' in page
    assert reverse("search:image_retry", args=["reference", reference.id]) in page


def test_retry_requeues_a_stuck_row_with_a_fresh_attempt_count(client, moderator, media_root):
    collection = collection_for(moderator)
    reference = services.reference_images_add(
        actor=collection.created_by, collection=collection, items=[Payload("r.jpg", encode(scene(4)))]
    ).created[0]
    ReferenceImage.objects.filter(id=reference.id).update(status=ImageStatus.PROCESSING, attempts=3, notice="x")
    client.post(reverse("search:image_retry", args=["reference", reference.id]))
    reference.refresh_from_db()
    assert (reference.status, reference.attempts, reference.notice) == (ImageStatus.PENDING, 0, "")


def test_a_done_query_has_no_retry_button(client, moderator, media_root):
    query = _query(collection_for(moderator), seed=6)
    services.query_results_record(query_id=query.id, descriptor_version="v1", results=[], search_ms=3)
    page = client.get(reverse("search:query_results", args=[query.id])).content.decode()
    assert reverse("search:image_retry", args=["query", query.id]) not in page
