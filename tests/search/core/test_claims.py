"""Claims whose worker is gone: which rows and jobs they are, and what re-queuing them leaves on the rows, the
jobs and their pages. The queue is a real Redis (this run's own database)."""

from datetime import timedelta

import pytest
import redis
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from search.collection import services as collection_services
from search.collection.models import ImageStatus, ReferenceImage
from search.core import stored_images
from search.core.claims import Liveness
from search.core.uploads import Payload
from search.ingest import services as ingest_services
from search.ingest.models import IngestJob
from search.reindex import services as reindex_services
from search.reindex.models import ReindexJob
from tests.factories import CollectionFactory, UserFactory
from tests.images import encode, scene
from tests.services import RedisServer, broker_switch

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def queue(media_root):
    """The in-process Celery app pointed at a real Redis; yields a client to read the queues."""
    from isc_site.celery import app

    server = RedisServer(media_root.parent).start()
    previous = app.conf.broker_url
    broker_switch(app, server.url)
    client = redis.Redis.from_url(server.url)
    yield client
    client.flushdb()
    broker_switch(app, previous)
    server.stop()


def _references(count: int, first_seed: int) -> list[ReferenceImage]:
    collection = CollectionFactory()
    with transaction.atomic():
        return collection_services.reference_images_add(
            actor=collection.created_by,
            collection=collection,
            items=[Payload(f"r{seed}.jpg", encode(scene(seed))) for seed in range(first_seed, first_seed + count)],
        ).created


def _held(reference: ReferenceImage, *, by: str, seconds_ago: float) -> None:
    ReferenceImage.objects.filter(id=reference.id).update(
        status=ImageStatus.PROCESSING,
        claimed_by=by,
        claimed_at=timezone.now() - timedelta(seconds=seconds_ago),
        attempts=1,
    )


def test_a_claim_records_the_worker_that_holds_it(media_root, queue):
    [reference] = _references(1, 900)
    claim = stored_images.stored_image_claim(
        model=ReferenceImage, image_id=reference.id, descriptor_version="v1", worker="celery@a"
    )
    assert claim == stored_images.Claim.CLAIMED
    reference.refresh_from_db()
    assert (reference.status, reference.claimed_by) == (ImageStatus.PROCESSING, "celery@a")


def test_rows_held_by_a_worker_that_does_not_answer_are_queued_again_at_once(media_root, queue):
    gone, alive, just_claimed, previous_life, this_life = _references(5, 910)
    queue.flushdb()  # the uploads' own messages
    _held(gone, by="gone@a", seconds_ago=30)
    _held(alive, by="alive@b", seconds_ago=30)
    _held(just_claimed, by="gone@a", seconds_ago=1)  # may be younger than the ping: judged next time
    _held(previous_life, by="restarted@c", seconds_ago=30)
    _held(this_life, by="restarted@c", seconds_ago=2)
    now = timezone.now()
    liveness = Liveness(
        answering=frozenset({"alive@b", "restarted@c"}),
        checked_at=now,
        restarted="restarted@c",
        restarted_at=now - timedelta(seconds=10),
    )

    queued, broker_down = stored_images.stored_images_requeue_dead(model=ReferenceImage, liveness=liveness)

    # Far younger than the 15-minute age deadline, which alone would not have touched any of them.
    assert (queued, broker_down) == (2, False)
    assert queue.llen("gpu") == 2
    for reference, worker in ((gone, "gone@a"), (previous_life, "restarted@c")):
        reference.refresh_from_db()
        assert (reference.status, reference.claimed_by, reference.attempts) == (ImageStatus.PENDING, "", 1)
        assert reference.notice == f"The worker {worker} stopped answering; queued again."
        assert reference.queued_at is not None
    for reference in (alive, just_claimed, this_life):
        reference.refresh_from_db()
        assert reference.status == ImageStatus.PROCESSING
    # Nothing left to re-queue: a second sweep sends nothing twice.
    assert stored_images.stored_images_requeue_dead(model=ReferenceImage, liveness=liveness) == (0, False)
    assert queue.llen("gpu") == 2


def test_when_the_workers_could_not_be_asked_only_a_restarted_workers_earlier_claims_are_dead(media_root, queue):
    other, previous_life = _references(2, 920)
    queue.flushdb()
    _held(other, by="other@a", seconds_ago=30)
    _held(previous_life, by="restarted@c", seconds_ago=30)
    now = timezone.now()
    liveness = Liveness(answering=None, checked_at=now, restarted="restarted@c", restarted_at=now)
    assert stored_images.stored_images_requeue_dead(model=ReferenceImage, liveness=liveness) == (1, False)
    assert ReferenceImage.objects.get(id=other.id).status == ImageStatus.PROCESSING


def _gone_liveness() -> Liveness:
    return Liveness(answering=frozenset({"alive@b"}), checked_at=timezone.now())


def test_a_reindex_held_by_a_gone_worker_is_resumed_at_once_and_its_page_says_so(media_root, queue, client):
    job = ReindexJob.objects.create(state=ReindexJob.State.RUNNING, total=306, done=32, cursor=4242, batch_size=32)
    ReindexJob.objects.filter(id=job.id).update(
        claimed_by="gone@a", heartbeat_at=timezone.now() - timedelta(seconds=30)
    )
    held_by_alive = ReindexJob.objects.create(state=ReindexJob.State.RUNNING, total=10, done=2, cursor=7)
    ReindexJob.objects.filter(id=held_by_alive.id).update(
        claimed_by="alive@b", heartbeat_at=timezone.now() - timedelta(seconds=30)
    )

    assert reindex_services.reindex_jobs_requeue_dead(liveness=_gone_liveness()) == 1

    job.refresh_from_db()
    assert (job.claimed_by, job.resumes, job.rate_since_done) == ("", 1, 32)
    assert "worker gone@a stopped answering after 32 of 306; its batch was queued again." in job.stall_notice
    assert queue.llen("default") == 1, "the batch after reference 4242"
    assert ReindexJob.objects.get(id=held_by_alive.id).resumes == 0
    assert reindex_services.reindex_jobs_requeue_dead(liveness=_gone_liveness()) == 0, "once"

    client.force_login(UserFactory(is_staff=True))
    page = client.get(reverse("search:reindex")).content.decode()
    assert "worker gone@a stopped answering after 32 of 306; its batch was queued again." in page


def test_an_ingest_held_by_a_gone_worker_is_resumed_at_once_and_its_page_says_so(media_root, queue, client):
    collection = CollectionFactory()
    job = IngestJob.objects.create(
        collection=collection,
        created_by=collection.created_by,
        source_kind=IngestJob.Source.FOLDER,
        source_path="/nowhere",
        state=IngestJob.State.RUNNING,
        total=1000,
        cursor=256,
        done=256,
    )
    IngestJob.objects.filter(id=job.id).update(claimed_by="gone@a", heartbeat_at=timezone.now() - timedelta(seconds=30))

    assert ingest_services.ingest_jobs_requeue_dead(liveness=_gone_liveness()) == [job.id]

    job.refresh_from_db()
    assert job.claimed_by == ""
    assert queue.llen("default") == 1
    assert ingest_services.ingest_jobs_requeue_dead(liveness=_gone_liveness()) == [], "once"
    client.force_login(collection.created_by)
    notice = "worker gone@a stopped answering at file 256 of 1000; its chunk was queued again."
    assert notice in client.get(reverse("search:ingest_job_detail", args=[job.id])).content.decode()
    assert notice in client.get(reverse("search:collection_detail", args=[collection.id])).content.decode()
