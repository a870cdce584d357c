"""`manage.py bank_import FILE --team SLUG --bank NAME`: load a hash list into a team's bank, here and now."""

from django.core.management.base import BaseCommand, CommandError

from copydetect.hashlists import HashListFormat


class Command(BaseCommand):
    help = (
        "Load a hash list (threatexchange local file, CSV signal_type,signal,external_id,tags, or the "
        "threatexchange dataset CSV; guessed from the first line) into a bank. Every bad line is listed with "
        "its reason; nothing is inserted unless every line is good (or --skip-bad-lines)."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--team", required=True, help="The team's slug.")
        parser.add_argument("--bank", required=True, help="The bank's name.")
        parser.add_argument("--create", action="store_true", help="Create the bank if the team has none by this name.")
        parser.add_argument("--format", choices=[f.value for f in HashListFormat], default=None)
        parser.add_argument("--skip-bad-lines", action="store_true", help="Insert the good lines even if some are bad.")
        parser.add_argument("--source", default="", help="The entries' source where the file names none.")

    def handle(self, *args, file, team, bank, create, format, skip_bad_lines, source, **options):
        from search.banks import imports
        from search.banks.models import Bank
        from search.teams.models import Team
        from workers import banks as worker_banks

        team_row = Team.objects.filter(slug=team).first()
        if team_row is None:
            raise CommandError(f"No team with the slug {team!r}.")
        bank_row = Bank.objects.filter(team=team_row, name=bank).first()
        if bank_row is None:
            if not create:
                raise CommandError(f"{team_row} has no bank {bank!r} (--create makes it).")
            bank_row = Bank.objects.create(team=team_row, name=bank)
        job = imports.bank_import_create(
            actor=None,
            bank=bank_row,
            source_path=file,
            format=format,
            skip_bad_lines=skip_bad_lines,
            source_label=source,
            enqueue=False,
        )
        imports.bank_import_claim(job_id=job.id)
        self.stdout.write(f"Import {job.id} into {team_row} / {bank_row} ({job.get_format_display()})")
        job = imports.bank_import_execute(
            job_id=job.id,
            sscd=worker_banks.sscd_target_get(),
            on_inserted=worker_banks.sscd_entries_index,
            progress=lambda phase, done, bad: self.stdout.write(f"  {phase}: {done:,} lines, {bad:,} bad"),
        )
        for error in job.errors.all()[:1000]:
            self.stdout.write(f"  line {error.line_number}: {error.reason}: {error.text}")
        if job.bad_lines > 1000:
            self.stdout.write(f"  … {job.bad_lines - 1000:,} more bad lines (on the bank page)")
        summary = f"{job.created:,} added, {job.duplicates:,} already there, {job.bad_lines:,} bad lines"
        if job.state == job.State.FAILED:
            raise CommandError(f"Import {job.id} failed: {job.error} ({summary})")
        self.stdout.write(f"Import {job.id} done: {summary}")
