"""Start, watch, run, list or roll back reindex jobs from the command line.

manage.py reindex               queue a reindex for the workers (or show the one under way)
manage.py reindex --wait        ... and follow it with a progress bar until it ends
manage.py reindex --here        run the batches in this process (no worker needed), with a progress bar
manage.py reindex --status      the live version and the recent jobs
manage.py reindex --rollback    point the live index back at the version the last reindex kept
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from search.reindex import selectors as reindex_selectors
from search.reindex import services as reindex_services
from search.reindex.models import ReindexJob

POLL_SECONDS = 1.0


class Command(BaseCommand):
    help = "Re-embed every reference with the workers' model beside the live index, then switch over."

    def add_arguments(self, parser):
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--wait", action="store_true", help="follow the job with a progress bar until it ends")
        action.add_argument("--here", action="store_true", help="run the batches in this process instead of a worker")
        action.add_argument("--status", action="store_true", help="show the live version and the recent jobs")
        action.add_argument("--rollback", action="store_true", help="move the live index back to the kept version")
        parser.add_argument(
            "--batch-size", type=int, default=None, help="references per batch (ISC_REINDEX_BATCH_SIZE)"
        )
        parser.add_argument("--timeout", type=float, default=None, help="with --wait: give up watching after N s")

    def handle(self, *args, **options):
        if options["status"]:
            return self._status()
        if options["rollback"]:
            return self._rollback()
        if options["batch_size"] is not None and options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        job, created = reindex_services.reindex_job_start(batch_size=options["batch_size"], enqueue=not options["here"])
        if created:
            self.stdout.write(f"Reindex #{job.id} queued ({job.total} references, batches of {job.batch_size}).")
        else:
            self.stdout.write(f"Reindex #{job.id} is already under way ({job.state}, {job.done}/{job.total}).")
        if options["here"]:
            if not created:
                raise CommandError("Another reindex is under way; watch it with --wait instead of running a second.")
            job = self._run_here(job)
        elif options["wait"]:
            job = self._watch(job, timeout=options["timeout"])
        else:
            return
        self._outcome(job)

    def _run_here(self, job: ReindexJob) -> ReindexJob:
        from workers.reindex import reindex_step

        with tqdm(total=job.total, unit="img", desc=f"reindex #{job.id}") as bar:
            cursor = 0
            while cursor is not None:
                cursor = reindex_step(job_id=job.id, cursor=cursor)
                job.refresh_from_db()
                bar.total = job.total
                bar.update(job.done - bar.n)
        return job

    def _watch(self, job: ReindexJob, *, timeout: float | None) -> ReindexJob:
        deadline = None if timeout is None else time.monotonic() + timeout
        with tqdm(total=job.total, unit="img", desc=f"reindex #{job.id}") as bar:
            while True:
                job.refresh_from_db()
                bar.total = job.total
                bar.update(job.done - bar.n)
                if job.state not in ReindexJob.ACTIVE_STATES:
                    return job
                if deadline is not None and time.monotonic() > deadline:
                    raise CommandError(f"Reindex #{job.id} still {job.state} after {timeout:.0f} s; it goes on.")
                time.sleep(POLL_SECONDS)

    def _outcome(self, job: ReindexJob) -> None:
        progress = reindex_selectors.reindex_progress(job=job)
        if job.state == ReindexJob.State.FAILED:
            raise CommandError(f"Reindex #{job.id} failed: {job.error}")
        rate = f", {progress.images_per_second:.1f} images/s" if progress.images_per_second else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"Reindex #{job.id} done: {job.done} references{rate}; live is {job.descriptor_version}."
            )
        )
        if job.note:
            self.stdout.write(job.note)

    def _status(self) -> None:
        status = reindex_selectors.index_status()
        live = status.live
        self.stdout.write(f"Live version: {live.version if live else '(none yet)'}")
        if live and live.load_error:
            self.stdout.write(self.style.WARNING(f"  the workers cannot load it: {live.load_error}"))
        if status.rollback_to:
            self.stdout.write(f"Kept for rollback: {status.rollback_to.version}")
        jobs = reindex_selectors.reindex_job_list(user=None)[:10]
        if not jobs:
            self.stdout.write("No reindex jobs.")
        for job in jobs:
            progress = reindex_selectors.reindex_progress(job=job)
            rate = f" {progress.images_per_second:.1f} img/s" if progress.images_per_second else ""
            eta = f" ETA {progress.eta_seconds:.0f} s" if progress.eta_seconds is not None else ""
            self.stdout.write(
                f"#{job.id} {job.state:<8} {job.done}/{job.total} ({progress.percent} %){rate}{eta}"
                f" → {job.descriptor_version or '?'} (from {job.source_version or '-'})"
                f"{f' resumed {job.resumes}x' if job.resumes else ''}{f' error: {job.error}' if job.error else ''}"
            )

    def _rollback(self) -> None:
        from workers.reindex import index_rollback

        try:
            outcome = index_rollback()
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        plan = outcome.plan
        self.stdout.write(
            self.style.SUCCESS(f"Rolled back: the live index is {plan.restored} again (was {plan.previous}).")
        )
        if outcome.filled:
            self.stdout.write(f"{outcome.filled} references added since the swap were embedded into it first.")
        self.stdout.write(
            "The workers may run the newer model: queries are embedded with the live version's model when it "
            "loads, and new references are written to both versions."
        )
