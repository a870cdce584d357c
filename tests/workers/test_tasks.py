"""Tasks run eagerly here, with the real descriptor, real Milvus Lite and real OpenCV verification."""

import pytest
from django.db import transaction

from search.collection import services as collection_services
from search.collection.models import ImageStatus
from search.core.uploads import Payload
from search.queries import services as queries_services
from search.queries.models import Match
from tests.factories import CollectionFactory
from tests.images import edited_copy, encode, scene
from workers import runtime
from workers.tasks import queries as workers_queries
from workers.tasks import references as workers_references

pytestmark = pytest.mark.django_db(transaction=True)


def _references(collection, seeds):
    items = [Payload(f"ref{seed}.jpg", encode(scene(seed))) for seed in seeds]
    return collection_services.reference_images_add(
        actor=collection.created_by, collection=collection, items=items
    ).created


def test_indexing_then_searching_finds_the_edited_copy(isc_settings, eager_tasks):
    collection = CollectionFactory()
    references = _references(collection, range(100, 106))
    for reference in references:
        reference.refresh_from_db()
        assert reference.status == ImageStatus.INDEXED, reference.error
        assert reference.descriptor_version == runtime.descriptor_get().version
    query, _ = queries_services.query_image_add(
        actor=collection.created_by, collection=collection, payload=Payload("copy.jpg", encode(edited_copy(scene(102))))
    )
    query.refresh_from_db()
    assert query.status == ImageStatus.INDEXED, query.error
    best = query.matches.order_by("rank").first()
    assert best.reference_id == references[2].id
    assert best.verified and best.inliers >= 15 and best.keypoint_pairs
    assert best.final_score >= collection.match_threshold
    others = query.matches.exclude(reference_id=references[2].id)
    assert all(match.final_score < best.final_score for match in others)


def test_running_a_task_twice_changes_nothing(isc_settings, eager_tasks):
    collection = CollectionFactory()
    references = _references(collection, [200, 201])
    query, _ = queries_services.query_image_add(
        actor=collection.created_by, collection=collection, payload=Payload("q.jpg", encode(edited_copy(scene(200))))
    )
    before = list(Match.objects.filter(query=query).values_list("reference_id", "rank", "final_score"))
    assert workers_queries.query_search.delay(query.id).get() == "skipped"
    assert workers_references.reference_index.delay(references[0].id).get() == "skipped"
    after = list(Match.objects.filter(query=query).values_list("reference_id", "rank", "final_score"))
    assert before == after
    store = runtime.vector_store_get()
    assert store.vectors_count(model_version=runtime.descriptor_get().version, collection_id=collection.id) == 2


def test_two_collections_never_see_each_others_references(isc_settings, eager_tasks):
    mine, theirs = CollectionFactory(), CollectionFactory()
    _references(theirs, [300])
    _references(mine, [301])
    query, _ = queries_services.query_image_add(
        actor=mine.created_by, collection=mine, payload=Payload("q.jpg", encode(edited_copy(scene(300))))
    )
    assert {m.reference.collection_id for m in query.matches.select_related("reference")} == {mine.id}


def test_a_file_that_vanished_from_storage_fails_the_row_with_the_reason(isc_settings, eager_tasks):
    collection = CollectionFactory()
    with transaction.atomic():  # the task is queued when this block commits, after the file is gone
        reference = _references(collection, [400])[0]
        (isc_settings.MEDIA_ROOT / reference.file.name).unlink()
    reference.refresh_from_db()
    assert reference.status == ImageStatus.FAILED and "No such file" in reference.error


def test_a_query_against_an_empty_collection_finishes_with_no_matches(isc_settings, eager_tasks):
    query, _ = queries_services.query_image_add(
        actor=(empty := CollectionFactory()).created_by, collection=empty, payload=Payload("q.jpg", encode(scene(500)))
    )
    query.refresh_from_db()
    assert query.status == ImageStatus.INDEXED and query.matches.count() == 0


def test_reindex_embeds_every_reference_and_points_the_live_alias(isc_settings, eager_tasks):
    from search.reindex import services as reindex_services

    collection = CollectionFactory()
    _references(collection, [600, 601, 602])
    job, _ = reindex_services.reindex_job_start()
    job.refresh_from_db()
    descriptor = runtime.descriptor_get()
    assert (job.state, job.done, job.total, job.descriptor_version) == ("done", 3, 3, descriptor.version)
    store = runtime.vector_store_get()
    from copydetect.vector_store import collection_name

    assert store.alias_target(alias=runtime.live_alias()) == collection_name(descriptor.version)


def test_a_deleted_reference_is_left_out_then_purged_with_its_vector_and_file_after_the_grace(
    isc_settings, eager_tasks
):
    from datetime import timedelta

    from django.core.files.storage import default_storage
    from django.utils import timezone

    from search.collection import services as collection_services
    from search.collection.models import ReferenceImage
    from search.core.models import AuditAction, AuditEvent

    collection = CollectionFactory()
    kept, deleted = _references(collection, [600, 601])
    collection_services.reference_delete(actor=collection.created_by, reference=deleted)
    query, _ = queries_services.query_image_add(
        actor=collection.created_by, collection=collection, payload=Payload("q.jpg", encode(edited_copy(scene(601))))
    )
    assert deleted.id not in set(query.matches.values_list("reference_id", flat=True)), "out of the results"
    assert collection_services.references_purge_expired() == 0, "still within the grace period"
    store, version = runtime.vector_store_get(), runtime.descriptor_get().version
    assert set(store.vectors_get(model_version=version, ids=[kept.id, deleted.id])) == {kept.id, deleted.id}
    later = timezone.now() + timedelta(days=isc_settings.ISC.reference_delete_grace_days + 1)
    assert collection_services.references_purge_expired(now=later) == 1
    assert not ReferenceImage.objects.filter(id=deleted.id).exists()
    assert set(store.vectors_get(model_version=version, ids=[kept.id, deleted.id])) == {kept.id}
    assert not default_storage.exists(deleted.file.name) and default_storage.exists(kept.file.name)
    assert AuditEvent.objects.filter(action=AuditAction.REFERENCE_PURGE, target_id=deleted.id).exists()


def test_a_re_encoded_re_post_of_a_rejected_query_is_grouped_with_it_and_stays_rejected(isc_settings, eager_tasks):
    """The whole path: the search stores the query's descriptor, the rule finds the re-post, the verdict sticks."""
    from search.queries.models import QueryImage
    from search.review import services as review_services
    from search.review.models import ReviewDecision

    collection = CollectionFactory()
    _references(collection, [700, 701])
    picture = edited_copy(scene(700))
    first, _ = queries_services.query_image_add(
        actor=collection.created_by, collection=collection, payload=Payload("meme.jpg", encode(picture))
    )
    best = first.matches.order_by("rank").first()
    review_services.verdict_set(actor=collection.created_by, match=best, decision=ReviewDecision.REJECTED)
    repost, _ = queries_services.query_image_add(
        actor=collection.created_by, collection=collection, payload=Payload("meme.png", encode(picture, "PNG"))
    )
    repost.refresh_from_db()
    assert repost.sha256 != first.sha256 and len(repost.descriptor) > 0
    assert repost.near_duplicate_of_id == first.id
    assert repost.matches.get(reference_id=best.reference_id).review == ReviewDecision.REJECTED
    other, _ = queries_services.query_image_add(
        actor=collection.created_by,
        collection=collection,
        payload=Payload("other.jpg", encode(edited_copy(scene(701)))),
    )
    assert QueryImage.objects.get(id=other.id).near_duplicate_of_id is None


def test_an_in_process_run_waits_for_a_search_backend_that_comes_back(settings, media_root, tmp_path, eager_tasks):
    """Eager runs (the DISC21 commands) cannot hand a retry to Celery: they wait in process instead."""
    import threading

    from copydetect.milvus_lite import MilvusLiteServer
    from tests.services import milvus_wipe

    server = MilvusLiteServer(tmp_path / "late-milvus")
    settings.ISC = settings.ISC.replace(milvus_uri=server.uri, features_dir=str(tmp_path / "features"), warm_up=False)
    runtime.engines_reset()
    starter = threading.Timer(1.5, server.start)
    starter.start()
    try:
        [reference] = _references(CollectionFactory(), [640])
        reference.refresh_from_db()
        assert reference.status == ImageStatus.INDEXED, reference.error
    finally:
        starter.join()
        runtime.vector_store_get().close()
        milvus_wipe(server.uri)
        server.stop()
        runtime.engines_reset()
