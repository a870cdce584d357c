"""Matching track: predictions.csv (query_id,reference_id,score) through the site's own pipeline."""

import csv
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from copydetect.descriptors import DESCRIPTOR_NAMES
from copydetect.formats import predictions_write_csv
from workers import tracks


class Command(BaseCommand):
    help = "DISC21 matching track: index --references, search --queries, write query_id,reference_id,score rows."

    def add_arguments(self, parser):
        parser.add_argument("--references", type=Path, required=True)
        parser.add_argument("--queries", type=Path, required=True)
        parser.add_argument("--output", type=Path, required=True)
        parser.add_argument("--descriptor", default="sscd", choices=DESCRIPTOR_NAMES)
        parser.add_argument("--vit-model", default=None, help="ViT model directory (default: ISC_VIT_MODEL)")
        parser.add_argument(
            "--fusion-dir", default=None, help="'fused' weights and projections (default: ISC_FUSION_DIR)"
        )
        parser.add_argument("--no-verification", action="store_true", help="rank by the global descriptor alone")
        parser.add_argument("--top-k", type=int, default=20, help="predictions kept per query")
        parser.add_argument("--milvus-uri", default=None, help="a running Milvus; default: embedded Milvus Lite")
        parser.add_argument("--candidates", type=Path, default=None, help="also write every candidate's evidence (CSV)")

    def handle(self, *args, **options):
        references, queries = tracks.image_files(options["references"]), tracks.image_files(options["queries"])
        track_options = tracks.TrackOptions(
            descriptor=options["descriptor"],
            verification=not options["no_verification"],
            milvus_uri=options["milvus_uri"],
            top_k=options["top_k"],
            vit_model=options["vit_model"],
            fusion_dir=options["fusion_dir"],
        )
        timings = tracks.TrackTimings(references=len(references), queries=len(queries))
        with tracks.track_environment(track_options):
            from workers import runtime

            try:
                descriptor = runtime.descriptor_get()  # fail here, not once per image inside the tasks
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(f"descriptor {descriptor.version} ({descriptor.dim} dims)")
            collection = tracks.track_collection_create()
            try:
                started = time.perf_counter()
                with tqdm(total=len(references), desc="index references", unit="img") as bar:
                    reference_stems = tracks.references_load(
                        collection=collection, files=references, progress=bar.update
                    )
                timings.index_seconds = time.perf_counter() - started
                started = time.perf_counter()
                with tqdm(total=len(queries), desc="search queries", unit="img") as bar:
                    query_stems = tracks.queries_search(collection=collection, files=queries, progress=bar.update)
                timings.search_seconds = time.perf_counter() - started
                predictions = tracks.predictions_collect(
                    collection=collection, reference_stems=reference_stems, query_stems=query_stems
                )
                if options["candidates"]:
                    _candidates_write(
                        options["candidates"],
                        tracks.candidate_rows(
                            collection=collection, reference_stems=reference_stems, query_stems=query_stems
                        ),
                    )
            finally:
                tracks.track_collection_delete(collection)
        if not predictions:
            raise CommandError("No predictions were produced: did every reference fail to index?")
        options["output"].parent.mkdir(parents=True, exist_ok=True)
        predictions_write_csv(options["output"], predictions)
        self.stdout.write(
            f"wrote {len(predictions)} predictions for {len(query_stems)} queries to {options['output']}\n"
            f"index: {timings.ms_per_reference:.1f} ms/reference · search: {timings.ms_per_query:.1f} ms/query "
            f"(descriptor {options['descriptor']}, verification {'off' if options['no_verification'] else 'on'})"
        )


def _candidates_write(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["query_id"])
        writer.writeheader()
        writer.writerows(rows)
