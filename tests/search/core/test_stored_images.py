"""Row lifecycle in the services: attempts, release after a transient error, the sweeper, and
queueing while the broker is down (a real port where nothing listens)."""

from datetime import timedelta

import pytest
import redis
from django.db import transaction
from django.utils import timezone

from copydetect.milvus_lite import free_port
from search.collection import services as collection_services
from search.collection.models import ImageStatus, ReferenceImage
from search.core import dispatch, stored_images
from search.core.uploads import Payload
from tests.factories import CollectionFactory
from tests.images import encode, scene
from tests.services import RedisServer, broker_switch

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def broker_down():
    """The in-process Celery app pointed at a loopback port nobody listens on."""
    from isc_site.celery import app

    previous = app.conf.broker_url
    broker_switch(app, f"redis://127.0.0.1:{free_port()}/0")
    yield app
    broker_switch(app, previous)


def _reference(seed: int) -> ReferenceImage:
    collection = CollectionFactory()
    return collection_services.reference_images_add(
        actor=collection.created_by,
        collection=collection,
        items=[Payload(f"r{seed}.jpg", encode(scene(seed)))],
    ).created[0]


def test_a_row_claimed_max_attempts_times_without_an_outcome_is_failed(media_root):
    reference = _reference(40)
    for _ in range(3):  # each claim's worker "dies": no outcome is recorded
        assert (
            stored_images.stored_image_claim(
                model=ReferenceImage, image_id=reference.id, descriptor_version="v1", max_attempts=3
            )
            == stored_images.Claim.CLAIMED
        )
    outcome = stored_images.stored_image_claim(
        model=ReferenceImage, image_id=reference.id, descriptor_version="v1", max_attempts=3
    )
    reference.refresh_from_db()
    assert outcome == stored_images.Claim.GAVE_UP
    assert reference.status == ImageStatus.FAILED
    assert "worker died while processing this image" in reference.error.lower()
    # A failed row is not picked up again by a late duplicate message.
    assert (
        stored_images.stored_image_claim(
            model=ReferenceImage, image_id=reference.id, descriptor_version="v1", max_attempts=3
        )
        == stored_images.Claim.SKIPPED
    )


def test_a_claim_released_after_a_transient_error_does_not_count_as_an_attempt(media_root):
    reference = _reference(41)
    for _ in range(5):
        stored_images.stored_image_claim(
            model=ReferenceImage, image_id=reference.id, descriptor_version="v1", max_attempts=3
        )
        stored_images.stored_image_release(
            model=ReferenceImage, image_id=reference.id, notice="Search backend unavailable."
        )
    reference.refresh_from_db()
    assert (reference.status, reference.attempts, reference.notice) == (
        ImageStatus.PENDING,
        0,
        "Search backend unavailable.",
    )
    assert reference.queued_at is not None


def test_an_upload_while_the_broker_is_down_is_stored_pending_and_never_queued(media_root, broker_down):
    with transaction.atomic():
        reference = _reference(42)
    reference.refresh_from_db()
    assert (reference.status, reference.queued_at) == (ImageStatus.PENDING, None)
    assert dispatch.task_send(dispatch.REFERENCE_INDEX, reference.id) is False


def test_the_sweeper_picks_rows_never_queued_and_rows_left_behind(media_root, broker_down):
    with transaction.atomic():
        never, stale_pending, stale_processing, fresh = (_reference(seed) for seed in (43, 44, 45, 46))
    old = timezone.now() - timedelta(hours=2)
    ReferenceImage.objects.filter(id=never.id).update(created_at=old)
    ReferenceImage.objects.filter(id=stale_pending.id).update(queued_at=old)
    ReferenceImage.objects.filter(id=stale_processing.id).update(
        status=ImageStatus.PROCESSING, claimed_at=old, queued_at=old
    )
    ReferenceImage.objects.filter(id=fresh.id).update(queued_at=timezone.now())

    # Broker down: the sweep stops at the first row and changes nothing.
    report = stored_images.stored_images_sweep(model=ReferenceImage, grace_seconds=30, stale_after_seconds=900)
    assert report.broker_down and report.queued == 0

    # Broker back: the real Redis, this run's own database.
    redis_server = RedisServer(media_root.parent).start()
    broker_switch(broker_down, redis_server.url)
    try:
        report = stored_images.stored_images_sweep(model=ReferenceImage, grace_seconds=30, stale_after_seconds=900)
        client = redis.Redis.from_url(redis_server.url)
        queued = client.llen("gpu")
        client.flushdb()
    finally:
        redis_server.stop()
    assert (report.never_queued, report.stale_pending, report.stale_processing) == (1, 1, 1)
    assert queued == 3
    assert ReferenceImage.objects.get(id=never.id).queued_at is not None
    assert ReferenceImage.objects.get(id=fresh.id).status == ImageStatus.PENDING
