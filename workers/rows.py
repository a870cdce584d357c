"""How a row task runs: claim the row, run the work, and turn every way it can end into a row state."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import task_failure, worker_process_init
from django.conf import settings
from django.db import DatabaseError
from django.dispatch import Signal

from copydetect.descriptors import Descriptor
from search.collection.models import ReferenceImage
from search.core import dispatch, stored_images
from search.queries.models import QueryImage
from workers import runtime
from workers.errors import TRANSIENT_ERRORS, failure_message, gave_up_message, notice_for
from workers.images import PERMANENT_ERRORS
from workers.retry import RETRY_OPTIONS

logger = logging.getLogger(__name__)


TASK_OPTIONS = dict(
    bind=True,
    acks_late=True,
    soft_time_limit=settings.ROW_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.ROW_TASK_TIME_LIMIT,
    **RETRY_OPTIONS,
)


# Task name -> the model whose row id is the task's first argument.
ROW_TASKS = {
    name: model
    for current, model in ((dispatch.REFERENCE_INDEX, ReferenceImage), (dispatch.QUERY_SEARCH, QueryImage))
    for name in (current, *dispatch.legacy_names_of(current))
}


@worker_process_init.connect
def _engines_warm(**_kwargs) -> None:
    # The first query should not pay for loading the model.
    if settings.ISC.warm_up:
        try:
            runtime.descriptor_get()
        except Exception:  # a broken model shows up as a failed row, with its message, on first use
            logger.exception("descriptor warm-up failed")


# Sent in the worker process once a row is claimed, before its work starts: for observers such as metrics,
# and for the fault tests, which crash or hang a worker on a chosen image from here (tests/system/faults).
row_claimed = Signal()


def _row_run(
    task, model, image_id: int, work: Callable[[Descriptor], str], *, descriptor_get=runtime.descriptor_get
) -> str:
    """Claims the row, runs `work`, and turns every way it can end into a row state."""
    descriptor = descriptor_get()
    claim = stored_images.stored_image_claim(
        model=model, image_id=image_id, descriptor_version=descriptor.version, worker=task.request.hostname or ""
    )
    if claim != stored_images.Claim.CLAIMED:
        return str(claim)
    row_claimed.send(sender=model, image_id=image_id)
    try:
        return _in_process_retrying(task, work, descriptor)
    except TRANSIENT_ERRORS as exc:
        return _transient_handle(task, exc, model=model, image_id=image_id)
    except SoftTimeLimitExceeded:
        stored_images.stored_image_fail(
            model=model, image_id=image_id, error="Processing took too long and was stopped."
        )
        return "failed"
    except PERMANENT_ERRORS as exc:
        stored_images.stored_image_fail(model=model, image_id=image_id, error=str(exc))
        return "failed"
    except Exception as exc:
        logger.exception("%s %s failed", model.__name__, image_id)
        stored_images.stored_image_fail(model=model, image_id=image_id, error=f"{type(exc).__name__}: {exc}")
        return "failed"


# Eager (in-process) runs, such as the DISC21 track commands, cannot hand a retry back to Celery: they
# wait and try again here instead, a few times, before the row fails like a worker's would.
IN_PROCESS_RETRY_PAUSES = (1.0, 2.0, 4.0, 8.0)


def _in_process_retrying(task, work: Callable[[Descriptor], str], descriptor: Descriptor) -> str:
    if not task.request.is_eager:
        return work(descriptor)
    for pause in IN_PROCESS_RETRY_PAUSES:
        try:
            return work(descriptor)
        except TRANSIENT_ERRORS as exc:
            logger.warning("in-process run: %s; trying again in %.0f s", exc, pause)
            time.sleep(pause)
    return work(descriptor)


def _transient_handle(task, exc: BaseException, *, model, image_id: int) -> str:
    """Shows why the row waits and re-raises, so that Celery's autoretry schedules the next try;
    fails the row once the retries are used up (or at once when running eagerly, in-process)."""
    retries = task.request.retries
    if task.request.is_eager or retries >= task.max_retries:
        logger.error("%s %s: %s; giving up after %s retries", model.__name__, image_id, exc, retries, exc_info=exc)
        _row_update_safely(
            stored_images.stored_image_fail, model=model, image_id=image_id, error=gave_up_message(exc, retries=retries)
        )
        if task.request.is_eager:
            return "failed"
        raise exc
    logger.warning(
        "%s %s: %s: %s; retry %s of %s",
        model.__name__,
        image_id,
        type(exc).__name__,
        exc,
        retries + 1,
        task.max_retries,
    )
    _row_update_safely(stored_images.stored_image_release, model=model, image_id=image_id, notice=notice_for(exc))
    raise exc


def _row_update_safely(update: Callable[..., None], **kwargs) -> None:
    # The database may be what is down; the retry (or the sweeper) still comes.
    try:
        update(**kwargs)
    except DatabaseError as exc:
        logger.warning("could not record the row's state: %s", exc)


@task_failure.connect
def _row_task_failed(sender=None, exception=None, args=None, **_kwargs) -> None:
    """Celery's failure signal, also sent by the worker's main process on a hard time limit and on a
    lost worker it does not requeue: the row is failed instead of staying 'processing' forever."""
    model = ROW_TASKS.get(getattr(sender, "name", ""))
    if model is None or not args:
        return
    message = failure_message(exception, time_limit=settings.ROW_TASK_TIME_LIMIT)
    _row_update_safely(
        stored_images.stored_image_fail, model=model, image_id=int(args[0]), error=message, only_waiting=True
    )
