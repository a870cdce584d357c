"""Query pages: the upload and the result page."""

import io

import pytest
from django.urls import reverse

from search.collection import services as collection_services
from search.collection.models import ImageStatus, ReferenceImage
from search.core.uploads import Payload
from search.queries import services as queries_services
from search.queries.models import QueryImage
from tests.factories import UserFactory, collection_for
from tests.images import encode, scene
from tests.search.pages import page_messages, query_uploaded
from workers.errors import SEARCH_BACKEND_RETRYING


def test_an_oversized_query_is_refused(client, moderator, media_root, settings):
    settings.ISC = settings.ISC.replace(max_upload_bytes=1000)
    collection = collection_for(moderator)
    upload = io.BytesIO(encode(scene(1)))
    upload.name = "big.jpg"
    response = client.post(reverse("search:query_upload", args=[collection.id]), {"image": upload}, follow=True)
    assert any("the limit is" in message for message in page_messages(response))
    assert not QueryImage.objects.exists()


def test_a_corrupt_query_is_refused_with_the_reason(client, moderator, media_root):
    collection = collection_for(moderator)
    upload = io.BytesIO(encode(scene(1))[:300])
    upload.name = "cut.jpg"
    response = client.post(reverse("search:query_upload", args=[collection.id]), {"image": upload}, follow=True)
    assert any("cut.jpg" in message and "truncated or corrupt" in message for message in page_messages(response))


def test_a_query_upload_leads_to_its_result_page(client, moderator, media_root):
    collection = collection_for(moderator)
    upload = io.BytesIO(encode(scene(9)))
    upload.name = "suspect.jpg"
    response = client.post(reverse("search:query_upload", args=[collection.id]), {"image": upload})
    query = QueryImage.objects.get()
    assert response.url == reverse("search:query_detail", args=[query.id])
    page = client.get(response.url).content.decode()
    assert "suspect.jpg" in page and "data-live-url" in page, "a pending query page refreshes itself"


def test_another_users_collections_and_queries_are_invisible(client, moderator, media_root):
    other = UserFactory()
    theirs = collection_for(other, name="Private")
    query, _ = queries_services.query_image_add(
        actor=theirs.created_by, collection=theirs, payload=Payload("q.jpg", encode(scene(3)))
    )
    assert "Private" not in client.get(reverse("search:collection_list")).content.decode()
    assert client.get(reverse("search:collection_detail", args=[theirs.id])).status_code == 404
    assert client.get(reverse("search:query_detail", args=[query.id])).status_code == 404
    upload = io.BytesIO(encode(scene(4)))
    upload.name = "x.jpg"
    assert client.post(reverse("search:query_upload", args=[theirs.id]), {"image": upload}).status_code == 404
    assert ReferenceImage.objects.count() == 0 and QueryImage.objects.count() == 1


def test_the_result_page_draws_keypoint_lines_between_query_and_reference(client, moderator, media_root):
    collection = collection_for(moderator, match_threshold=0.5)
    reference = collection_services.reference_images_add(
        actor=collection.created_by, collection=collection, items=[Payload("r.jpg", encode(scene(1)))]
    ).created[0]
    query, _ = queries_services.query_image_add(
        actor=collection.created_by, collection=collection, payload=Payload("q.jpg", encode(scene(2)))
    )
    queries_services.query_results_record(
        query_id=query.id,
        descriptor_version="sscd_test",
        results=[queries_services.MatchResult(reference.id, 0.8, True, 25, 0.7, [[0.5, 0.5, 0.25, 0.75]], 0.94)],
        search_ms=321,
    )
    page = client.get(reverse("search:query_detail", args=[query.id])).content.decode()
    assert "badge copy" in page and "25</b> inliers" in page and "searched in 321 ms" in page
    # query 480 px wide at 260 px high → 346.7 wide; reference starts 24 px later.
    assert '<line x1="173.3" y1="130.0" x2="457.3" y2="195.0"/>' in page
    assert "data-live-url" not in page, "a finished result page stops polling"


pytestmark = pytest.mark.django_db


def test_a_query_waiting_on_the_search_backend_says_so_plainly_and_offers_retry(client, moderator, media_root):
    query = query_uploaded(collection_for(moderator))
    QueryImage.objects.filter(id=query.id).update(status=ImageStatus.PENDING, notice=SEARCH_BACKEND_RETRYING)
    page = client.get(reverse("search:query_results", args=[query.id])).content.decode()
    assert "Search backend unavailable, retrying" in page
    assert "failed" not in page.lower() and "MilvusException" not in page
    assert reverse("search:image_retry", args=["query", query.id]) in page
    assert "data-live-url" in page, "the page keeps polling by itself"


def test_a_done_query_has_no_retry_button(client, moderator, media_root):
    query = query_uploaded(collection_for(moderator), seed=6)
    queries_services.query_results_record(query_id=query.id, descriptor_version="v1", results=[], search_ms=3)
    page = client.get(reverse("search:query_results", args=[query.id])).content.decode()
    assert reverse("search:image_retry", args=["query", query.id]) not in page
