"""`manage.py signals_backfill`: PDQ and MD5 for references and queries stored before they were computed."""

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Compute the PDQ hash (with quality) and MD5 of every reference and query picture that has none yet "
        "(rows from before signals were computed by the workers). Resumable: run it again after a stop."
    )

    def handle(self, *args, **options):
        from search.collection.models import ReferenceImage
        from search.queries.models import QueryImage
        from workers.signals import signals_backfill

        for model, label in ((ReferenceImage, "references"), (QueryImage, "queries")):
            count = signals_backfill(
                model=model, progress=lambda done, total, label=label: self.stdout.write(f"  {label}: {done}/{total}")
            )
            self.stdout.write(f"{label}: {count.filled} hashed, {count.unreadable} unreadable")
