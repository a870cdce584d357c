"""The benchmark builder on procedurally generated photos (no Debian download, no database)."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from copydetect.benchmark import edits
from copydetect.benchmark.build import NotEnoughPhotosError, benchmark_build, tile_boxes

PHOTO_COUNT = 14
FILLER_COUNT = 3
REFERENCES = 6
QUERIES = 10
DISTRACTORS = 12


def synthetic_photo(seed: int, size: tuple[int, int]) -> Image.Image:
    """Smooth gradients, shapes and sensor-like noise: distinct per seed and photo-like enough."""
    rng = np.random.default_rng(seed)
    width, height = size
    y, x = np.mgrid[0:height, 0:width] / max(size)
    channels = [np.sin(x * rng.uniform(2, 9) + rng.uniform(0, 6)) + np.cos(y * rng.uniform(2, 9)) for _ in range(3)]
    base = (np.stack(channels, axis=2) + 2) * 60 + rng.normal(0, 8, (height, width, 3))
    image = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x0, y0 = int(rng.integers(0, width - 40)), int(rng.integers(0, height - 40))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        draw.ellipse((x0, y0, x0 + int(rng.integers(20, 120)), y0 + int(rng.integers(20, 120))), fill=colour)
    return image


@pytest.fixture(scope="module")
def photos_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("photos")
    (root / "camera").mkdir()
    (root / "stellarium").mkdir()
    for index in range(PHOTO_COUNT):
        synthetic_photo(index, (320 + 16 * index, 240)).save(root / "camera" / f"p{index:02d}.jpg", quality=92)
    for index in range(FILLER_COUNT):
        synthetic_photo(100 + index, (480, 480)).save(root / "stellarium" / f"f{index}.jpg", quality=92)
    return root


def build(photos_dir: Path, out_dir: Path, seed: int, **overrides: object):
    arguments = dict(references=REFERENCES, queries=QUERIES, seed=seed, distractors=DISTRACTORS) | overrides
    return benchmark_build(photos_dir=photos_dir, out_dir=out_dir, **arguments)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def bench(photos_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out_dir = tmp_path_factory.mktemp("bench")
    build(photos_dir, out_dir, seed=1)
    return out_dir


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def folder_contents(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_counts(bench: Path) -> None:
    ground_truth = read_rows(bench / "ground_truth.csv")
    summary = json.loads((bench / "summary.json").read_text())
    assert len(list((bench / "references").glob("R*.jpg"))) == REFERENCES + DISTRACTORS
    assert len(list((bench / "queries").glob("Q*.jpg"))) == QUERIES
    assert len(ground_truth) == QUERIES
    assert sum(1 for row in ground_truth if row["reference_id"]) == QUERIES // 2 == summary["positives"]
    assert summary["reference_images"] == REFERENCES + DISTRACTORS


def test_ground_truth_is_consistent(bench: Path) -> None:
    ground_truth = {row["query_id"]: row["reference_id"] for row in read_rows(bench / "ground_truth.csv")}
    query_sources = {row["query_id"]: row["source"] for row in read_rows(bench / "edits.csv")}
    references = read_rows(bench / "references.csv")
    source_of_reference = {row["reference_id"]: row["source"] for row in references}
    reference_photos = {row["source"] for row in references if row["kind"] == "reference"}
    for query_id, reference_id in ground_truth.items():
        if reference_id:
            assert (bench / "references" / f"{reference_id}.jpg").exists()
            assert source_of_reference[reference_id] == query_sources[query_id]
        else:
            assert query_sources[query_id] not in reference_photos


def test_same_seed_builds_identical_benchmark(photos_dir: Path, bench: Path, tmp_path: Path) -> None:
    build(photos_dir, tmp_path, seed=1)
    for name in ("ground_truth.csv", "edits.csv", "references.csv", "summary.json"):
        expected = (bench / name).read_text().replace(str(bench), "")
        assert (tmp_path / name).read_text().replace(str(tmp_path), "") == expected
    assert folder_contents(tmp_path / "queries") == folder_contents(bench / "queries")
    assert folder_contents(tmp_path / "references") == folder_contents(bench / "references")


def test_other_seed_builds_different_benchmark(photos_dir: Path, bench: Path, tmp_path: Path) -> None:
    build(photos_dir, tmp_path, seed=2)
    assert (tmp_path / "ground_truth.csv").read_text() != (bench / "ground_truth.csv").read_text()
    assert folder_contents(tmp_path / "queries") != folder_contents(bench / "queries")


@pytest.mark.parametrize("difficulty", edits.DIFFICULTIES)
@pytest.mark.parametrize("family", sorted(edits.FAMILIES))
def test_every_family_runs(family: str, difficulty: edits.Difficulty) -> None:
    image = synthetic_photo(7, (400, 300))
    other = synthetic_photo(8, (360, 280))
    context = edits.EditContext(random.Random(5), difficulty, lambda rng: (other, "other.jpg"))
    edited, record = edits.apply_edit(family, image, context)
    assert edited.mode == "RGB" and min(edited.size) > 0
    assert record.family == family
    json.dumps(record.params)  # the record must be storable in edits.csv


def test_text_overlay_survives_fonts_whose_layout_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    # Ostrich Sans cannot lay out about half of the random glyph sequences AugLy draws from it.
    fragile = [font for font in edits.TEXT_FONTS if font.name.startswith("OstrichSans")]
    sturdy = [font for font in edits.TEXT_FONTS if font.name == "Chunkfive.ttf"]
    assert fragile and sturdy, "AugLy ships the Ostrich Sans and Chunkfive fonts"
    monkeypatch.setattr(edits, "TEXT_FONTS", fragile + sturdy[:1])
    image = Image.new("RGB", (320, 240), "white")
    for seed in range(12):
        context = edits.EditContext(random.Random(seed), "hard", lambda rng: (image, "other.jpg"))
        edited, params = edits.text_overlay(image, context)
        assert params["font"] in {font.name for font in fragile + sturdy}
        assert np.asarray(edited).min() < 255, "some text was drawn"


def test_distractor_crops_never_come_from_query_sources(bench: Path) -> None:
    edit_rows = read_rows(bench / "edits.csv")
    query_side = {row["source"] for row in edit_rows}
    for row in edit_rows:
        for record in json.loads(row["params"]):
            query_side.update(v for k, v in record["params"].items() if k in ("overlay", "background", "other"))
    distractors = [row for row in read_rows(bench / "references.csv") if row["kind"].startswith("distractor")]
    assert len(distractors) == DISTRACTORS
    assert any(row["kind"] == "distractor_crop" for row in distractors)
    assert not {row["source"] for row in distractors} & query_side


def test_crops_of_one_photo_do_not_overlap() -> None:
    boxes = tile_boxes(700, 500)
    assert len(boxes) >= 2
    for index, (left, top, right, bottom) in enumerate(boxes):
        for other_left, other_top, other_right, other_bottom in boxes[index + 1 :]:
            assert right <= other_left or other_right <= left or bottom <= other_top or other_bottom <= top


def test_contact_sheet_exists(bench: Path) -> None:
    with Image.open(bench / "contact_sheet.png") as sheet:
        assert sheet.width > 0 and sheet.height > 0


def test_too_few_photos_fails_with_count(photos_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(NotEnoughPhotosError, match=f"{PHOTO_COUNT} photos exist"):
        build(photos_dir, tmp_path, seed=1, references=PHOTO_COUNT)


def test_hard_setting_builds(photos_dir: Path, tmp_path: Path) -> None:
    summary = build(photos_dir, tmp_path, seed=3, positive_fraction=0.2, hard=True)
    assert summary.positives == 2 and summary.severe_queries > 0
