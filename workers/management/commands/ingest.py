"""Bulk ingest from the command line: a folder, a zip archive or a CSV manifest into one collection.

Who the command acts as: an admin of the collection's team (`--as USERNAME`, by default the team's
longest-standing admin). Server paths are read by the admin role, so a team without an admin cannot be
imported into; the job's start (and `--create`'s collection) are audited under that admin's name with
"via": "manage.py ingest", and the job shows them as its starter. Unlike the site, the command is not
confined to the team's import root: whoever runs it already has the server's shell.
"""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from search.collection import services as collection_services
from search.collection.models import Collection
from search.core.uploads import UploadError
from search.ingest import items as ingest_items
from search.ingest import manifest
from search.ingest import services as ingest_services
from search.ingest.models import IngestJob
from search.teams.models import Membership, Role, Team
from workers import ingest as workers_ingest


class Command(BaseCommand):
    help = (
        "Adds the images of PATH (a folder, a .zip, or a .csv manifest with a 'path' column and optional "
        "'external_id' and 'metadata' columns) to a collection as a bulk-ingest job. By default the job "
        "runs here, with a progress bar; --no-wait queues it for the Celery workers instead."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path, nargs="?")
        parser.add_argument("--collection", help="name of the collection to add to")
        parser.add_argument("--team", help="slug of the collection's team (needed when several teams share the name)")
        parser.add_argument("--create", action="store_true", help="create the collection in --team if missing")
        parser.add_argument(
            "--as", dest="actor", metavar="USERNAME", help="the team admin to act as (default: its first admin)"
        )
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
            job = ingest_services.ingest_job_resume(job=job, enqueue=options["no_wait"])
        else:
            try:
                job = self._job_create(options)
            except PermissionDenied as exc:
                raise CommandError(str(exc)) from None
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
        collection, actor = self._collection_get(options)
        try:
            kind = options["kind"] or ingest_services.source_kind_guess(path)
            # Refuse a broken source before a job exists for it.
            if kind == IngestJob.Source.MANIFEST:
                manifest.manifest_parse(path.read_text(encoding="utf-8"), base_dir=path.parent)
            elif kind == IngestJob.Source.ZIP:
                ingest_items.zip_directory_check(path)
        except (UploadError, manifest.ManifestError, UnicodeDecodeError) as exc:
            raise CommandError(str(exc)) from None
        return ingest_services.ingest_job_create(
            actor=actor,
            collection=collection,
            source_kind=kind,
            source_path=str(path),
            via="manage.py ingest",
            enqueue=options["no_wait"],
        )

    def _collection_get(self, options):
        """The collection, and the team admin the command acts as."""
        name, slug = options["collection"], options["team"]
        team = None
        if slug:
            team = Team.objects.filter(slug=slug).first()
            if team is None:
                raise CommandError(f"No team {slug!r}.")
        found = Collection.objects.filter(name=name).select_related("team")
        if team:
            found = found.filter(team=team)
        matches = list(found[:2])
        if len(matches) > 1:
            teams = ", ".join(found.values_list("team__slug", flat=True).order_by("team__slug"))
            raise CommandError(f"Several teams have a collection called {name!r} ({teams}); say which with --team.")
        if matches:
            collection = matches[0]
            return collection, self._actor_get(collection.team, options["actor"])
        if not options["create"]:
            raise CommandError(
                f"No collection {name!r}"
                + (f" in team {slug!r}" if slug else "")
                + " (add --create --team SLUG to make it)."
            )
        if team is None:
            raise CommandError("--create needs --team SLUG.")
        actor = self._actor_get(team, options["actor"])
        return collection_services.collection_create(actor=actor, team=team, name=name), actor

    def _actor_get(self, team: Team, username: str | None):
        admins = (
            Membership.objects.filter(team=team, role=Role.ADMIN).select_related("user").order_by("created_at", "id")
        )
        if username:
            membership = admins.filter(user__username=username).first()
            if membership is None:
                raise CommandError(f"{username!r} is not an admin of team {team.slug!r}.")
            return membership.user
        membership = admins.first()
        if membership is None:
            raise CommandError(f"Team {team.slug!r} has no admin to act as; add one first.")
        return membership.user

    def _run_here(self, job: IngestJob) -> None:
        from workers import runtime

        if not ingest_services.ingest_job_claim(job_id=job.id):
            job.refresh_from_db()
            raise CommandError(f"Ingest job {job.id} is {job.state}: {job.error or 'nothing to do'}")
        job.refresh_from_db()
        self.stdout.write(f"Ingest job {job.id}: {job.total:,} files from {job.source_path} into “{job.collection}”.")
        pool = workers_ingest.ingest_pool_create(vit_model=runtime.vit_model_for_descriptor())
        bar = tqdm(total=job.total, initial=job.done, unit="img", dynamic_ncols=True, file=self.stderr._out)
        errors = {"n": job.failed}

        def on_chunk(report: workers_ingest.ChunkReport) -> None:
            errors["n"] += report.failed
            bar.update(report.items)
            bar.set_postfix(errors=errors["n"], refresh=False)

        try:
            job = workers_ingest.ingest_job_run(
                job=job,
                pool=pool,
                store=runtime.vector_store_get(),
                descriptor=runtime.descriptor_get(),
                targets=runtime.index_descriptors_get(),
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
