"""Engines held once per worker process, built from Django settings passed down as plain values."""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from django.conf import settings

from copydetect.candidates_regions import RegionSettings
from copydetect.descriptors import VIT_DESCRIPTOR_NAMES, Descriptor, descriptor_build
from copydetect.pipeline import SearchSettings
from copydetect.scoring import ScoreCalibration, calibration_find
from copydetect.vector_store import VectorStore
from copydetect.verification_learned import LearnedSettings, LearnedVerifier

logger = logging.getLogger(__name__)
FALLBACK_VIT_DIR = Path("models") / "dinov2-s14"  # under DATA_DIR; what `manage.py setup_vit` writes


def vit_model_resolve(configured: str | None, *, fallback: Path) -> str | None:
    """The ViT model to load: `configured` when it exists (or names a hub id), else `fallback` if present.

    A configured *path* (absolute, or starting with ~ or .) that does not exist, e.g. the trained model
    that has not shipped yet, falls back to the exported DINOv2 backbone. When neither exists the
    configured value is returned unchanged, so the descriptor raises its usual "run setup_vit" error.
    """
    configured = (configured or "").strip()
    if configured and Path(configured).expanduser().exists():
        return configured
    looks_like_path = configured.startswith(("/", "~", ".")) or Path(configured).is_absolute()
    if (not configured or looks_like_path) and Path(fallback).is_dir():
        if configured:
            logger.warning("ViT model %s does not exist; using %s instead.", configured, fallback)
        return str(fallback)
    return configured or None


def vit_model_get(configured: str | None = None) -> str | None:
    """`configured` (a command-line override) or settings.ISC["VIT_MODEL"], resolved by `vit_model_resolve`
    against DATA_DIR/models/dinov2-s14: the one place that decides which ViT the workers and commands load."""
    return vit_model_resolve(
        configured or settings.ISC["VIT_MODEL"], fallback=Path(settings.DATA_DIR) / FALLBACK_VIT_DIR
    )


@functools.lru_cache(maxsize=1)
def descriptor_get() -> Descriptor:
    isc = settings.ISC
    name = isc["DESCRIPTOR"]
    vit_model = vit_model_get() if name in VIT_DESCRIPTOR_NAMES else None
    return descriptor_build(name=name, vit_model=vit_model, fusion_dir=isc["FUSION_DIR"], device=isc["DEVICE"])


@functools.lru_cache(maxsize=1)
def vector_store_get() -> VectorStore:
    return VectorStore(uri=settings.ISC["MILVUS_URI"], token=settings.ISC["MILVUS_TOKEN"])


def search_settings_get() -> SearchSettings:
    isc = settings.ISC
    verifier = isc.get("VERIFIER", "sift")
    return SearchSettings(
        top_k=isc["SEARCH_TOP_K"],
        verify_top_k=isc["VERIFY_TOP_K"],
        query_views=tuple(isc["QUERY_VIEWS"]),
        calibration=(
            calibration_get(calibration_name(isc["DESCRIPTOR"], verifier)) or calibration_get(isc["DESCRIPTOR"])
            if isc["VERIFY_TOP_K"] > 0
            else None
        ),
        verifier=verifier,
        learned_top_k=isc.get("LEARNED_TOP_K", 3),
        regions=RegionSettings() if isc.get("REGION_CANDIDATES", False) else None,
    )


def calibration_name(descriptor_name: str, verifier: str) -> str:
    """Each verifier has its own calibration: learned inliers are not worth what SIFT inliers are."""
    return descriptor_name if verifier == "sift" else f"{descriptor_name}+{verifier}"


@functools.lru_cache(maxsize=1)
def learned_verifier_get() -> LearnedVerifier | None:
    """The XFeat verifier when ISC_VERIFIER asks for it (weights load on first use), else None."""
    isc = settings.ISC
    if isc.get("VERIFIER", "sift") == "sift":
        return None
    return LearnedVerifier(
        LearnedSettings(
            matcher=isc.get("LEARNED_MATCHER", "mnn"),
            max_side=isc.get("LEARNED_MAX_SIDE", 640),
            max_keypoints=isc.get("LEARNED_MAX_KEYPOINTS", 1024),
        )
    )


@functools.lru_cache(maxsize=4)
def calibration_get(descriptor_name: str) -> ScoreCalibration | None:
    return calibration_find(Path(settings.ISC["CALIBRATION_DIR"]), descriptor_name)


def live_alias(descriptor_name: str) -> str:
    return f"live_{descriptor_name}"


def engines_reset() -> None:
    """Forgets the cached engines (tests, or after the settings changed in-process)."""
    descriptor_get.cache_clear()
    vector_store_get.cache_clear()
    calibration_get.cache_clear()
    learned_verifier_get.cache_clear()
