"""Loaded only by the fault tests' worker processes (`celery worker --include tests.system.faults.worker_faults`):
once a row is claimed, the worker process exits on the spot on a chosen image, as a decoder crash on a poison
image would, or hangs on another until its hard time limit kills it (or the test kills the worker); a reindex
batch or an ingest chunk from a chosen cursor on hangs the same way. Production workers never import this."""

from __future__ import annotations

import logging
import os
import time

from django.dispatch import receiver

from workers.ingest import chunk_started
from workers.reindex import batch_started
from workers.rows import row_claimed

logger = logging.getLogger(__name__)

EXIT_ON_SHA256 = os.environ.get("ISC_TEST_FAULT_EXIT_SHA256", "")
HANG_ON_SHA256 = os.environ.get("ISC_TEST_FAULT_HANG_SHA256", "")
HANG_FROM_CURSOR = int(os.environ.get("ISC_TEST_FAULT_HANG_FROM_CURSOR", "-1"))


@receiver(row_claimed)
def fault_on_chosen_image(sender, image_id: int, **_kwargs) -> None:
    if EXIT_ON_SHA256 and sender.objects.filter(id=image_id, sha256=EXIT_ON_SHA256).exists():
        logger.error("fault test: exiting on %s %s", sender.__name__, image_id)
        os._exit(70)
    if HANG_ON_SHA256 and sender.objects.filter(id=image_id, sha256=HANG_ON_SHA256).exists():
        logger.error("fault test: hanging on %s %s", sender.__name__, image_id)
        time.sleep(24 * 3600)


@receiver(batch_started)
@receiver(chunk_started)
def fault_in_chosen_batch(sender, job_id: int, cursor: int, **_kwargs) -> None:
    if HANG_FROM_CURSOR >= 0 and cursor >= HANG_FROM_CURSOR:
        logger.error("fault test: hanging in %s %s at cursor %s", sender.__name__, job_id, cursor)
        time.sleep(24 * 3600)
