"""Workers that die: kill -9 in the middle of indexing, and a poison image that kills the process."""

import hashlib
import time

import pytest
from django.db import transaction

from search.collection import services
from search.collection.models import ImageStatus, ReferenceImage
from search.core.uploads import Payload
from tests.factories import CollectionFactory
from tests.images import encode, scene
from tests.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_kill_9_while_50_references_index_then_all_are_indexed_exactly_once(stack):
    started = time.monotonic()
    worker = stack.worker_start()
    references = stack.references_add(CollectionFactory(), range(1000, 1050))
    assert len(references) == 50

    def mid_work():
        # Five done and one being worked on: the kill then lands inside a task.
        counts = stack.status_counts()
        return counts[ImageStatus.INDEXED] >= 5 and counts[ImageStatus.PROCESSING] == 1

    wait_until(mid_work, timeout=180, what="a reference in the middle of indexing", every=0.02)
    worker.kill()
    at_kill = stack.status_counts()
    print(f"\nat kill -9: {at_kill}")
    assert at_kill[ImageStatus.INDEXED] < 50, "killed while work was left"

    stack.worker_start()

    def all_indexed():
        counts = stack.status_counts()
        assert counts[ImageStatus.FAILED] == 0, ReferenceImage.objects.filter(status=ImageStatus.FAILED).values("error")
        return counts[ImageStatus.INDEXED] == 50

    # The killed worker's unacknowledged message waits for Redis's visibility timeout (hours): the
    # sweeper is what brings the row it was working on back.
    wait_until(all_indexed, timeout=240, what="all 50 references indexed after the restart", also=stack.sweep, every=1)

    ids = stack.milvus_ids()
    database_ids = set(ReferenceImage.objects.values_list("id", flat=True))
    assert len(ids) == len(set(ids)) == 50, "no duplicate vectors"
    assert set(ids) == database_ids
    print(f"kill -9 test: {time.monotonic() - started:.1f} s")


def test_a_poison_image_that_kills_the_worker_is_failed_after_max_attempts(stack):
    started = time.monotonic()
    poison = encode(scene(2001))
    worker = stack.worker_start(ISC_TEST_FAULT_EXIT_SHA256=hashlib.sha256(poison).hexdigest())
    collection = CollectionFactory()
    good = stack.references_add(collection, [2002, 2003])
    with transaction.atomic():
        [bad] = services.reference_images_add(
            actor=collection.created_by, collection=collection, items=[Payload("poison.jpg", poison)]
        ).created

    def poison_failed():
        bad.refresh_from_db()
        return bad.status == ImageStatus.FAILED

    wait_until(poison_failed, timeout=240, what="the poison image to be failed", also=stack.sweep, every=1)
    assert "worker died while processing this image" in bad.error.lower(), bad.error
    assert bad.attempts == 3
    wait_until(
        lambda: all(ReferenceImage.objects.get(id=r.id).status == ImageStatus.INDEXED for r in good),
        timeout=120,
        what="the good references",
    )
    assert worker.process.poll() is None, "the worker itself survived its children's deaths"
    print(f"\npoison test: {time.monotonic() - started:.1f} s; error shown: {bad.error!r}")


def test_a_task_killed_by_its_hard_time_limit_fails_its_row_instead_of_staying_processing(stack):
    started = time.monotonic()
    stuck = encode(scene(2100))
    # The task hangs after its claim (tests/system/faults/worker_faults.py) and a 2 s hard limit with no soft limit kills the
    # pool child: only Celery's failure signal, in the worker's main process, is left to record it.
    stack.worker_start(
        ISC_TEST_FAULT_HANG_SHA256=hashlib.sha256(stuck).hexdigest(),
        ISC_ROW_TASK_TIME_LIMIT="2",
        ISC_ROW_TASK_SOFT_TIME_LIMIT="0",
    )
    with transaction.atomic():
        collection = CollectionFactory()
        [reference] = services.reference_images_add(
            actor=collection.created_by, collection=collection, items=[Payload("hangs.jpg", stuck)]
        ).created

    def failed():
        reference.refresh_from_db()
        return reference.status == ImageStatus.FAILED

    try:
        wait_until(failed, timeout=180, what="the timed-out row to be failed", also=stack.sweep, every=1)
    except AssertionError:
        raise AssertionError(f"row: {reference.status} {reference.error!r}\n{stack.log_tail()}") from None
    # Celery reports the kill as a time limit (the signal fails the row at once) or, when billiard sees
    # the child's death first, as a lost worker (requeued, then failed after MAX_ATTEMPTS claims).
    assert reference.error in (
        "Processing took longer than 2 s and was stopped.",
        "The worker died while processing this image (3 attempts); it was not tried again.",
    ), reference.error
    print(f"\nhard time limit test: {time.monotonic() - started:.1f} s; error shown: {reference.error!r}")
