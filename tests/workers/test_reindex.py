"""Reindex with the real shipped models (sscd_distilled → sscd), real Milvus Lite; tasks run eagerly."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from copydetect.descriptors import descriptor_build
from copydetect.vector_store import collection_name
from search.collection import services as collection_services
from search.collection.models import ImageStatus
from search.core.uploads import Payload
from search.queries import services as queries_services
from search.queries.models import QueryImage
from search.reindex import selectors as reindex_selectors
from search.reindex import services as reindex_services
from search.reindex.models import IndexVersion, ReindexJob
from tests.factories import CollectionFactory, UserFactory
from tests.images import edited_copy, encode, scene
from tests.services import milvus_wipe
from workers import runtime
from workers.reindex import reindex_step

pytestmark = pytest.mark.django_db(transaction=True)

OLD, NEW = "sscd_distilled", "sscd"


@pytest.fixture(scope="module")
def versions():
    return {name: descriptor_build(name=name).version for name in (OLD, NEW)}


@pytest.fixture
def model_change(isc_settings, eager_tasks, versions):
    """The workers start on the distilled model; `switch()` restarts them on full SSCD."""
    isc_settings.ISC = isc_settings.ISC.replace(descriptor=OLD, verify_top_k=2)
    runtime.engines_reset()

    def switch():
        isc_settings.ISC = isc_settings.ISC.replace(descriptor=NEW)
        runtime.engines_reset()

    yield switch
    runtime.vector_store_get().close()
    milvus_wipe(isc_settings.ISC.milvus_uri)


def _references(collection, seeds):
    items = [Payload(f"ref{seed}.jpg", encode(scene(seed))) for seed in seeds]
    return collection_services.reference_images_add(
        actor=collection.created_by, collection=collection, items=items
    ).created


def _query(collection, name, image) -> QueryImage:
    query, _ = queries_services.query_image_add(
        actor=collection.created_by, collection=collection, payload=Payload(name, encode(image))
    )
    query.refresh_from_db()
    assert query.status == ImageStatus.INDEXED, query.error
    return query


def _count(version, collection_id=None):
    return runtime.vector_store_get().vectors_count(model_version=version, collection_id=collection_id)


def test_a_model_change_keeps_answering_from_the_old_index_until_the_new_one_holds_everything(model_change, versions):
    collection = CollectionFactory()
    references = _references(collection, range(800, 805))
    assert reindex_selectors.index_version_live_get().version == versions[OLD]
    before = _query(collection, "before.jpg", edited_copy(scene(802)))
    assert before.descriptor_version == versions[OLD]
    assert before.matches.order_by("rank").first().reference_id == references[2].id

    model_change()
    job, _ = reindex_services.reindex_job_start(batch_size=2, enqueue=False)
    cursor = reindex_step(job_id=job.id, cursor=0)
    job.refresh_from_db()
    assert (job.state, job.done, job.total, job.descriptor_version) == ("running", 2, 5, versions[NEW])

    during = _query(collection, "during.jpg", edited_copy(scene(803)))
    assert during.descriptor_version == versions[OLD], "the half-built index must not answer"
    assert during.matches.order_by("rank").first().reference_id == references[3].id
    note = reindex_selectors.query_index_note(query=during)
    assert f"live index {versions[OLD]}" in note and f"reindex to {versions[NEW]} is 40 % done" in note

    (uploaded,) = _references(collection, [805])  # reaches both versions: searchable now, kept after the swap
    store = runtime.vector_store_get()
    assert uploaded.id in store.vectors_present(model_version=versions[OLD], ids=[uploaded.id])
    assert uploaded.id in store.vectors_present(model_version=versions[NEW], ids=[uploaded.id])

    while cursor is not None:
        cursor = reindex_step(job_id=job.id, cursor=cursor)
    job.refresh_from_db()
    assert (job.state, job.done, job.total) == ("done", 6, 6)
    assert reindex_selectors.index_version_live_get().version == versions[NEW]
    assert store.alias_target(alias=runtime.live_alias()) == collection_name(versions[NEW])
    ids = [reference.id for reference in [*references, uploaded]]
    assert store.vectors_present(model_version=versions[NEW], ids=ids) == set(ids)
    assert _count(versions[NEW], collection.id) == 6
    assert not store.collection_exists(model_version=versions[OLD]), "the replaced version is dropped"
    assert IndexVersion.objects.get(version=versions[OLD]).state == IndexVersion.State.DROPPED

    after = _query(collection, "after.jpg", edited_copy(scene(805)))
    assert after.descriptor_version == versions[NEW]
    assert after.matches.order_by("rank").first().reference_id == uploaded.id
    assert reindex_selectors.query_index_note(query=after) == f"Searched with the live index {versions[NEW]}."
    assert "Search again" in reindex_selectors.query_index_note(query=during)


def test_a_batch_delivered_twice_is_done_once(model_change, versions):
    collection = CollectionFactory()
    _references(collection, range(810, 813))
    model_change()
    job, _ = reindex_services.reindex_job_start(batch_size=2, enqueue=False)
    first = reindex_step(job_id=job.id, cursor=0)
    assert reindex_step(job_id=job.id, cursor=0) is None, "the cursor moved: the second delivery stops"
    job.refresh_from_db()
    assert (job.done, job.cursor) == (2, first)
    last = reindex_step(job_id=job.id, cursor=first)
    assert reindex_step(job_id=job.id, cursor=first) is None
    assert reindex_step(job_id=job.id, cursor=last) is None  # nothing after it: the swap
    assert reindex_step(job_id=job.id, cursor=last) is None  # the swap delivered again: the job is done
    job.refresh_from_db()
    assert (job.state, job.done) == ("done", 3)
    assert _count(versions[NEW]) == 3


def test_a_stale_job_resumes_from_its_cursor_and_a_live_one_is_left_alone(model_change, versions):
    collection = CollectionFactory()
    _references(collection, range(820, 825))
    model_change()
    job, _ = reindex_services.reindex_job_start(batch_size=2, enqueue=False)
    reindex_step(job_id=job.id, cursor=0)  # one batch done, then the worker "dies"
    assert reindex_services.reindex_jobs_resume_stale(older_than=timedelta(minutes=5)) == 0, "it spoke just now"
    ReindexJob.objects.filter(id=job.id).update(heartbeat_at=timezone.now() - timedelta(minutes=10))
    assert reindex_services.reindex_jobs_resume_stale(older_than=timedelta(minutes=5)) == 1
    job.refresh_from_db()
    assert (job.state, job.done, job.total, job.resumes) == ("done", 5, 5, 1)
    assert _count(versions[NEW]) == 5


def test_keeping_the_old_version_allows_a_rollback(model_change, versions, capsys):
    collection = CollectionFactory()
    _references(collection, range(830, 833))
    model_change()
    from django.conf import settings

    settings.ISC = settings.ISC.replace(reindex_keep_old=True)
    call_command("reindex")  # eager: the whole chain runs now
    assert reindex_selectors.index_version_live_get().version == versions[NEW]
    assert runtime.vector_store_get().collection_exists(model_version=versions[OLD])
    (late,) = _references(collection, [833])  # after the swap: written to the new version only
    capsys.readouterr()
    call_command("reindex", "--rollback")
    out = capsys.readouterr().out
    assert f"the live index is {versions[OLD]} again (was {versions[NEW]})" in out
    assert "1 references added since the swap were embedded into it first" in out
    assert reindex_selectors.index_version_live_get().version == versions[OLD]
    store = runtime.vector_store_get()
    assert store.alias_target(alias=runtime.live_alias()) == collection_name(versions[OLD])
    assert _count(versions[OLD]) == 4
    query = _query(collection, "q.jpg", edited_copy(scene(833)))
    assert query.descriptor_version == versions[OLD]
    assert query.matches.order_by("rank").first().reference_id == late.id


def test_without_a_kept_version_rollback_says_why(model_change):
    _references(CollectionFactory(), [840])
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="nothing to roll back to"):
        call_command("reindex", "--rollback")


def test_a_live_model_that_cannot_be_loaded_is_said_plainly(model_change, versions):
    # The distilled weights "changed under the same name": the recorded version no longer builds.
    model_change()
    stale = f"{OLD}_0000000000_sq288bicubic"
    IndexVersion.objects.create(version=stale, descriptor_name=OLD, state="live", live_since=timezone.now())
    collection = CollectionFactory()
    _references(collection, range(850, 853))
    assert runtime.live_descriptor_get() is None
    assert "not " + stale in IndexVersion.objects.get(version=stale).load_error
    job, _ = reindex_services.reindex_job_start(batch_size=2, enqueue=False)
    reindex_step(job_id=job.id, cursor=0)
    query = _query(collection, "q.jpg", edited_copy(scene(851)))
    assert query.descriptor_version == versions[NEW]
    note = reindex_selectors.query_index_note(query=query)
    assert "the index being built" in note and f"the live index {stale} cannot be used" in note


def test_command_runs_here_with_a_progress_bar_and_lists_jobs(model_change, versions, capsys):
    _references(CollectionFactory(), range(860, 863))
    model_change()
    call_command("reindex", "--here", "--batch-size", "2")
    captured = capsys.readouterr()
    assert "done: 3 references" in captured.out and f"live is {versions[NEW]}" in captured.out
    assert "3/3" in captured.err, "tqdm draws on stderr"
    call_command("reindex", "--wait")  # eager: runs as it is queued; the version is live already
    assert "refreshed in place" in capsys.readouterr().out
    assert _count(versions[NEW]) == 3
    call_command("reindex", "--status")
    out = capsys.readouterr().out
    assert f"Live version: {versions[NEW]}" in out
    assert "done     3/3 (100 %)" in out and f"→ {versions[NEW]} (from {versions[OLD]})" in out


def test_a_worker_running_another_model_fails_the_job_with_the_reason(model_change, versions):
    from workers.tasks.reindex import reindex_run

    _references(CollectionFactory(), [880])
    job = ReindexJob.objects.create(state="running", descriptor_version="vit_0123456789", batch_size=2)
    assert reindex_run.apply(args=(job.id, 0)).get() == "failed"
    job.refresh_from_db()
    assert job.state == "failed"
    assert job.error.startswith(f"This worker runs {versions[OLD]}, but reindex #{job.id} builds vit_0123456789")


def test_the_page_shows_progress_and_polls_while_a_job_runs(model_change, versions, client):
    _references(CollectionFactory(), range(870, 874))
    model_change()
    client.force_login(UserFactory(is_staff=True))
    job, _ = reindex_services.reindex_job_start(batch_size=2, enqueue=False)
    reindex_step(job_id=job.id, cursor=0)
    partial = client.get(reverse("search:reindex_progress")).content.decode()
    assert 'data-live-url="/reindex/progress/"' in partial
    assert "2 / 4 references (50 %)" in partial and "images/s" in partial and " left" in partial
    assert f"<code>{versions[OLD]}</code>" in partial, "the live version is named"
    page = client.get(reverse("search:reindex")).content.decode()
    assert f"Reindex #{job.id} is under way" in page and "Start a reindex" not in page, "one job at a time"
    cursor = ReindexJob.objects.get(id=job.id).cursor
    while cursor is not None:
        cursor = reindex_step(job_id=job.id, cursor=cursor)
    partial = client.get(reverse("search:reindex_progress")).content.decode()
    assert "data-live-url" not in partial and "4 / 4 references (100 %)" in partial and "Done" in partial
