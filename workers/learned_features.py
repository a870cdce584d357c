"""Learned (XFeat) features of references on disk, keyed by (sha256, feature kind, extraction settings)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from copydetect.verification import LocalFeatures, local_features_load, local_features_save
from copydetect.verification_learned import LearnedVerifier, features_cache_path
from search.collection.models import ReferenceImage
from workers import runtime
from workers.images import PERMANENT_ERRORS, image_open


def learned_features_path(*, sha256: str, learned: LearnedVerifier) -> Path:
    return features_cache_path(Path(settings.ISC.features_dir), sha256=sha256, cache_tag=learned.cache_tag)


def reference_learned_features(reference_id: int) -> LocalFeatures | None:
    """Stored at indexing time; rebuilt once if missing (indexed before the learned verifier was on)."""
    learned = runtime.learned_verifier_get()
    reference = ReferenceImage.objects.filter(id=reference_id).first()
    if learned is None or reference is None:
        return None
    path = learned_features_path(sha256=reference.sha256, learned=learned)
    if path.exists():
        return local_features_load(path)
    try:
        features = learned.features_extract(image_open(reference))
    except PERMANENT_ERRORS:
        return None
    local_features_save(features, path)
    return features
