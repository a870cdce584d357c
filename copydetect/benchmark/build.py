"""Build a DISC21-like benchmark (references, edited queries, ground truth) from a folder of photos.

The photos folder is what scripts/fetch_photos.py writes: `<source>/<name>.jpg` plus an optional
`manifest.csv` whose `role` column marks filler images (used only as distractors). Without a
manifest, images under a folder named in FILLER_SOURCES are filler and every other image is a photo.
"""

from __future__ import annotations

import csv
import json
import math
import random
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from copydetect.benchmark import edits

FILLER_SOURCES = frozenset({"stellarium"})
MAX_NEGATIVES_PER_SOURCE = 12
# 144 px is the largest tile that lets the real sources yield 3000 distractors for 250 references.
TILE_MIN_SIDE = 144
OUTPUT_JPEG_QUALITY = 90
ID_SPACE = 1_000_000
CONTACT_SHEET_PAIRS = 48


class NotEnoughPhotosError(ValueError):
    pass


@dataclass(frozen=True)
class SourcePhoto:
    path: str  # relative to the photos folder
    role: str  # "photo" or "filler"


@dataclass(frozen=True)
class DistractorSpec:
    photo: SourcePhoto
    box: tuple[int, int, int, int] | None  # None: the whole photo


@dataclass(frozen=True)
class QuerySpec:
    source: SourcePhoto
    is_positive: bool


@dataclass
class Summary:
    out_dir: str
    seed: int
    hard: bool
    positive_fraction: float
    photos_available: int
    filler_available: int
    references: int
    distractors: int
    reference_images: int
    queries: int
    positives: int
    negatives: int
    negative_source_photos: int
    difficulties: dict[str, int] = field(default_factory=dict)
    families: dict[str, int] = field(default_factory=dict)
    severe_queries: int = 0


# ---------------------------------------------------------------------------------------------
# Inputs


def load_source_photos(photos_dir: Path) -> list[SourcePhoto]:
    manifest = photos_dir / "manifest.csv"
    if manifest.exists():
        with open(manifest, newline="") as handle:
            rows = list(csv.DictReader(handle))
        photos = [SourcePhoto(row["path"], row.get("role") or "photo") for row in rows]
    else:
        photos = [
            SourcePhoto(str(path.relative_to(photos_dir)), "filler" if path.parent.name in FILLER_SOURCES else "photo")
            for path in photos_dir.glob("*/*.jpg")
        ]
    return sorted(photos, key=lambda photo: photo.path)


def check_enough_photos(photos: int, references: int, negatives: int) -> None:
    needed_remaining = math.ceil(negatives / MAX_NEGATIVES_PER_SOURCE) if negatives else 1
    if references + needed_remaining > photos:
        raise NotEnoughPhotosError(
            f"{photos} photos exist (excluding filler), but {references} references plus "
            f"{needed_remaining} other photos (negative queries, at most {MAX_NEGATIVES_PER_SOURCE} per "
            f"photo, and overlay material) are needed: ask for at most {photos - needed_remaining} references "
            f"or fewer negative queries"
        )


# ---------------------------------------------------------------------------------------------
# Planning (all random choices come from the seeded rng, in a fixed order)


def cycle_shuffled(items: list[SourcePhoto], count: int, rng: random.Random) -> list[SourcePhoto]:
    """`count` items, each used once before any is used again."""
    chosen: list[SourcePhoto] = []
    while len(chosen) < count:
        chosen.extend(rng.sample(items, min(len(items), count - len(chosen))))
    return chosen


def plan_queries(
    references: list[SourcePhoto], others: list[SourcePhoto], positives: int, negatives: int, rng: random.Random
) -> list[QuerySpec]:
    specs = [QuerySpec(photo, True) for photo in cycle_shuffled(references, positives, rng)]
    specs += [QuerySpec(photo, False) for photo in cycle_shuffled(others, negatives, rng)]
    rng.shuffle(specs)
    return specs


def tile_boxes(width: int, height: int) -> list[tuple[int, int, int, int]]:
    """Non-overlapping grid tiles of at least TILE_MIN_SIDE pixels; none if only one would fit."""
    columns, rows = width // TILE_MIN_SIDE, height // TILE_MIN_SIDE
    if columns * rows < 2:
        return []
    tile_width, tile_height = width // columns, height // rows
    return [
        (column * tile_width, row * tile_height, (column + 1) * tile_width, (row + 1) * tile_height)
        for row in range(rows)
        for column in range(columns)
    ]


def distractor_candidates(
    photos_dir: Path, filler: list[SourcePhoto], unqueried_references: list[SourcePhoto]
) -> Iterator[DistractorSpec]:
    for photo in filler:
        yield DistractorSpec(photo, None)
    for photo in filler + unqueried_references:
        with Image.open(photos_dir / photo.path) as image:
            size = image.size
        for box in tile_boxes(*size):
            yield DistractorSpec(photo, box)


def plan_distractors(
    photos_dir: Path,
    filler: list[SourcePhoto],
    unqueried_references: list[SourcePhoto],
    query_side: set[str],
    count: int,
    rng: random.Random,
) -> list[DistractorSpec]:
    if count == 0:
        return []
    candidates = [
        spec
        for spec in distractor_candidates(photos_dir, filler, unqueried_references)
        if spec.photo.path not in query_side
    ]
    if len(candidates) < count:
        raise NotEnoughPhotosError(
            f"{count} distractors requested but only {len(candidates)} exist ({len(filler)} filler images "
            f"and non-overlapping crops of filler and of the {len(unqueried_references)} references no "
            f"query derives from)"
        )
    return rng.sample(candidates, count)


def draw_ids(prefix: str, count: int, rng: random.Random) -> list[str]:
    return [f"{prefix}{number:06d}" for number in rng.sample(range(ID_SPACE), count)]


# ---------------------------------------------------------------------------------------------
# Writing


def save_jpeg(image: Image.Image, target: Path) -> None:
    image.convert("RGB").save(target, "JPEG", quality=OUTPUT_JPEG_QUALITY)


def write_reference(photos_dir: Path, spec: DistractorSpec, target: Path) -> None:
    if spec.box is None:
        shutil.copyfile(photos_dir / spec.photo.path, target)
        return
    with Image.open(photos_dir / spec.photo.path) as image:
        save_jpeg(image.crop(spec.box), target)


def query_rng(seed: int, index: int) -> random.Random:
    return random.Random(seed * 1_000_003 + index)


def make_other_photo_provider(photos_dir: Path, pool: list[SourcePhoto], exclude: str) -> edits.OtherPhotoProvider:
    candidates = [photo for photo in pool if photo.path != exclude] or pool

    def other_photo(rng: random.Random) -> tuple[Image.Image, str]:
        photo = rng.choice(candidates)
        with Image.open(photos_dir / photo.path) as image:
            return image.convert("RGB"), photo.path

    return other_photo


@dataclass(frozen=True)
class QueryRecord:
    query_id: str
    reference_id: str
    source: str
    difficulty: str
    records: list[edits.EditRecord]
    severe: bool


def make_query(
    photos_dir: Path, spec: QuerySpec, overlay_pool: list[SourcePhoto], rng: random.Random, hard: bool
) -> tuple[Image.Image, str, list[edits.EditRecord], bool]:
    difficulty, families, severe = edits.plan_edits(rng, hard)
    context = edits.EditContext(rng, difficulty, make_other_photo_provider(photos_dir, overlay_pool, spec.source.path))
    with Image.open(photos_dir / spec.source.path) as image:
        edited, records = edits.edit_image(image.convert("RGB"), families, context)
    return edited, difficulty, records, severe


def clear_outputs(out_dir: Path) -> None:
    for folder in ("references", "queries"):
        shutil.rmtree(out_dir / folder, ignore_errors=True)
        (out_dir / folder).mkdir(parents=True)


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def write_ground_truth(out_dir: Path, queries: list[QueryRecord]) -> None:
    rows = [[q.query_id, q.reference_id] for q in sorted(queries, key=lambda q: q.query_id)]
    write_csv(out_dir / "ground_truth.csv", ["query_id", "reference_id"], rows)


def write_edits(out_dir: Path, queries: list[QueryRecord]) -> None:
    rows = [
        [
            q.query_id,
            "|".join(record.family for record in q.records),
            q.difficulty,
            json.dumps([asdict(record) for record in q.records], sort_keys=True),
            q.source,
        ]
        for q in sorted(queries, key=lambda q: q.query_id)
    ]
    write_csv(out_dir / "edits.csv", ["query_id", "families", "difficulty", "params", "source"], rows)


def write_reference_index(out_dir: Path, entries: list[tuple[str, str, str, str]]) -> None:
    write_csv(out_dir / "references.csv", ["reference_id", "kind", "source", "box"], sorted(entries))


# ---------------------------------------------------------------------------------------------
# Contact sheet


def _thumbnail(path: Path, side: int) -> Image.Image:
    with Image.open(path) as image:
        thumbnail = image.convert("RGB")
    thumbnail.thumbnail((side, side))
    return thumbnail


def write_contact_sheet(out_dir: Path, queries: list[QueryRecord], target: Path) -> None:
    """Query thumbnails beside their reference (or beside 'negative'), labelled with the edits."""
    shown = sorted(queries, key=lambda q: q.query_id)[:CONTACT_SHEET_PAIRS]
    side, label_height, columns = 150, 30, 4
    pair_width = 2 * side + 20
    rows = math.ceil(len(shown) / columns)
    sheet = Image.new("RGB", (columns * pair_width, max(1, rows) * (side + label_height)), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=11)
    for index, query in enumerate(shown):
        x, y = (index % columns) * pair_width, (index // columns) * (side + label_height)
        label = f"{query.difficulty}: {'+'.join(r.family for r in query.records)}"
        draw.text((x + 2, y + 2), label[:52], fill="black", font=font)
        draw.text((x + 2, y + 15), f"{query.query_id} -> {query.reference_id or '-'}", fill="gray", font=font)
        image_top = y + label_height
        sheet.paste(_thumbnail(out_dir / "queries" / f"{query.query_id}.jpg", side), (x, image_top))
        if query.reference_id:
            reference = _thumbnail(out_dir / "references" / f"{query.reference_id}.jpg", side)
            sheet.paste(reference, (x + side + 4, image_top))
        else:
            draw.text((x + side + 30, image_top + side // 2), "negative", fill="red", font=font)
    sheet.save(target)


# ---------------------------------------------------------------------------------------------
# Entry point


def benchmark_build(
    *,
    photos_dir: Path | str,
    out_dir: Path | str,
    references: int,
    queries: int,
    seed: int,
    positive_fraction: float = 0.5,
    distractors: int = 0,
    hard: bool = False,
) -> Summary:
    photos_dir, out_dir = Path(photos_dir), Path(out_dir)
    if not 0.0 <= positive_fraction <= 1.0:
        raise ValueError("positive_fraction must lie in [0, 1]")
    all_photos = load_source_photos(photos_dir)
    photos = [p for p in all_photos if p.role == "photo"]
    filler = [p for p in all_photos if p.role == "filler"]
    positives = round(queries * positive_fraction)
    negatives = queries - positives
    check_enough_photos(len(photos), references, negatives)

    rng = random.Random(seed)
    shuffled = rng.sample(photos, len(photos))
    reference_photos, other_photos = shuffled[:references], shuffled[references:]
    query_specs = plan_queries(reference_photos, other_photos, positives, negatives, rng)
    queried_references = {spec.source.path for spec in query_specs if spec.is_positive}
    unqueried_references = [p for p in reference_photos if p.path not in queried_references]
    # Overlay material and negative sources both come from other_photos, so none of them may
    # reappear as a distractor: a query would then hold a true copy missing from the ground truth.
    query_side = queried_references | {p.path for p in other_photos}
    distractor_specs = plan_distractors(photos_dir, filler, unqueried_references, query_side, distractors, rng)

    reference_ids = draw_ids("R", references + distractors, rng)
    query_ids = draw_ids("Q", queries, rng)

    clear_outputs(out_dir)
    reference_id_by_path: dict[str, str] = {}
    index_entries: list[tuple[str, str, str, str]] = []
    for reference_id, photo in zip(reference_ids, reference_photos):
        write_reference(photos_dir, DistractorSpec(photo, None), out_dir / "references" / f"{reference_id}.jpg")
        reference_id_by_path[photo.path] = reference_id
        index_entries.append((reference_id, "reference", photo.path, ""))
    for reference_id, spec in zip(reference_ids[references:], distractor_specs):
        write_reference(photos_dir, spec, out_dir / "references" / f"{reference_id}.jpg")
        kind = "distractor" if spec.box is None else "distractor_crop"
        index_entries.append((reference_id, kind, spec.photo.path, json.dumps(spec.box) if spec.box else ""))

    query_records: list[QueryRecord] = []
    for index, (query_id, spec) in enumerate(zip(query_ids, query_specs)):
        image, difficulty, records, severe = make_query(photos_dir, spec, other_photos, query_rng(seed, index), hard)
        save_jpeg(image, out_dir / "queries" / f"{query_id}.jpg")
        reference_id = reference_id_by_path[spec.source.path] if spec.is_positive else ""
        query_records.append(QueryRecord(query_id, reference_id, spec.source.path, difficulty, records, severe))

    write_ground_truth(out_dir, query_records)
    write_edits(out_dir, query_records)
    write_reference_index(out_dir, index_entries)
    write_contact_sheet(out_dir, query_records, out_dir / "contact_sheet.png")

    summary = Summary(
        out_dir=str(out_dir),
        seed=seed,
        hard=hard,
        positive_fraction=positive_fraction,
        photos_available=len(photos),
        filler_available=len(filler),
        references=references,
        distractors=distractors,
        reference_images=references + distractors,
        queries=queries,
        positives=positives,
        negatives=negatives,
        negative_source_photos=len({spec.source.path for spec in query_specs if not spec.is_positive}),
        difficulties=dict(sorted(Counter(q.difficulty for q in query_records).items())),
        families=dict(sorted(Counter(r.family for q in query_records for r in q.records).items())),
        severe_queries=sum(q.severe for q in query_records),
    )
    (out_dir / "summary.json").write_text(json.dumps(asdict(summary), indent=2, sort_keys=True) + "\n")
    return summary
