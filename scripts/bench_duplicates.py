"""A copy of a make_benchmark folder in which every matched reference also has a resized duplicate.

    .venv/bin/python scripts/bench_duplicates.py bench/seed1 --out bench/seed1-dup

A team often holds two versions of one banned picture (the original and a smaller re-encode). In the
copy, each reference that some query copies gets a twin `<id>-r75` (the reference scaled to 75 % and
saved again as JPEG), and the ground truth lists both pairs for each copy: a query then has two true
references. Queries, edits and the other references are copied unchanged, so scores measured on the
copy can be compared pair by pair with the original benchmark (docs/accuracy.md, issue 17).
"""

from __future__ import annotations

import argparse
import csv
import shutil
from pathlib import Path

from PIL import Image

from copydetect.formats import ground_truth_read_csv, ground_truth_write_csv

SCALE = 0.75
JPEG_QUALITY = 90  # as make_benchmark writes its images (copydetect.benchmark.build)
SUFFIX = "-r75"


def duplicate_save(*, source: Path, target: Path, scale: float) -> None:
    with Image.open(source) as image:
        rgb = image.convert("RGB")
        size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
        rgb.resize(size, Image.Resampling.LANCZOS).save(target, "JPEG", quality=JPEG_QUALITY)


def benchmark_duplicate(*, base: Path, out: Path, scale: float = SCALE) -> tuple[int, int]:
    """Writes the variant; returns (duplicates made, ground-truth pairs)."""
    if out.exists():
        raise SystemExit(f"{out} exists: remove it first")
    shutil.copytree(base, out)
    truth = ground_truth_read_csv(base / "ground_truth.csv")
    matched = sorted({reference for _, reference in truth if reference})
    for reference in matched:
        duplicate_save(
            source=base / "references" / f"{reference}.jpg",
            target=out / "references" / f"{reference}{SUFFIX}.jpg",
            scale=scale,
        )
    rows = []
    for query, reference in truth:
        rows.append((query, reference))
        if reference:
            rows.append((query, f"{reference}{SUFFIX}"))
    ground_truth_write_csv(out / "ground_truth.csv", rows)
    with open(out / "references.csv", "a", newline="") as handle:
        writer = csv.writer(handle)
        for reference in matched:
            writer.writerow([f"{reference}{SUFFIX}", "duplicate", f"{reference} scaled {scale:g}", ""])
    return len(matched), sum(1 for _, reference in rows if reference)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--scale", type=float, default=SCALE)
    args = parser.parse_args()
    duplicates, pairs = benchmark_duplicate(base=args.base, out=args.out, scale=args.scale)
    print(f"{args.out}: {duplicates} duplicates (scale {args.scale:g}), {pairs} ground-truth pairs")


if __name__ == "__main__":
    main()
