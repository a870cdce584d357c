"""Local verification on procedural scenes and their AugLy edits (no database, no image fixtures)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import augly.image as imaugs
import numpy as np
import pytest
from PIL import Image

from copydetect.benchmark.synthetic import textured_scene
from copydetect.verification import (
    LocalFeatures,
    Verification,
    local_features_extract,
    local_features_load,
    local_features_save,
    model_is_plausible,
    pair_verify,
    pair_verify_best,
    query_features_extract,
    verification_score,
)

Edit = Callable[[Image.Image], Image.Image]

COPY_EDITS: dict[str, Edit] = {
    "crop": lambda image: imaugs.crop(image, x1=0.1, y1=0.15, x2=0.75, y2=0.9),
    "rotate": lambda image: imaugs.rotate(image, degrees=20),
    "downscale": lambda image: imaugs.scale(image, factor=0.45),
    "colour_jitter": lambda image: imaugs.color_jitter(
        image, brightness_factor=1.3, contrast_factor=1.5, saturation_factor=1.8
    ),
    "overlay_text": lambda image: imaugs.overlay_text(image, font_size=0.12, y_pos=0.3),
    "blur": lambda image: imaugs.blur(image, radius=1.5),
    "jpeg": lambda image: imaugs.encoding_quality(image, quality=20),
    "aspect_ratio": lambda image: imaugs.change_aspect_ratio(image, ratio=1.6),
    "screenshot": lambda image: imaugs.overlay_onto_screenshot(image),
    "crop_scale_jpeg": lambda image: imaugs.encoding_quality(
        imaugs.scale(imaugs.crop(image, x1=0.2, y1=0.1, x2=0.9, y2=0.7), factor=1.5), quality=40
    ),
}


@cache
def scene(seed: int) -> Image.Image:
    return textured_scene(seed)


@cache
def reference_features(seed: int, kind: str = "sift") -> LocalFeatures:
    return local_features_extract(scene(seed), kind=kind)


def verify_image(query: Image.Image, reference_seed: int, kind: str = "sift") -> Verification:
    return pair_verify_best(query_features_extract(query, kind=kind), reference_features(reference_seed, kind))


@pytest.mark.parametrize("edit", COPY_EDITS, ids=list(COPY_EDITS))
def test_edited_copies_are_verified_with_many_inliers(edit: str):
    outcome = verify_image(COPY_EDITS[edit](scene(1)), reference_seed=1)

    assert outcome.inliers >= 25, outcome
    assert outcome.score >= 0.8
    assert 0 < len(outcome.pairs) <= 60
    assert outcome.method.startswith("sift+")


@pytest.mark.parametrize("query_seed, reference_seed", [(2, 3), (4, 5), (6, 7)])
def test_unrelated_scenes_have_no_consistent_geometry(query_seed: int, reference_seed: int):
    query = imaugs.encoding_quality(scene(query_seed), quality=50)

    outcome = verify_image(query, reference_seed)

    assert outcome.score == 0.0
    assert outcome.inliers == 0
    assert outcome.pairs == []


def test_copies_of_unrelated_scenes_do_not_match_each_other_through_shared_overlay_text():
    def captioned(seed: int) -> Image.Image:
        return imaugs.overlay_text(scene(seed), text=[[10, 20, 30, 40, 50, 60]], font_size=0.15, y_pos=0.4)

    outcome = pair_verify_best(query_features_extract(captioned(8)), local_features_extract(captioned(9)))

    assert outcome.score < 0.5


def test_flipped_copy_is_verified_through_the_mirror_view_in_original_coordinates():
    flipped = imaugs.hflip(scene(1))
    upright_view, mirror_view = query_features_extract(flipped)

    direct = pair_verify(upright_view, reference_features(1))
    best = pair_verify_best([upright_view, mirror_view], reference_features(1))

    assert direct.score == 0.0
    assert best.score >= 0.9 and best.method.endswith("+mirror")
    pairs = np.array(best.pairs)
    np.testing.assert_allclose(pairs[:, 0], 1.0 - pairs[:, 2], atol=0.01)
    np.testing.assert_allclose(pairs[:, 1], pairs[:, 3], atol=0.01)


def test_pairs_are_normalised_coordinates_consistent_with_the_crop():
    crop_box = (0.1, 0.15, 0.75, 0.9)
    cropped = imaugs.crop(scene(1), x1=crop_box[0], y1=crop_box[1], x2=crop_box[2], y2=crop_box[3])

    outcome = pair_verify(local_features_extract(cropped), reference_features(1))

    pairs = np.array(outcome.pairs)
    assert np.all((pairs >= 0) & (pairs <= 1))
    np.testing.assert_allclose(pairs[:, 2], crop_box[0] + pairs[:, 0] * (crop_box[2] - crop_box[0]), atol=0.01)
    np.testing.assert_allclose(pairs[:, 3], crop_box[1] + pairs[:, 1] * (crop_box[3] - crop_box[1]), atol=0.01)


def test_save_load_round_trip_keeps_features_and_verification(tmp_path):
    features = reference_features(1)
    path = tmp_path / "nested" / "reference.features"  # no .npz suffix: must not be appended

    local_features_save(features, path)
    loaded = local_features_load(path)

    assert path.exists()
    assert (loaded.kind, loaded.width, loaded.height, loaded.mirrored) == ("sift", 640, 480, False)
    np.testing.assert_array_equal(loaded.descriptors, features.descriptors)
    np.testing.assert_allclose(loaded.keypoints, features.keypoints, atol=5e-4)
    query = query_features_extract(COPY_EDITS["rotate"](scene(1)))
    assert abs(pair_verify_best(query, loaded).inliers - pair_verify_best(query, features).inliers) <= 3
    assert path.stat().st_size < 100_000


def test_extraction_downscales_large_images_and_limits_keypoints():
    large = textured_scene(10, size=(2400, 1500))

    features = local_features_extract(large, max_keypoints=300)

    assert 200 <= len(features) <= 300
    assert (features.width, features.height) == (2400, 1500)
    assert features.keypoints.dtype == np.float32 and features.descriptors.dtype == np.uint8
    assert features.keypoints.min() >= 0.0 and features.keypoints.max() <= 1.0


@pytest.mark.parametrize(
    "image",
    [
        Image.new("RGB", (640, 480), "white"),
        Image.new("RGB", (300, 200), (37, 120, 200)),
        Image.new("L", (8, 8), 128),
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)),
        Image.new("RGBA", (1, 500), (0, 0, 0, 0)),
    ],
    ids=["blank", "single_colour", "tiny_grey", "tiny_noise", "one_pixel_wide"],
)
def test_degenerate_images_verify_to_zero_without_errors(image: Image.Image, tmp_path):
    features = local_features_extract(image)
    local_features_save(features, tmp_path / "f.npz")
    reloaded = local_features_load(tmp_path / "f.npz")

    against_scene = pair_verify_best(query_features_extract(image), reference_features(1))
    against_itself = pair_verify(reloaded, features)

    assert features.keypoints.shape[1] == 2 and features.descriptors.shape[1] == 128
    for outcome in (against_scene, against_itself):
        assert (outcome.inliers, outcome.score, outcome.pairs) == (0, 0.0, [])


def test_orb_verifies_copies_and_rejects_unrelated_scenes():
    copy = verify_image(COPY_EDITS["crop_scale_jpeg"](scene(1)), reference_seed=1, kind="orb")
    unrelated = verify_image(scene(2), reference_seed=3, kind="orb")

    assert copy.method.startswith("orb+") and copy.inliers >= 20 and copy.score >= 0.7
    assert unrelated.score == 0.0


def test_verification_is_deterministic():
    query = query_features_extract(COPY_EDITS["screenshot"](scene(1)))

    outcomes = [pair_verify_best(query, reference_features(1)) for _ in range(3)]

    assert outcomes[0] == outcomes[1] == outcomes[2]


def test_features_of_different_kinds_cannot_be_compared():
    with pytest.raises(ValueError):
        pair_verify(reference_features(1, "orb"), reference_features(1, "sift"))


def features_of_points(points: np.ndarray, descriptors: np.ndarray) -> LocalFeatures:
    return LocalFeatures(points.astype(np.float32), descriptors, "sift", 640, 480)


@pytest.mark.parametrize("spread, verified", [(0.02, False), (0.3, True)])
def test_inliers_collapsed_into_a_tiny_area_are_rejected(spread: float, verified: bool):
    rng = np.random.default_rng(0)
    shared = rng.integers(0, 256, (20, 128), dtype=np.uint8)
    layout = rng.uniform(0.0, spread, (20, 2))
    query = features_of_points(0.2 + layout, shared)
    reference = features_of_points(0.35 + layout, shared)  # the same structure, translated

    outcome = pair_verify(query, reference)

    assert (outcome.score > 0.5) is verified
    assert outcome.inliers == (20 if verified else 0)


def test_score_is_monotonic_in_inliers_and_spread_and_bounded():
    inlier_counts = [6, 8, 15, 30, 60, 200]
    by_inliers = [verification_score(count, 0.5) for count in inlier_counts]
    by_spread = [verification_score(30, coverage) for coverage in (0.05, 0.1, 0.2, 0.6)]

    assert by_inliers == sorted(by_inliers) and by_inliers[0] == 0.0 and by_inliers[-1] <= 1.0
    assert by_spread == sorted(by_spread) and by_spread[-2] == by_spread[-1]


@pytest.mark.parametrize(
    "matrix, plausible",
    [
        (np.eye(3), True),
        (np.array([[0.5, -0.3, 40], [0.3, 0.5, 10], [0, 0, 1]]), True),  # rotation + scale
        (np.diag([-1.0, 1.0, 1.0]), False),  # reflection
        (np.array([[1.0, 2.0, 0], [0.5, 1.0, 0], [0, 0, 1]]), False),  # singular
        (np.diag([20.0, 20.0, 1.0]), False),  # extreme zoom
        (np.diag([4.0, 0.5, 1.0]), False),  # extreme stretch
        (np.array([[1.0, 0, 0], [0, 1.0, 0], [0.004, 0, 1]]), False),  # strong perspective
    ],
)
def test_implausible_transforms_are_rejected(matrix: np.ndarray, plausible: bool):
    assert model_is_plausible(matrix, (640.0, 480.0)) is plausible


def test_a_very_elongated_image_keeps_enough_pixels_across_to_verify_against_itself():
    from copydetect.verification import extraction_scale

    banner = textured_scene(5, size=(20000, 100))
    reference = local_features_extract(banner)
    outcome = pair_verify_best(query_features_extract(banner), reference)
    assert len(reference) >= 500, "at 640 × 3 px SIFT found no keypoint at all"
    assert outcome.inliers >= 300 and outcome.score > 0.9, outcome
    # Ordinary images are sized as before; the banner keeps ~90 of its 100 rows, within 4× the pixels.
    assert extraction_scale(640, 480, max_side=640) == 1.0 and extraction_scale(1280, 960, max_side=640) == 0.5
    assert extraction_scale(4000, 1000, max_side=640) == 0.16
    scale = extraction_scale(20000, 100, max_side=640)
    assert 100 * scale >= 90 and 20000 * 100 * scale**2 <= 4 * 640 * 640
