"""Learned verification (XFeat + LighterGlue / mutual nearest neighbours) on a real photograph.

The photo is matplotlib's `grace_hopper.jpg` sample (a fixture only: nothing here is tuned on it).
The copies are the edits SIFT loses on the benchmark: pixelisation, heavy blur, flips.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import augly.image as imaugs
import matplotlib
import numpy as np
import pytest
from PIL import Image

from copydetect.benchmark.synthetic import textured_scene
from copydetect.pipeline import SearchSettings, learned_wanted, query_settled_by_sift
from copydetect.verification import (
    Verification,
    local_features_load,
    local_features_save,
    pair_verify_best,
    query_features_extract,
)
from copydetect.verification_learned import (
    LEARNED_KIND,
    LearnedSettings,
    LearnedVerifier,
    features_cache_path,
    mutual_nearest_matches,
)

PHOTO = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


@cache
def photo() -> Image.Image:
    with Image.open(PHOTO) as image:
        return image.convert("RGB")


@cache
def verifier(matcher: str = "mnn") -> LearnedVerifier:
    return LearnedVerifier(LearnedSettings(matcher=matcher, max_side=512, max_keypoints=512))


@cache
def reference_features(matcher: str = "mnn"):
    return verifier(matcher).features_extract(photo())


def pixelised_blurred_copy() -> Image.Image:
    edited = imaugs.pixelization(imaugs.crop(photo(), x1=0.05, y1=0.1, x2=0.95, y2=0.85), ratio=0.3)
    return imaugs.blur(edited, radius=1.2)


@pytest.mark.parametrize("matcher", ["mnn", "lighterglue"])
def test_learned_verifier_confirms_a_pixelised_blurred_copy_of_a_real_photo(matcher: str):
    learned = verifier(matcher)

    outcome = learned.pair_verify_best(
        learned.query_features_extract(pixelised_blurred_copy()), reference_features(matcher)
    )

    assert outcome.inliers >= 15, outcome.method
    assert outcome.score >= 0.5
    assert outcome.method.startswith(f"xfeat+{matcher}+")
    assert 0 < len(outcome.pairs) <= 60


def test_learned_verifier_finds_no_geometry_between_the_photo_and_an_unrelated_scene():
    learned = verifier()

    outcome = learned.pair_verify_best(learned.query_features_extract(textured_scene(5)), reference_features())

    assert (outcome.inliers, outcome.score, outcome.pairs) == (0, 0.0, [])


def test_flipped_copy_is_verified_through_the_mirror_view_in_original_coordinates():
    learned = verifier()
    copy = imaugs.hflip(imaugs.blur(photo(), radius=2.0))

    outcome = learned.pair_verify_best(learned.query_features_extract(copy), reference_features())

    assert outcome.method.endswith("+mirror")
    assert outcome.inliers >= 15
    # In the query's own (flipped) coordinates, x maps to 1 - x in the reference.
    pairs = np.array(outcome.pairs)
    assert np.median(np.abs((1.0 - pairs[:, 0]) - pairs[:, 2])) < 0.02


def test_features_round_trip_through_storage_and_verify_the_same(tmp_path):
    learned = verifier()
    query = learned.query_features_extract(pixelised_blurred_copy())
    path = tmp_path / "reference.npz"

    local_features_save(reference_features(), path)
    loaded = local_features_load(path)

    assert loaded.kind == LEARNED_KIND and loaded.descriptors.shape == (len(loaded), 64)
    before, after = learned.pair_verify_best(query, reference_features()), learned.pair_verify_best(query, loaded)
    assert abs(before.inliers - after.inliers) <= max(2, before.inliers // 20)


def test_sift_and_learned_features_cannot_be_compared():
    sift_views = query_features_extract(photo())

    with pytest.raises(ValueError):
        verifier().pair_verify(sift_views[0], reference_features())


def test_cache_key_names_sha256_kind_and_extraction_settings_but_not_the_matcher(tmp_path):
    base = LearnedSettings(max_side=640, max_keypoints=1024, matcher="mnn")
    sha = "ab" + "0" * 62

    path = features_cache_path(tmp_path, sha256=sha, cache_tag=base.cache_tag)

    assert path == tmp_path / "xfeat-v1-s640-k1024" / "ab" / f"{sha}.npz"
    assert LearnedSettings(max_side=640, max_keypoints=1024, matcher="lighterglue").cache_tag == base.cache_tag
    assert LearnedSettings(max_side=512, max_keypoints=1024).cache_tag != base.cache_tag
    assert LearnedSettings(max_side=640, max_keypoints=2048).cache_tag != base.cache_tag


def test_unknown_matcher_is_refused():
    with pytest.raises(ValueError):
        LearnedSettings(matcher="brute")


def _outcome(inliers: int) -> Verification:
    return Verification(inliers=inliers, score=0.5 if inliers else 0.0, pairs=[], method="sift+test")


@pytest.mark.parametrize(
    "verifier_name, rank, sift_inliers, settled, wanted",
    [
        ("sift", 0, 0, False, False),  # never under plain SIFT
        ("sift+learned", 0, 0, False, True),  # SIFT failed on a top candidate
        ("sift+learned", 2, 7, False, True),  # fewer than 8 inliers still counts as failed
        ("sift+learned", 1, 8, False, False),  # SIFT confirmed it: no learned cost
        ("sift+learned", 1, 0, True, False),  # SIFT confirmed another candidate of this query
        ("sift+learned", 3, 0, False, False),  # beyond learned_top_k = 3
        ("learned", 0, 40, True, True),  # learned only: asked whatever SIFT would say
        ("learned", 3, 0, False, False),
    ],
)
def test_fallback_rule(verifier_name: str, rank: int, sift_inliers: int, settled: bool, wanted: bool):
    settings = SearchSettings(verifier=verifier_name, learned_top_k=3, learned_below_inliers=8)
    sift = None if verifier_name == "learned" else _outcome(sift_inliers)

    assert learned_wanted(settings, rank, sift, settled) is wanted


def test_a_query_is_settled_when_sift_confirms_any_candidate():
    settings = SearchSettings(verifier="sift+learned", learned_below_inliers=8)

    assert query_settled_by_sift(settings, [_outcome(0), None, _outcome(9)])
    assert not query_settled_by_sift(settings, [_outcome(7), None, _outcome(0)])


def test_unknown_verifier_setting_is_refused():
    with pytest.raises(ValueError):
        SearchSettings(verifier="orb+magic")


def test_mutual_nearest_matches_are_mutual_and_above_the_threshold():
    rng = np.random.default_rng(0)
    reference = rng.normal(size=(50, 64)).astype(np.float32)
    reference /= np.linalg.norm(reference, axis=1, keepdims=True)
    query = reference[[3, 7, 11]] + 0.01 * rng.normal(size=(3, 64)).astype(np.float32)
    query /= np.linalg.norm(query, axis=1, keepdims=True)

    matches = mutual_nearest_matches(query, reference, min_cossim=0.82)

    assert sorted(map(tuple, matches)) == [(0, 3), (1, 7), (2, 11)]
    assert len(mutual_nearest_matches(query, -reference, min_cossim=0.82)) == 0


def test_learned_features_keep_more_of_a_heavily_pixelised_copy_than_sift():
    """Why the fallback exists: pixel blocks leave SIFT fewer consistent matches than XFeat."""
    copy = imaugs.blur(imaugs.pixelization(photo(), ratio=0.1), radius=1.0)
    learned = verifier()

    sift = pair_verify_best(query_features_extract(copy), query_features_extract(photo())[0])
    xfeat = learned.pair_verify_best(learned.query_features_extract(copy), reference_features())

    assert xfeat.inliers > 1.5 * sift.inliers
