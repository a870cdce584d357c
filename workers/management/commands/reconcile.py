"""`manage.py reconcile`: the database against Milvus and the disk, once (beat runs it hourly too)."""

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Re-queue references whose vector is missing from Milvus, delete orphan vectors, drop collections "
        "of dead model versions and remove files no row refers to; prints the counts."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Count only; change nothing.")
        parser.add_argument(
            "--file-grace-seconds",
            type=float,
            default=None,
            help="Leave files younger than this alone (default: ISC_ORPHAN_FILE_GRACE_SECONDS).",
        )

    def handle(self, *args, dry_run: bool, file_grace_seconds: float | None, **options):
        from workers import reconcile  # the worker side: engines and Milvus

        report = reconcile.reconcile_run(dry_run=dry_run, file_grace_seconds=file_grace_seconds)
        prefix = "Would have: " if dry_run else ""
        self.stdout.write(f"{prefix}{report.summary()}")
        for field, value in vars(report).items():
            self.stdout.write(f"  {field}: {value}")
