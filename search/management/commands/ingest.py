"""Bulk ingest from the command line: a folder, a zip archive or a CSV manifest into one collection."""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from search import ingest
from search.models import Collection, IngestJob
from search.uploads import UploadError


class Command(BaseCommand):
    help = (
        "Adds the images of PATH (a folder, a .zip, or a .csv manifest with a 'path' column and optional "
        "'external_id' and 'metadata' columns) to a collection as a bulk-ingest job. By default the job "
        "runs here, with a progress bar; --no-wait queues it for the Celery workers instead."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path, nargs="?")
        parser.add_argument("--collection", help="name of the collection to add to")
        parser.add_argument("--owner", help="username owning the collection (needed when several share the name)")
        parser.add_argument("--create", action="store_true", help="create the collection for --owner if missing")
        parser.add_argument("--kind", choices=IngestJob.Source.values, help="source kind (default: guessed)")
        parser.add_argument("--no-wait", action="store_true", help="only queue the job for the workers")
        parser.add_argument("--resume", type=int, metavar="JOB_ID", help="carry on with a stopped or failed job")

    def handle(self, *args, **options):
        if options["resume"]:
            job = IngestJob.objects.filter(id=options["resume"]).first()
            if job is None:
                raise CommandError(f"No ingest job {options['resume']}.")
            if job.state == IngestJob.State.DONE:
                raise CommandError(f"Ingest job {job.id} is already done.")
            job = ingest.ingest_job_resume(job=job, enqueue=options["no_wait"])
        else:
            job = self._job_create(options)
        if options["no_wait"]:
            self.stdout.write(f"Ingest job {job.id} queued ({job.source_kind}: {job.source_path}).")
            return
        self._run_here(job)

    def _job_create(self, options) -> IngestJob:
        if not options["path"] or not options["collection"]:
            raise CommandError("Give PATH and --collection NAME (or --resume JOB_ID).")
        path = options["path"].expanduser().resolve()
        if not path.exists():
            raise CommandError(f"{path} does not exist.")
        collection = self._collection_get(options)
        try:
            kind = options["kind"] or ingest.source_kind_guess(path)
            # Refuse a broken source before a job exists for it.
            if kind == IngestJob.Source.MANIFEST:
                ingest.manifest_parse(path.read_text(encoding="utf-8"), base_dir=path.parent)
            elif kind == IngestJob.Source.ZIP:
                ingest.zip_directory_check(path)
        except (UploadError, ingest.ManifestError, UnicodeDecodeError) as exc:
            raise CommandError(str(exc)) from None
        return ingest.ingest_job_create(
            collection=collection,
            created_by=collection.owner,
            source_kind=kind,
            source_path=str(path),
            enqueue=options["no_wait"],
        )

    def _collection_get(self, options) -> Collection:
        name = options["collection"]
        found = Collection.objects.filter(name=name)
        if options["owner"]:
            found = found.filter(owner__username=options["owner"])
        matches = list(found[:2])
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise CommandError(f"Several collections are called {name!r}; say whose with --owner.")
        if not options["create"]:
            raise CommandError(
                f"No collection {name!r}"
                + (f" of {options['owner']}" if options["owner"] else "")
                + " (add --create --owner USER to make it)."
            )
        if not options["owner"]:
            raise CommandError("--create needs --owner USER.")
        owner = get_user_model().objects.filter(username=options["owner"]).first()
        if owner is None:
            raise CommandError(f"No user {options['owner']!r}.")
        from search import services

        return services.collection_create(owner=owner, name=name)

    def _run_here(self, job: IngestJob) -> None:
        from workers import runtime

        if not ingest.ingest_job_claim(job_id=job.id):
            job.refresh_from_db()
            raise CommandError(f"Ingest job {job.id} is {job.state}: {job.error or 'nothing to do'}")
        job.refresh_from_db()
        self.stdout.write(f"Ingest job {job.id}: {job.total:,} files from {job.source_path} into “{job.collection}”.")
        pool = ingest.ingest_pool_create()
        bar = tqdm(total=job.total, initial=job.done, unit="img", dynamic_ncols=True, file=self.stderr._out)
        errors = {"n": job.failed}

        def on_chunk(report: ingest.ChunkReport) -> None:
            errors["n"] += report.failed
            bar.update(report.items)
            bar.set_postfix(errors=errors["n"], refresh=False)

        try:
            job = ingest.ingest_job_run(
                job=job,
                pool=pool,
                store=runtime.vector_store_get(),
                descriptor=runtime.descriptor_get(),
                on_chunk=on_chunk,
            )
        finally:
            bar.close()
            pool.close()
        self.stdout.write(
            f"Ingest job {job.id} {job.state}: {job.created:,} added, {job.skipped_duplicates:,} duplicates skipped, "
            f"{job.failed:,} failed, {job.images_per_second:.1f} images/s."
        )
        for name, reason in job.errors.values_list("name", "reason"):
            self.stdout.write(f"  {name}: {reason}")
        if job.state == IngestJob.State.FAILED:
            raise CommandError(job.error)
