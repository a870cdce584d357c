"""The re-post index through the query task (eager, real model, real Milvus Lite): leaders go in, re-posts
find them there, a version's index is filled from the rows on its first search, reconcile repairs it."""

import pytest

from copydetect.reposts import repost_key
from search.collection import services as collection_services
from search.core.uploads import Payload
from search.queries import services as queries_services
from search.queries.models import QueryImage
from tests.factories import CollectionFactory
from tests.images import edited_copy, encode, scene
from workers import reconcile, runtime

pytestmark = pytest.mark.django_db(transaction=True)


def _query(collection, name: str, data: bytes) -> QueryImage:
    query, _ = queries_services.query_image_add(
        actor=collection.created_by, collection=collection, payload=Payload(name, data)
    )
    return QueryImage.objects.get(id=query.id)


def _indexed(store) -> list[int]:
    return sorted(store.vector_ids(model_version=repost_key(runtime.descriptor_get().version)))


@pytest.fixture
def collection(isc_settings, eager_tasks):
    collection = CollectionFactory()
    collection_services.reference_images_add(
        actor=collection.created_by, collection=collection, items=[Payload("r.jpg", encode(scene(710)))]
    )
    return collection


def test_leaders_are_indexed_and_a_re_post_is_found_through_the_index(collection):
    store = runtime.vector_store_get()
    picture = edited_copy(scene(710))
    first = _query(collection, "meme.jpg", encode(picture))
    other = _query(collection, "other.jpg", encode(edited_copy(scene(711))))
    assert _indexed(store) == [first.id, other.id]
    repost = _query(collection, "meme.png", encode(picture, "PNG"))
    assert repost.near_duplicate_of_id == first.id
    assert _indexed(store) == [first.id, other.id], "a re-post leads nothing: it stays out"
    elsewhere = CollectionFactory(team=collection.team, created_by=collection.created_by)
    assert _query(elsewhere, "meme.png", encode(picture, "PNG")).near_duplicate_of_id is None, "collections apart"


def test_a_version_without_an_index_gets_one_filled_from_the_rows_on_its_first_search(collection):
    store = runtime.vector_store_get()
    picture = edited_copy(scene(710))
    first = _query(collection, "meme.jpg", encode(picture))
    store.collection_drop(model_version=repost_key(runtime.descriptor_get().version))  # as before an upgrade
    repost = _query(collection, "meme.png", encode(picture, "PNG"))
    assert repost.near_duplicate_of_id == first.id
    assert _indexed(store) == [first.id]


def test_reconcile_adds_missing_leaders_and_deletes_rows_that_lead_nothing(collection):
    store = runtime.vector_store_get()
    version = runtime.descriptor_get().version
    first = _query(collection, "a.jpg", encode(edited_copy(scene(710))))
    second = _query(collection, "b.jpg", encode(edited_copy(scene(711))))
    store.vectors_delete(model_version=repost_key(version), ids=[first.id])  # a worker died before adding it
    QueryImage.objects.filter(id=second.id).update(near_duplicate_of=first)  # it leads nothing any more
    report = reconcile.reconcile_run()
    assert (report.repost_leaders_added, report.repost_rows_deleted) == (1, 1)
    assert _indexed(store) == [first.id]
    assert store.collection_exists(model_version=repost_key(version)), "not taken for a dead collection"
    again = reconcile.reconcile_run(dry_run=True)
    assert (again.repost_leaders_added, again.repost_rows_deleted, again.dead_collections_dropped) == (0, 0, 0)


def test_deleting_a_collection_takes_its_leaders_out_of_the_index(collection):
    store = runtime.vector_store_get()
    kept = CollectionFactory(team=collection.team, created_by=collection.created_by)
    gone = _query(collection, "a.jpg", encode(edited_copy(scene(710))))
    stays = _query(kept, "a.jpg", encode(edited_copy(scene(710))))
    assert _indexed(store) == [gone.id, stays.id]
    collection_services.collection_delete(actor=collection.created_by, collection=collection)
    assert _indexed(store) == [stays.id]
