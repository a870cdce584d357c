"""Engines held once per worker process, built from Django settings passed down as plain values."""
from __future__ import annotations

import functools
from pathlib import Path

from django.conf import settings

from workers.descriptors import Descriptor, descriptor_build
from workers.pipeline import SearchSettings
from workers.scoring import ScoreCalibration, calibration_find
from workers.vector_store import VectorStore


@functools.lru_cache(maxsize=1)
def descriptor_get() -> Descriptor:
    isc = settings.ISC
    return descriptor_build(name=isc["DESCRIPTOR"], vit_model=isc["VIT_MODEL"], device=isc["DEVICE"])


@functools.lru_cache(maxsize=1)
def vector_store_get() -> VectorStore:
    return VectorStore(uri=settings.ISC["MILVUS_URI"], token=settings.ISC["MILVUS_TOKEN"])


def search_settings_get() -> SearchSettings:
    isc = settings.ISC
    return SearchSettings(
        top_k=isc["SEARCH_TOP_K"],
        verify_top_k=isc["VERIFY_TOP_K"],
        query_views=tuple(isc["QUERY_VIEWS"]),
        calibration=calibration_get(isc["DESCRIPTOR"]) if isc["VERIFY_TOP_K"] > 0 else None,
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
