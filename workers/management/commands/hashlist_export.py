"""`manage.py hashlist_export`: a bank's entries or a collection's references as a hash list."""

from django.core.management.base import BaseCommand, CommandError

from copydetect.hashlists import HashListFormat, SignalType


class Command(BaseCommand):
    help = (
        "Write a bank (--bank ID) or a collection's references (--collection ID) as a hash list: PDQ, MD5 and, "
        "for a collection, the SSCD descriptors of the live model read from Milvus."
    )

    def add_arguments(self, parser):
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--bank", type=int)
        target.add_argument("--collection", type=int)
        parser.add_argument("--format", choices=[f.value for f in HashListFormat], default=HashListFormat.CSV.value)
        parser.add_argument("--signals", default="pdq,md5", help="Comma-separated: pdq, md5, sscd.")
        parser.add_argument("--output", "-o", default="-", help="A file, or - for standard output.")

    def handle(self, *args, bank, collection, format, signals, output, **options):
        from search.banks import exports
        from search.banks.models import Bank
        from search.collection.models import Collection
        from workers import runtime

        try:
            wanted = [SignalType(name.strip()).value for name in signals.split(",") if name.strip()]
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if bank is not None:
            row = Bank.objects.filter(id=bank).first()
            if row is None:
                raise CommandError(f"No bank {bank}.")
            entries, collab = exports.bank_export_entries(bank=row, signal_types=wanted), row.name
        else:
            row = Collection.objects.filter(id=collection).first()
            if row is None:
                raise CommandError(f"No collection {collection}.")
            descriptor = runtime.search_descriptor_get()
            if "sscd" in wanted and not descriptor.name.startswith("sscd"):
                raise CommandError(f"The live model is {descriptor.name}, not SSCD: no sscd signals to export.")
            version = descriptor.version
            store = runtime.vector_store_get()
            entries = exports.collection_export_entries(
                collection=row,
                signal_types=wanted,
                vectors_read=lambda ids: store.vectors_get(model_version=version, ids=list(ids)),
            )
            collab = row.name
        lines = exports.hashlist_export_lines(entries, format=format, collab=collab)
        if output == "-":
            for line in lines:
                self.stdout.write(line, ending="")
            return
        with open(output, "w", encoding="utf-8", newline="") as handle:
            handle.writelines(lines)
