"""Same-scene false alarms: different photographs of one landmark / scene, or of one repeated structure,
from the allowed photo sources (data/photos, scripts/fetch_photos.py), added as non-copy queries to a
benchmark, then scored with every verification policy of bench_learned.py.

    nice -n 10 .venv/bin/python scripts/bench_same_scene.py build --base bench/seed1 --out bench/same_scene1
    nice -n 10 .venv/bin/python scripts/bench_same_scene.py measure --base bench/seed1 --variant bench/same_scene1 \
        --calibration var/bench/calibration-learned.json

`build` writes a benchmark folder whose references are the base benchmark's plus the photos of the
pairs that are not references yet, and whose queries are the query photo of each pair (as is and with a
mild edit: 0.8× scale, JPEG 60), all ground-truth non-copies. `measure` pools its candidates with the
base benchmark's (so µAP and the threshold are those of the combined set) and reports how many
same-scene queries score above 0.5 (the site's default threshold) and above the base benchmark's
threshold at 90 % precision. The pairs were picked by looking at the photos (contact sheet in
docs/accuracy.md's notes); none of them is a copy of the other.
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import csv  # noqa: E402
import io  # noqa: E402
from pathlib import Path  # noqa: E402

from PIL import Image  # noqa: E402

from copydetect.benchmark import runner  # noqa: E402
from copydetect.benchmark.runner import Bench, candidate_rows, evaluate  # noqa: E402
from copydetect.scoring import ScoreCalibration, calibration_fit, candidate_rows_features  # noqa: E402
from copydetect.verification_learned import LearnedSettings, LearnedVerifier  # noqa: E402

# (what they show, reference photo, query photo): same landmark from a similar viewpoint, same scene re-shot,
# or the same kind of repeated structure (brick, masonry). Reference and query photos are disjoint sets, so
# no query is a copy of any reference.
SAME_SCENE_PAIRS = (
    (
        "Eiffel Tower",
        "gcompris/details__image__TourEiffel_background.jpg",
        "gcompris/explore_monuments__france__eiffelTower.jpg",
    ),
    (
        "Eiffel Tower",
        "gcompris/details__image__TourEiffel_background.jpg",
        "gcompris/images__monuments__eiffelTower.jpg",
    ),
    (
        "Chenonceau",
        "gcompris/details__image__Chenonceau_background.jpg",
        "gcompris/explore_monuments__france__chateaudeChenonceau.jpg",
    ),
    (
        "Great Wall",
        "gcompris/explore_monuments__wonders__greatWallofChina.jpg",
        "gcompris/images__monuments__greatWall.jpg",
    ),
    (
        "basketball court",
        "scratch/Backgrounds__Sports__basketball-court1-a.jpg",
        "scratch/Backgrounds__Sports__basketball-court1-b.jpg",
    ),
    (
        "skyline over water",
        "scratch/Backgrounds__Outdoors__city-with-water.jpg",
        "scratch/Backgrounds__Outdoors__city-with-water2.jpg",
    ),
    ("brick wall", "scratch/Backgrounds__Outdoors__brick-wall1.jpg", "scratch/Backgrounds__Outdoors__brick-wall2.jpg"),
    (
        "brick wall",
        "scratch/Backgrounds__Outdoors__brick-wall1.jpg",
        "scratch/Backgrounds__Outdoors__brick-wall-and-stairs.jpg",
    ),
    (
        "masonry",
        "stellarium/Testscene__TX_Stellarium-Testscene__Stein_Mauerwerk_mehrfarbig.jpg",
        "stellarium/Testscene__TX_Stellarium-Testscene_withGrid__Stein_Mauerwerk_mehrfarbig.jpg",
    ),
    (
        "pyramids",
        "gcompris/details__image__GizahPyramids_background.jpg",
        "gcompris/explore_monuments__egypt__redPyramid.jpg",
    ),
)


def mild_edit(image: Image.Image) -> Image.Image:
    scaled = image.resize(
        (max(1, round(image.width * 0.8)), max(1, round(image.height * 0.8))), Image.Resampling.BILINEAR
    )
    buffer = io.BytesIO()
    scaled.save(buffer, "JPEG", quality=60)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def build(base: Path, out: Path, photos: Path) -> None:
    (out / "references").mkdir(parents=True, exist_ok=True)
    (out / "queries").mkdir(parents=True, exist_ok=True)
    with open(base / "references.csv") as handle:
        by_source = {row["source"]: row["reference_id"] for row in csv.DictReader(handle) if row["kind"] == "reference"}
    query_sources = {query for _, _, query in SAME_SCENE_PAIRS}
    reference_sources = {reference for _, reference, _ in SAME_SCENE_PAIRS}
    assert not query_sources & reference_sources, "a query photo must not be a reference"
    excluded = {by_source[source] for source in query_sources if source in by_source}
    for path in (base / "references").glob("*.jpg"):
        target = out / "references" / path.name
        if path.stem not in excluded and not target.exists():
            target.symlink_to(path.resolve())
    reference_of = {}
    for number, source in enumerate(sorted(reference_sources)):
        reference_of[source] = by_source.get(source, f"RS{number:04d}")
        if source not in by_source:
            Image.open(photos / source).convert("RGB").save(
                out / "references" / f"{reference_of[source]}.jpg", quality=95
            )
    rows, truth = [], []
    for number, (label, reference, query_source) in enumerate(SAME_SCENE_PAIRS):
        image = Image.open(photos / query_source).convert("RGB")
        for variant, edited in (("as-is", image), ("scaled+jpeg60", mild_edit(image))):
            query_id = f"QS{number:02d}{variant[0]}"
            edited.save(out / "queries" / f"{query_id}.jpg", quality=95)
            rows.append([query_id, label, query_source, reference_of[reference], variant])
            truth.append([query_id, ""])
    with open(out / "same_scene.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["query_id", "scene", "source", "same_scene_reference", "variant"])
        writer.writerows(rows)
    with open(out / "ground_truth.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["query_id", "reference_id"])
        writer.writerows(truth)
    print(f"{out}: {len(rows)} same-scene queries, {len(list((out / 'references').glob('*.jpg')))} references")


def measure(args) -> None:
    import cv2
    import torch

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    runner.VERIFY_TOP_K = args.verify_top
    runner.LEARNED_MIN_INLIERS = args.learned_min_inliers
    base = Bench(args.base, Path("var/bench") / args.base.name, queries=args.queries)
    variant = Bench(args.variant, Path("var/bench") / args.variant.name)
    # Reference features are the base benchmark's where the ids are the same: link its caches.
    # Outcomes are computed at 8 inliers and cached; the learned threshold is applied on top (as in bench_learned).
    verifier = LearnedVerifier(LearnedSettings(matcher=args.matcher, min_inliers=8))
    for folder in ("sift", verifier.cache_tag):
        (variant.cache / folder).mkdir(parents=True, exist_ok=True)
        for path in (base.cache / folder).glob("*.npz"):
            target = variant.cache / folder / path.name
            if not target.exists():
                target.symlink_to(path.resolve())
    with open(args.variant / "same_scene.csv") as handle:
        same_scene = {row["query_id"]: row for row in csv.DictReader(handle)}
    fitted = __import__("json").loads(args.calibration.read_text()) if args.calibration else {}
    for policy in args.policies:
        base_rows, _ = candidate_rows(base, base.candidates(), policy, verifier, args.learned_top, 8)
        rows, _ = candidate_rows(variant, variant.candidates(), policy, verifier, args.learned_top, 8)
        if policy in fitted:
            calibration = ScoreCalibration(
                descriptor="sscd", weights=tuple(fitted[policy]["weights"]), bias=fitted[policy]["bias"]
            )
        else:
            calibration = calibration_fit(
                features=candidate_rows_features(base_rows),
                labels=[r["label"] for r in base_rows],
                descriptor="sscd",
                fitted_on="base",
            )
        _, _, base_threshold = evaluate(base_rows, base.truth, calibration)
        pooled = base_rows + rows
        micro_ap, recall, _ = evaluate(pooled, base.truth, calibration)
        features = candidate_rows_features(rows)
        above_half, above_p90, same_scene_inliers = [], [], []
        for row, f in zip(rows, features):
            score = calibration.probability(f)
            if row["reference_id"] == same_scene[row["query_id"]]["same_scene_reference"]:
                same_scene_inliers.append(row["inliers"])
            if score >= 0.5:
                above_half.append((row["query_id"], row["reference_id"], round(score, 3), row["inliers"]))
            if base_threshold is not None and score >= base_threshold:
                above_p90.append(row["query_id"])
        in_candidates = len(same_scene_inliers)
        print(
            f"{policy:14s} pooled µAP {micro_ap:.3f} R@P90 {recall:.3f} | same-scene reference in candidates "
            f"{in_candidates}/{len(same_scene)}, with ≥8 inliers {sum(i >= 8 for i in same_scene_inliers)} "
            f"(max {max(same_scene_inliers, default=0)}) | queries scoring ≥ 0.5: {len(above_half)}, "
            f"≥ base P90 threshold {base_threshold}: {len(set(above_p90))}"
        )
        for item in above_half:
            print("   ", item, same_scene[item[0]]["scene"])


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build")
    b.add_argument("--base", type=Path, required=True)
    b.add_argument("--out", type=Path, required=True)
    b.add_argument("--photos", type=Path, default=Path("data/photos"))
    m = sub.add_parser("measure")
    m.add_argument("--base", type=Path, required=True)
    m.add_argument("--variant", type=Path, required=True)
    m.add_argument("--calibration", type=Path, default=None)
    m.add_argument("--policies", nargs="+", default=["sift", "sift+learned"])
    m.add_argument("--learned-top", type=int, default=3)
    m.add_argument("--matcher", default="mnn")
    m.add_argument("--queries", type=int, default=0, help="base benchmark: first N query ids only")
    m.add_argument("--verify-top", type=int, default=10)
    m.add_argument("--learned-min-inliers", type=int, default=25)
    args = parser.parse_args()
    if args.command == "build":
        build(args.base, args.out, args.photos)
    else:
        measure(args)


if __name__ == "__main__":
    main()
