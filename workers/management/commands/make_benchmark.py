"""Build an offline DISC21-like benchmark from real photographs (see benchmarks/build.py)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from copydetect.benchmark.build import NotEnoughPhotosError, benchmark_build

FETCH_SCRIPT = Path("scripts/fetch_photos.py")


class Command(BaseCommand):
    help = "Build references, edited queries and ground truth from the photos that scripts/fetch_photos.py fetched."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", type=Path, required=True)
        parser.add_argument("--references", type=int, required=True)
        parser.add_argument("--queries", type=int, required=True)
        parser.add_argument("--seed", type=int, required=True)
        parser.add_argument("--positive-fraction", type=float, default=0.5)
        parser.add_argument("--distractors", type=int, default=0)
        parser.add_argument(
            "--hard", action="store_true", help="favour severe edits (use with --positive-fraction 0.2)"
        )
        parser.add_argument("--photos", type=Path, default=Path("data/photos"))
        parser.add_argument(
            "--fetch", action="store_true", help="run scripts/fetch_photos.py first if photos are missing"
        )

    def handle(self, *args: object, **options: object) -> None:
        photos: Path = options["photos"]  # type: ignore[assignment]
        if not photos.is_dir():
            if not options["fetch"]:
                raise CommandError(
                    f"{photos} does not exist: run `.venv/bin/python {FETCH_SCRIPT} --out {photos}` or pass --fetch"
                )
            subprocess.run([sys.executable, str(FETCH_SCRIPT), "--out", str(photos)], check=True)
        started = time.monotonic()
        try:
            summary = benchmark_build(
                photos_dir=photos,
                out_dir=options["out"],  # type: ignore[arg-type]
                references=options["references"],  # type: ignore[arg-type]
                queries=options["queries"],  # type: ignore[arg-type]
                seed=options["seed"],  # type: ignore[arg-type]
                positive_fraction=options["positive_fraction"],  # type: ignore[arg-type]
                distractors=options["distractors"],  # type: ignore[arg-type]
                hard=options["hard"],  # type: ignore[arg-type]
            )
        except NotEnoughPhotosError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"{summary.out_dir}: {summary.reference_images} reference images ({summary.references} references + "
            f"{summary.distractors} distractors), {summary.queries} queries ({summary.positives} positive, "
            f"{summary.negatives} negative) in {time.monotonic() - started:.1f} s"
        )
