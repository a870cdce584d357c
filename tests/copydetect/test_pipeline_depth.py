"""How deep query_search verifies: a copy that the descriptor ranks 15th of 20 is still verified (and then
ranks first) with the default settings, on real Milvus Lite and real SIFT (matplotlib's grace_hopper.jpg
sample); the descriptor is a stand-in that places it there."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

import augly.image as imaugs
import matplotlib
import numpy as np
import pytest
from PIL import Image

from copydetect.benchmark.synthetic import textured_scene
from copydetect.descriptors.base import Descriptor
from copydetect.pipeline import SearchSettings, query_search, reference_index
from copydetect.scoring import ScoreCalibration
from copydetect.vector_store import VectorStore
from copydetect.verification import local_features_load
from tests.services import milvus_wipe

PHOTO = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
CALIBRATION = Path(__file__).resolve().parents[2] / "copydetect" / "calibration" / "sscd.json"
COLLECTION = 9
COPY_ID = 1
COPY_RANK = 15  # of 20 candidates: beyond the 10 verified before 2026-12


@cache
def photo() -> Image.Image:
    with Image.open(PHOTO) as image:
        return image.convert("RGB")


def _key(image: Image.Image) -> str:
    return hashlib.sha256(image.convert("RGB").tobytes()).hexdigest()


class RankingDescriptor(Descriptor):
    """Every image it was told about gets its own vector; anything else (the query's views) gets `query`.

    Each reference leans on an axis of its own, so references are as unlike each other as different
    pictures are (none is a near-identical twin of another: see test_pipeline_twins.py)."""

    __test__ = False
    name = "ranking"
    version = "test_pipeline_depth/ranking-2"
    dim = 32

    def __init__(self) -> None:
        self.known: dict[str, np.ndarray] = {}
        self.query = np.eye(self.dim, dtype=np.float32)[0]

    def place(self, image: Image.Image, similarity: float) -> None:
        axis = np.eye(self.dim, dtype=np.float32)[1 + len(self.known)]
        self.known[_key(image)] = similarity * self.query + np.sqrt(1 - similarity**2) * axis

    def _embed_batch(self, images):
        return np.stack([self.known.get(_key(image), self.query) for image in images])


@pytest.fixture(scope="module")
def indexed(milvus_uri, tmp_path_factory):
    features_dir = tmp_path_factory.mktemp("features")
    descriptor, store = RankingDescriptor(), VectorStore(uri=milvus_uri)
    # 19 unrelated scenes at similarities 0.6 … 0.2 and the copy's reference slotted in at rank COPY_RANK.
    distractors = list(np.linspace(0.6, 0.2, 19))
    images = {reference_id: textured_scene(100 + reference_id) for reference_id in range(2, 21)}
    images[COPY_ID] = photo()
    similarities = dict(zip(range(2, 21), distractors))
    similarities[COPY_ID] = (distractors[COPY_RANK - 2] + distractors[COPY_RANK - 1]) / 2
    for reference_id, image in images.items():
        descriptor.place(image, float(similarities[reference_id]))
        reference_index(
            image=image,
            reference_id=reference_id,
            collection_id=COLLECTION,
            descriptor=descriptor,
            store=store,
            features_path=features_dir / f"{reference_id}.npz",
        )
    yield descriptor, store, features_dir
    store.close()
    milvus_wipe(milvus_uri)


def _search(indexed, image: Image.Image, settings: SearchSettings):
    descriptor, store, features_dir = indexed
    return query_search(
        image=image,
        collection_id=COLLECTION,
        descriptor=descriptor,
        store=store,
        reference_features=lambda reference_id: local_features_load(features_dir / f"{reference_id}.npz"),
        settings=settings,
    )


def _copy():
    return imaugs.overlay_text(imaugs.color_jitter(photo(), brightness_factor=1.3), opacity=0.8)


def test_verifying_all_20_candidates_confirms_a_copy_ranked_15th(indexed):
    settings = SearchSettings(verify_top_k=20, calibration=ScoreCalibration.load(CALIBRATION))
    candidates = _search(indexed, _copy(), settings)
    ranked_by_similarity = sorted(candidates, key=lambda c: c.descriptor_similarity, reverse=True)

    assert settings.verify_top_k == settings.top_k == 20
    assert [c.reference_id for c in ranked_by_similarity].index(COPY_ID) == COPY_RANK - 1
    assert all(c.verified for c in candidates)
    assert candidates[0].reference_id == COPY_ID and candidates[0].inliers >= 15
    assert candidates[0].final_score > 0.5 > candidates[1].final_score


def test_by_default_only_the_first_10_are_verified_and_that_copy_stays_unconfirmed(indexed):
    settings = SearchSettings(calibration=ScoreCalibration.load(CALIBRATION))
    assert settings.verify_top_k == 10
    candidates = _search(indexed, _copy(), settings)
    copy = next(c for c in candidates if c.reference_id == COPY_ID)

    assert not copy.verified and copy.inliers == 0
    assert copy.final_score < 0.5
