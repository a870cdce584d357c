from django.core.management.base import BaseCommand

from search.collection.services import references_purge_expired


class Command(BaseCommand):
    help = "Purges references deleted longer ago than ISC_REFERENCE_DELETE_GRACE_DAYS (rows, vectors, files)."

    def handle(self, *args, **options):
        self.stdout.write(f"{references_purge_expired()} reference(s) purged.")
