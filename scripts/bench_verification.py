"""Speed and separation of local verification on procedural scenes and AugLy copies.

Usage (from the repository root):  .venv/bin/python scripts/bench_verification.py [--pairs 40] [--kind sift]
On a shared, busy CPU set OPENBLAS_NUM_THREADS=1: OpenBLAS threads fighting for cores made the
descriptor distance product 5-7x slower here.

Prints ms per feature extraction, ms per pair verification, and the inlier / score distributions of
edited copies against unrelated pairs (both sides edited, with shared overlay text among the edits,
since shared captions are the classic source of false local matches).
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

import augly.image as imaugs  # noqa: E402
import numpy as np
from PIL import Image

from copydetect.benchmark.synthetic import textured_scene  # noqa: E402
from copydetect.verification import (  # noqa: E402
    Verification,
    local_features_extract,
    pair_verify,
    pair_verify_best,
    query_features_extract,
)

Edit = Callable[[Image.Image, random.Random], Image.Image]


def _crop(image: Image.Image, rng: random.Random) -> Image.Image:
    width, height = rng.uniform(0.4, 0.8), rng.uniform(0.4, 0.8)
    x1, y1 = rng.uniform(0, 1 - width), rng.uniform(0, 1 - height)
    return imaugs.crop(image, x1=x1, y1=y1, x2=x1 + width, y2=y1 + height)


EDITS: dict[str, Edit] = {
    "crop": _crop,
    "rotate": lambda image, rng: imaugs.rotate(image, degrees=rng.uniform(-35, 35)),
    "scale": lambda image, rng: imaugs.scale(image, factor=rng.uniform(0.3, 1.6)),
    "colour": lambda image, rng: imaugs.color_jitter(
        image,
        brightness_factor=rng.uniform(0.6, 1.5),
        contrast_factor=rng.uniform(0.5, 1.8),
        saturation_factor=rng.uniform(0, 2),
    ),
    "text": lambda image, rng: imaugs.overlay_text(image, font_size=rng.uniform(0.08, 0.2), y_pos=rng.uniform(0, 0.7)),
    "blur": lambda image, rng: imaugs.blur(image, radius=rng.uniform(0.5, 3.0)),
    "jpeg": lambda image, rng: imaugs.encoding_quality(image, quality=rng.randint(10, 60)),
    "aspect": lambda image, rng: imaugs.change_aspect_ratio(image, ratio=rng.uniform(0.6, 1.8)),
    "screenshot": lambda image, rng: imaugs.overlay_onto_screenshot(image),
    "flip": lambda image, rng: imaugs.hflip(image),
    "pad": lambda image, rng: imaugs.pad_square(image),
    "emoji": lambda image, rng: imaugs.overlay_emoji(
        image, emoji_size=rng.uniform(0.1, 0.3), x_pos=rng.uniform(0, 0.6)
    ),
    "noise": lambda image, rng: imaugs.random_noise(image, var=rng.uniform(0.002, 0.02), seed=rng.randint(0, 999)),
    "pixelise": lambda image, rng: imaugs.pixelization(image, ratio=rng.uniform(0.4, 0.8)),
    "skew": lambda image, rng: imaugs.skew(image, skew_factor=rng.uniform(-0.4, 0.4)),
    "grayscale": lambda image, rng: imaugs.grayscale(image),
    "stripes": lambda image, rng: imaugs.overlay_stripes(image, line_width=0.1, line_density=rng.uniform(0.2, 0.5)),
}


def edited(image: Image.Image, rng: random.Random, edit_count: int) -> tuple[Image.Image, list[str]]:
    names = rng.sample(sorted(EDITS), edit_count)
    for name in names:
        image = EDITS[name](image, rng).convert("RGB")
    return image, names


def milliseconds(action: Callable[[], object], repeats: int) -> float:
    action()  # warm-up: first calls pay for allocations and lazy initialisation
    started = time.perf_counter()
    for _ in range(repeats):
        action()
    return (time.perf_counter() - started) * 1000 / repeats


def timings_print(kind: str) -> None:
    scene = textured_scene(1000, size=(640, 480))
    large = textured_scene(1001, size=(1920, 1080))
    reference = local_features_extract(scene, kind=kind)
    copy_views = query_features_extract(imaugs.rotate(scene, degrees=10), kind=kind)
    unrelated = local_features_extract(textured_scene(1002), kind=kind)
    print(f"keypoints per 640x480 scene: {len(reference)}")
    print(f"extract 640x480:            {milliseconds(lambda: local_features_extract(scene, kind=kind), 10):7.1f} ms")
    print(f"extract 1920x1080 -> 640:   {milliseconds(lambda: local_features_extract(large, kind=kind), 5):7.1f} ms")
    print(f"query views (image+mirror): {milliseconds(lambda: query_features_extract(scene, kind=kind), 5):7.1f} ms")
    print(f"pair_verify copy:           {milliseconds(lambda: pair_verify(copy_views[0], reference), 20):7.1f} ms")
    print(f"pair_verify unrelated:      {milliseconds(lambda: pair_verify(unrelated, reference), 20):7.1f} ms")
    print(f"pair_verify_best (2 views): {milliseconds(lambda: pair_verify_best(copy_views, reference), 20):7.1f} ms")


def _captioned(image: Image.Image) -> Image.Image:
    return imaugs.overlay_text(image, text=[[36, 71, 82, 79, 77, 32, 72, 79, 77, 69]], font_size=0.12, y_pos=0.4)


def separation_run(pair_count: int, kind: str, seed: int) -> tuple[list[Verification], list[Verification]]:
    rng = random.Random(seed)
    copies: list[Verification] = []
    for index in range(pair_count):
        original = textured_scene(seed * 10_000 + index)
        reference = local_features_extract(original, kind=kind)
        query, names = edited(original, rng, edit_count=rng.randint(1, 3))
        outcome = pair_verify_best(query_features_extract(query, kind=kind), reference)
        copies.append(outcome)
        if outcome.score < 0.5:
            edits = "+".join(names)
            print(f"  weak copy {index:2d}: {edits:32s} inliers={outcome.inliers:3d} score={outcome.score:.2f}")
    unrelated: list[Verification] = []
    for index in range(pair_count):
        # A fresh scene edited like the copies, against another scene; both carry the same caption,
        # the classic source of geometrically consistent matches between different images.
        query, _ = edited(textured_scene(seed * 10_000 + 5_000 + index), rng, edit_count=rng.randint(1, 3))
        other = textured_scene(seed * 10_000 + (index + 1) % pair_count)
        reference = local_features_extract(_captioned(other), kind=kind)
        outcome = pair_verify_best(query_features_extract(_captioned(query), kind=kind), reference)
        unrelated.append(outcome)
        if outcome.score > 0:
            print(
                f"  unrelated {index:2d} matched: inliers={outcome.inliers} score={outcome.score:.2f} {outcome.method}"
            )
    return copies, unrelated


def distribution_print(label: str, outcomes: list[Verification]) -> None:
    inliers = np.array([outcome.inliers for outcome in outcomes])
    scores = np.array([outcome.score for outcome in outcomes])
    percentiles = np.percentile(inliers, [0, 10, 25, 50, 75, 90, 100]).astype(int)
    print(f"{label:10s} n={len(outcomes)}  inliers min/p10/p25/median/p75/p90/max = {'/'.join(map(str, percentiles))}")
    positive, confident = np.mean(scores > 0), np.mean(scores >= 0.5)
    print(f"{'':10s} score mean={scores.mean():.3f}  share with score>0: {positive:.2f}  >=0.5: {confident:.2f}")
    histogram, edges = np.histogram(inliers, bins=[0, 1, 8, 15, 25, 50, 100, 200, 10_000])
    bins = "  ".join(f"[{int(low)},{int(high)}):{count}" for low, high, count in zip(edges, edges[1:], histogram))
    print(f"{'':10s} inlier histogram: {bins}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=40)
    parser.add_argument("--kind", choices=["sift", "orb"], default="sift")
    parser.add_argument("--seed", type=int, default=7)
    arguments = parser.parse_args()
    timings_print(arguments.kind)
    copies, unrelated = separation_run(arguments.pairs, arguments.kind, arguments.seed)
    distribution_print("copies", copies)
    distribution_print("unrelated", unrelated)
    best_unrelated = max(outcome.score for outcome in unrelated)
    recall = np.mean([outcome.score > best_unrelated for outcome in copies])
    print(f"copies scoring above every unrelated pair: {recall:.2f} (highest unrelated score {best_unrelated:.3f})")


if __name__ == "__main__":
    main()
