"""Tasks on hash banks: run an import job."""

from __future__ import annotations

from search.banks import imports as bank_imports
from search.core import dispatch
from workers import banks as worker_banks
from workers.errors import TRANSIENT_ERRORS
from workers.registry import worker_task
from workers.retry import RETRY_OPTIONS


@worker_task(
    dispatch.BANK_IMPORT_RUN, bind=True, acks_late=True, soft_time_limit=3600, time_limit=3660, **RETRY_OPTIONS
)
def bank_import_run(self, job_id: int) -> str:
    if not bank_imports.bank_import_claim(job_id=job_id):
        return "skipped"
    try:
        job = bank_imports.bank_import_execute(
            job_id=job_id, sscd=worker_banks.sscd_target_get(), on_inserted=worker_banks.sscd_entries_index
        )
    except TRANSIENT_ERRORS:
        # Its insert rolled back: queued again, the retry runs it from the start.
        bank_imports.bank_import_requeue(job_id=job_id)
        raise
    return job.state
