"""pipeline.reference_index / query_search with the learned verifier and region candidates, on real
Milvus Lite, real SSCD and real XFeat weights (a real photo: matplotlib's grace_hopper.jpg sample)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import augly.image as imaugs
import matplotlib
import pytest
from PIL import Image

from copydetect.benchmark.synthetic import textured_scene
from copydetect.candidates_regions import RegionSettings, box_iou, region_boxes
from copydetect.descriptors.sscd import SscdDescriptor
from copydetect.pipeline import SearchSettings, query_search, reference_index
from copydetect.vector_store import VectorStore
from copydetect.verification import local_features_load, query_features_extract
from copydetect.verification_learned import LearnedSettings, LearnedVerifier, features_cache_path
from tests.services import milvus_wipe

PHOTO = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
COLLECTION = 7


@cache
def photo() -> Image.Image:
    with Image.open(PHOTO) as image:
        return image.convert("RGB")


class TestDescriptor(SscdDescriptor):
    """The real SSCD model under a version of its own, so this test's Milvus collection is its own."""

    __test__ = False
    version = "test_pipeline_learned/sscd"


@pytest.fixture(scope="module")
def indexed(milvus_uri, tmp_path_factory):
    features_dir = tmp_path_factory.mktemp("features")
    descriptor, store = TestDescriptor(), VectorStore(uri=milvus_uri)
    learned = LearnedVerifier(LearnedSettings(matcher="mnn", max_side=512, max_keypoints=512))
    images = {1: photo(), 2: textured_scene(3), 3: textured_scene(8)}
    for reference_id, image in images.items():
        reference_index(
            image=image,
            reference_id=reference_id,
            collection_id=COLLECTION,
            descriptor=descriptor,
            store=store,
            features_path=features_dir / "sift" / f"{reference_id}.npz",
            learned=learned,
            learned_features_path=features_cache_path(
                features_dir, sha256=f"{reference_id:064d}", cache_tag=learned.cache_tag
            ),
        )
    yield descriptor, store, learned, features_dir
    store.close()
    milvus_wipe(milvus_uri)


def _search(indexed, image: Image.Image, settings: SearchSettings):
    descriptor, store, learned, features_dir = indexed

    def sift_features(reference_id: int):
        return local_features_load(features_dir / "sift" / f"{reference_id}.npz")

    def learned_features(reference_id: int):
        return local_features_load(
            features_cache_path(features_dir, sha256=f"{reference_id:064d}", cache_tag=learned.cache_tag)
        )

    return query_search(
        image=image,
        collection_id=COLLECTION,
        descriptor=descriptor,
        store=store,
        reference_features=sift_features,
        settings=settings,
        learned=learned,
        learned_reference_features=learned_features,
    )


def test_indexing_stores_learned_features_under_their_settings_folder(indexed):
    _, _, learned, features_dir = indexed

    stored = sorted(
        path.relative_to(features_dir).as_posix() for path in (features_dir / learned.cache_tag).rglob("*.npz")
    )

    assert stored == [f"{learned.cache_tag}/00/{i:064d}.npz" for i in (1, 2, 3)]
    assert local_features_load(features_dir / stored[0]).kind == "xfeat"


@pytest.mark.parametrize("verifier", ["sift", "learned", "sift+learned"])
def test_each_verifier_ranks_the_copy_first_and_verified(indexed, verifier: str):
    copy = imaugs.blur(imaugs.pixelization(photo(), ratio=0.2), radius=1.5)

    candidates = _search(indexed, copy, SearchSettings(verifier=verifier, learned_top_k=1))

    assert candidates[0].reference_id == 1
    assert candidates[0].verified and candidates[0].inliers >= 15
    assert candidates[0].keypoint_pairs


def test_the_learned_outcome_replaces_sifts_when_sift_falls_short(indexed):
    """With a fallback threshold above what SIFT found, the drawn pairs are the learned verifier's."""
    _, _, learned, features_dir = indexed
    copy = imaugs.blur(imaugs.pixelization(photo(), ratio=0.1), radius=1.0)
    learned_alone = learned.pair_verify_best(
        learned.query_features_extract(copy),
        local_features_load(features_cache_path(features_dir, sha256=f"{1:064d}", cache_tag=learned.cache_tag)),
    )

    both = _search(
        indexed, copy, SearchSettings(verifier="sift+learned", learned_top_k=1, learned_below_inliers=10_000)
    )
    sift = _search(indexed, copy, SearchSettings(verifier="sift"))

    assert learned_alone.inliers > sift[0].inliers  # measured in the learned-verifier tests
    assert both[0].inliers == learned_alone.inliers
    assert both[0].keypoint_pairs == [list(pair) for pair in learned_alone.pairs]


def test_region_candidates_bring_in_a_small_paste_on_a_plain_page(indexed):
    """Like a screenshot: a flat page, a small photo in one corner and a textured badge in another."""
    page = Image.new("RGB", (1600, 1200), (236, 236, 232))
    page.paste(photo().resize((256, 300)), (1180, 820))
    page.paste(textured_scene(21).resize((200, 150)), (120, 100))
    paste_box = (1180 / 1600, 820 / 1200, 1436 / 1600, 1120 / 1200)

    boxes = region_boxes(query_features_extract(page)[0], RegionSettings(min_area=0.01))
    with_regions = _search(
        indexed, page, SearchSettings(regions=RegionSettings(min_area=0.01), top_k=2, verify_top_k=2)
    )

    assert max(box_iou(box, paste_box) for box in boxes) > 0.5
    assert with_regions[0].reference_id == 1 and with_regions[0].inliers >= 15
