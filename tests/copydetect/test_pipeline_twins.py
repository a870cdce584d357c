"""Issue 17: a pair's score does not depend on near-identical references in the same collection.

Real SSCD (the shipped int8 model), real Milvus Lite, real SIFT and the shipped calibration. The
reference is matplotlib's grace_hopper.jpg sample (a fixture, nothing learns from it), its twin the
same picture scaled to 75 % and re-encoded (what a team holding two versions of a banned picture has),
the other references synthetic textured scenes. One collection holds the reference without its twin,
another the same images with the twin.
"""

from __future__ import annotations

import dataclasses
import io
from functools import cache
from pathlib import Path

import augly.image as imaugs
import matplotlib
import pytest
from PIL import Image

from copydetect.benchmark.synthetic import textured_scene
from copydetect.descriptors.sscd import SscdDescriptor
from copydetect.pipeline import SearchSettings, query_search, reference_index, verification_slots
from copydetect.scoring import ScoreCalibration
from copydetect.vector_store import VectorStore
from copydetect.verification import local_features_load
from tests.services import milvus_wipe

PHOTO = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
CALIBRATION = Path(__file__).resolve().parents[2] / "copydetect" / "calibration" / "sscd.json"
ALONE, WITH_TWIN = 11, 12  # user collections
REFERENCE, TWIN = 1, 2  # ids in ALONE; WITH_TWIN uses the same ids + 100
SCENES = range(3, 11)
TOLERANCE = 0.01


class TestDescriptor(SscdDescriptor):
    """The real SSCD model under a version of its own, so this test's Milvus collection is its own."""

    __test__ = False
    version = "test_pipeline_twins/sscd"


@cache
def photo() -> Image.Image:
    with Image.open(PHOTO) as image:
        return image.convert("RGB")


def _twin() -> Image.Image:
    original = photo()
    smaller = original.resize((round(original.width * 0.75), round(original.height * 0.75)), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    smaller.save(buffer, "JPEG", quality=90)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def _copy() -> Image.Image:
    """A hard copy: SSCD still ranks its reference first, SIFT finds only a few inliers."""
    return imaugs.random_noise(imaugs.blur(photo(), radius=10), var=0.1).convert("RGB")


@pytest.fixture(scope="module")
def indexed(milvus_uri, tmp_path_factory):
    features_dir = tmp_path_factory.mktemp("features")
    descriptor, store = TestDescriptor(), VectorStore(uri=milvus_uri)
    images = {REFERENCE: photo(), TWIN: _twin(), **{i: textured_scene(40 + i) for i in SCENES}}
    for reference_id, image in images.items():
        for collection_id, offset in ((ALONE, 0), (WITH_TWIN, 100)):
            if reference_id == TWIN and collection_id == ALONE:
                continue
            reference_index(
                image=image,
                reference_id=reference_id + offset,
                collection_id=collection_id,
                descriptor=descriptor,
                store=store,
                features_path=features_dir / f"{reference_id + offset}.npz",
            )
    yield descriptor, store, features_dir
    store.close()
    milvus_wipe(milvus_uri)


def _search(indexed, collection_id: int, settings: SearchSettings) -> dict[int, object]:
    descriptor, store, features_dir = indexed
    candidates = query_search(
        image=_copy(),
        collection_id=collection_id,
        descriptor=descriptor,
        store=store,
        reference_features=lambda reference_id: local_features_load(features_dir / f"{reference_id}.npz"),
        settings=settings,
    )
    return {candidate.reference_id % 100: candidate for candidate in candidates}


def test_a_copy_scores_the_same_beside_a_resized_twin_of_its_reference_and_both_are_flagged(indexed):
    settings = SearchSettings(calibration=ScoreCalibration.load(CALIBRATION))
    assert settings.calibration.near_identical_similarity is not None
    alone, with_twin = _search(indexed, ALONE, settings), _search(indexed, WITH_TWIN, settings)

    assert with_twin[REFERENCE].descriptor_similarity == pytest.approx(alone[REFERENCE].descriptor_similarity)
    assert with_twin[REFERENCE].final_score == pytest.approx(alone[REFERENCE].final_score, abs=TOLERANCE)
    assert alone[REFERENCE].final_score >= 0.5
    assert with_twin[REFERENCE].final_score >= 0.5 and with_twin[TWIN].final_score >= 0.5
    assert with_twin[TWIN].final_score == pytest.approx(alone[REFERENCE].final_score, abs=0.1)
    assert all(c.final_score < 0.5 for key, c in with_twin.items() if key not in (REFERENCE, TWIN))


def test_without_near_identity_the_twin_sinks_the_copy(indexed):
    """The failure of issue 17, kept visible: the same calibration with every candidate counting as a
    rival takes the twin for a competitor and drops the true pair."""
    shipped = ScoreCalibration.load(CALIBRATION)
    settings = SearchSettings(calibration=dataclasses.replace(shipped, near_identical_similarity=None))
    alone, with_twin = _search(indexed, ALONE, settings), _search(indexed, WITH_TWIN, settings)

    assert with_twin[REFERENCE].final_score < alone[REFERENCE].final_score - 0.1


def test_twins_share_one_verification_slot(indexed):
    settings = SearchSettings(verify_top_k=1, calibration=ScoreCalibration.load(CALIBRATION))
    with_twin = _search(indexed, WITH_TWIN, settings)

    assert with_twin[REFERENCE].verified and with_twin[TWIN].verified
    assert sum(c.verified for c in with_twin.values()) == 2


def test_verification_slots_put_twins_with_the_first_of_them():
    twins = [frozenset({2}), frozenset(), frozenset({0}), frozenset({4}), frozenset({3})]
    assert verification_slots(twins) == [0, 1, 0, 2, 2]
    assert verification_slots([frozenset()] * 3) == [0, 1, 2]
