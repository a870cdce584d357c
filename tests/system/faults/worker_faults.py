"""Loaded only by the fault tests' worker processes (`celery worker --include tests.system.faults.worker_faults`):
once a row is claimed, the worker process exits on the spot on a chosen image, as a decoder crash on a poison
image would, or hangs on another until its hard time limit kills it. Production workers never import this."""

from __future__ import annotations

import logging
import os
import time

from django.dispatch import receiver

from workers.rows import row_claimed

logger = logging.getLogger(__name__)

EXIT_ON_SHA256 = os.environ.get("ISC_TEST_FAULT_EXIT_SHA256", "")
HANG_ON_SHA256 = os.environ.get("ISC_TEST_FAULT_HANG_SHA256", "")


@receiver(row_claimed)
def fault_on_chosen_image(sender, image_id: int, **_kwargs) -> None:
    if EXIT_ON_SHA256 and sender.objects.filter(id=image_id, sha256=EXIT_ON_SHA256).exists():
        logger.error("fault test: exiting on %s %s", sender.__name__, image_id)
        os._exit(70)
    if HANG_ON_SHA256 and sender.objects.filter(id=image_id, sha256=HANG_ON_SHA256).exists():
        logger.error("fault test: hanging on %s %s", sender.__name__, image_id)
        time.sleep(24 * 3600)
