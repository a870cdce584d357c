"""kill -9 of a worker's main process in the middle of a reference, a query, a reindex batch and an ingest
chunk: every one recovers within 60 s, with the production deadlines (rows stale after 15 min, jobs after 10
and 15 min) and the sweeper run as beat runs it (every ISC_SWEEP_INTERVAL_SECONDS, 20 s), not every second.

What brings the work back is the claims' record of their worker: a worker that starts re-queues what a worker
that no longer answers held, and so does every sweep (workers/claims.py). Each test holds the dying worker
inside the work (tests/system/faults/worker_faults.py), so the kill lands there every time.
"""

import hashlib
import time

import pytest
from django.urls import reverse

from search.collection.models import ImageStatus, ReferenceImage
from search.core.uploads import Payload
from search.ingest import services as ingest_services
from search.ingest.models import IngestJob
from search.queries import services as queries_services
from search.queries.models import QueryImage
from search.reindex import services as reindex_services
from search.reindex.models import ReindexJob
from tests.factories import CollectionFactory, UserFactory
from tests.images import edited_copy, encode, scene
from tests.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

RECOVERY_SECONDS = 60


@pytest.fixture
def production_deadlines(stack):
    """The age-based deadlines of production: alone they would take 10 to 15 minutes here."""
    stack.settings.ISC = stack.settings.ISC.replace(
        queue_grace_seconds=30,
        stale_after_seconds=900,
        stale_pending_after_seconds=3600,
        reindex_stale_seconds=600,
        ingest_stale_seconds=900,
    )
    return stack


class BeatSweep:
    """Calls the sweeper every ISC_SWEEP_INTERVAL_SECONDS, as Celery beat does, from the first call on."""

    def __init__(self, stack):
        self.stack = stack
        self.interval = stack.settings.ISC.sweep_interval_seconds
        self.last = time.monotonic()

    def __call__(self) -> None:
        if time.monotonic() - self.last >= self.interval:
            self.last = time.monotonic()
            self.stack.sweep()


def _recovered_within(started: float, what: str) -> float:
    seconds = time.monotonic() - started
    print(f"\n{what}: recovered {seconds:.1f} s after kill -9")
    assert seconds < RECOVERY_SECONDS, f"{what} took {seconds:.1f} s to recover"
    return seconds


def test_a_reference_held_by_a_killed_worker_is_indexed_within_a_minute(production_deadlines):
    stack = production_deadlines
    assert stack.settings.ISC.sweep_interval_seconds == 20
    held = encode(scene(5001))
    dying = stack.worker_start(ISC_TEST_FAULT_HANG_SHA256=hashlib.sha256(held).hexdigest())
    collection = CollectionFactory()
    [reference] = stack.references_add(collection, [5001])
    wait_until(
        lambda: ReferenceImage.objects.filter(id=reference.id, claimed_by=dying.hostname).exists(),
        timeout=120,
        what="the dying worker to claim the reference",
    )
    dying.kill()
    killed = time.monotonic()

    stack.worker_start()  # as `make run`'s supervisor restarts it (under another name here)
    wait_until(
        lambda: ReferenceImage.objects.get(id=reference.id).status == ImageStatus.INDEXED,
        timeout=RECOVERY_SECONDS + 30,
        what="the reference to be indexed by the new worker",
        also=BeatSweep(stack),
    )
    _recovered_within(killed, "reference")
    assert stack.milvus_ids() == [reference.id]


def test_a_query_held_by_a_killed_worker_is_answered_within_a_minute_by_the_sweep(production_deadlines):
    stack = production_deadlines
    collection = CollectionFactory()
    stack.worker_start()
    references = stack.references_add(collection, [5101, 5102])
    wait_until(
        lambda: ReferenceImage.objects.filter(status=ImageStatus.INDEXED).count() == 2,
        timeout=120,
        what="the references",
    )
    stack.workers[0].stop()
    copy = encode(edited_copy(scene(5102)))
    dying = stack.worker_start(ISC_TEST_FAULT_HANG_SHA256=hashlib.sha256(copy).hexdigest())
    query, _ = queries_services.query_image_add(
        actor=collection.created_by, collection=collection, payload=Payload("copy.jpg", copy)
    )
    wait_until(
        lambda: QueryImage.objects.filter(id=query.id, claimed_by=dying.hostname).exists(),
        timeout=120,
        what="the dying worker to claim the query",
    )
    # Another worker is running before the kill: its start found the dying one answering, so only the
    # sweep can notice that it stopped.
    stack.worker_start()
    dying.kill()
    killed = time.monotonic()
    wait_until(
        lambda: QueryImage.objects.get(id=query.id).status == ImageStatus.INDEXED,
        timeout=RECOVERY_SECONDS + 30,
        what="the query to be answered",
        also=BeatSweep(stack),
    )
    _recovered_within(killed, "query")
    query.refresh_from_db()
    assert query.matches.order_by("rank").first().reference_id == references[1].id


def test_a_reindex_batch_held_by_a_killed_worker_goes_on_within_a_minute_and_the_page_says_so(
    production_deadlines, client
):
    stack = production_deadlines
    collection = CollectionFactory()
    references = stack.references_add(collection, range(5200, 5212))
    # Hangs in the batch that starts after the sixth reference.
    dying = stack.worker_start(ISC_TEST_FAULT_HANG_FROM_CURSOR=str(references[5].id))
    wait_until(
        lambda: ReferenceImage.objects.filter(status=ImageStatus.INDEXED).count() == 12,
        timeout=180,
        what="the references",
    )
    job, _ = reindex_services.reindex_job_start(batch_size=2)
    wait_until(
        lambda: ReindexJob.objects.filter(id=job.id, cursor__gte=references[5].id, claimed_by=dying.hostname).exists(),
        timeout=120,
        what="the dying worker to hold a batch",
    )
    time.sleep(1.0)  # inside the batch
    dying.kill()
    killed = time.monotonic()
    job.refresh_from_db()
    assert job.state == ReindexJob.State.RUNNING and job.done == 6

    stack.worker_start()
    wait_until(
        lambda: ReindexJob.objects.get(id=job.id).state != ReindexJob.State.RUNNING,
        timeout=RECOVERY_SECONDS + 30,
        what="the reindex to finish",
        also=BeatSweep(stack),
    )
    _recovered_within(killed, "reindex")
    job.refresh_from_db()
    assert (job.state, job.done, job.total, job.resumes) == (ReindexJob.State.DONE, 12, 12, 1), job.error
    assert f"worker {dying.hostname} stopped answering" in job.stall_notice
    client.force_login(UserFactory(is_staff=True))
    page = client.get(reverse("search:reindex")).content.decode()
    assert f"worker {dying.hostname} stopped answering after 6 of 12; its batch was queued again" in page


def test_an_ingest_chunk_held_by_a_killed_worker_goes_on_within_a_minute_and_the_page_says_so(
    production_deadlines, client, tmp_path
):
    stack = production_deadlines
    folder = tmp_path / "import"
    folder.mkdir()
    for seed in range(5300, 5316):
        (folder / f"i{seed}.jpg").write_bytes(encode(scene(seed)))
    small_chunks = {"ISC_INGEST_CHUNK": "4", "ISC_INGEST_PROCESSES": "1"}
    dying = stack.worker_start(ISC_TEST_FAULT_HANG_FROM_CURSOR="8", **small_chunks)
    collection = CollectionFactory()
    job = ingest_services.ingest_job_create(
        actor=collection.created_by,
        collection=collection,
        source_kind=IngestJob.Source.FOLDER,
        source_path=str(folder),
    )

    def third_chunk_held():
        row = IngestJob.objects.get(id=job.id)
        assert row.state != IngestJob.State.FAILED, f"{row.error}\n{stack.log_tail()}"
        return row.cursor == 8 and row.claimed_by == dying.hostname

    try:
        # The first chunk waits for the ingest's decode processes to load their model.
        wait_until(third_chunk_held, timeout=300, what="the dying worker to hold the third chunk")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{stack.log_tail()}") from None
    time.sleep(1.0)  # inside the chunk
    dying.kill()
    killed = time.monotonic()

    stack.worker_start(**small_chunks)
    wait_until(
        lambda: IngestJob.objects.get(id=job.id).state != IngestJob.State.RUNNING,
        timeout=RECOVERY_SECONDS + 30,
        what="the ingest to finish",
        also=BeatSweep(stack),
    )
    _recovered_within(killed, "ingest")
    job.refresh_from_db()
    assert (job.state, job.done, job.created, job.failed) == (IngestJob.State.DONE, 16, 16, 0), job.error
    assert ReferenceImage.objects.filter(collection=collection, status=ImageStatus.INDEXED).count() == 16
    assert sorted(stack.milvus_ids()) == sorted(ReferenceImage.objects.values_list("id", flat=True))
    client.force_login(collection.created_by)
    page = client.get(reverse("search:ingest_job_detail", args=[job.id])).content.decode()
    assert f"worker {dying.hostname} stopped answering at file 8 of 16; its chunk was queued again" in page
