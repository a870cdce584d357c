"""Engines held once per worker process, built from Django settings passed down as plain values."""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from django.conf import settings

from copydetect.candidates_regions import RegionSettings
from copydetect.descriptors import VIT_DESCRIPTOR_NAMES, Descriptor, descriptor_build
from copydetect.pipeline import SearchSettings
from copydetect.reposts import RepostIndex
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
    """`configured` (a command-line override) or settings.ISC.vit_model, resolved by `vit_model_resolve`
    against DATA_DIR/models/dinov2-s14: the one place that decides which ViT the workers and commands load."""
    return vit_model_resolve(configured or settings.ISC.vit_model, fallback=Path(settings.DATA_DIR) / FALLBACK_VIT_DIR)


def vit_model_for_descriptor() -> str | None:
    """The ViT model folder when the configured descriptor uses one (vit, fused), else None."""
    return vit_model_get() if settings.ISC.descriptor in VIT_DESCRIPTOR_NAMES else None


def descriptor_get() -> Descriptor:
    """The descriptor this worker is configured with: what it indexes into and what a reindex builds."""
    return descriptor_named(settings.ISC.descriptor)


def descriptor_named(name: str, model_files: dict | None = None) -> Descriptor:
    """The descriptor `name`, loaded from `model_files` (as recorded on an index version) or else from
    the configured files; each distinct model is loaded once per process."""
    current = descriptor_model_files(name)
    files = {**current, **{key: value for key, value in (model_files or {}).items() if value}}
    return _descriptor_load(name, files.get("vit_model"), files.get("fusion_dir"))


def descriptor_model_files(name: str) -> dict:
    """The files the configured `name` loads, recorded with its index version."""
    files = {}
    if name in VIT_DESCRIPTOR_NAMES:
        files["vit_model"] = vit_model_get()
    if name == "fused":
        files["fusion_dir"] = settings.ISC.fusion_dir
    return files


@functools.lru_cache(maxsize=4)
def _descriptor_load(name: str, vit_model: str | None, fusion_dir: str | None) -> Descriptor:
    isc = settings.ISC
    return descriptor_build(
        name=name,
        vit_model=vit_model,
        fusion_dir=fusion_dir or isc.fusion_dir,
        device=isc.device,
        threads=isc.model_threads,
    )


@functools.lru_cache(maxsize=1)
def vector_store_get() -> VectorStore:
    return VectorStore(uri=settings.ISC.milvus_uri, token=settings.ISC.milvus_token)


def search_settings_get(descriptor_name: str | None = None) -> SearchSettings:
    """Search settings; the score calibration is the one of the descriptor that embeds the query."""
    isc = settings.ISC
    name = descriptor_name or search_descriptor_get().name
    verifier = isc.verifier
    return SearchSettings(
        top_k=isc.search_top_k,
        verify_top_k=isc.verify_top_k,
        query_views=tuple(isc.query_views),
        calibration=(
            calibration_get(calibration_name(name, verifier)) or calibration_get(name) if isc.verify_top_k > 0 else None
        ),
        verifier=verifier,
        learned_top_k=isc.learned_top_k,
        regions=RegionSettings() if isc.region_candidates else None,
    )


def calibration_name(descriptor_name: str, verifier: str) -> str:
    """Each verifier has its own calibration: learned inliers are not worth what SIFT inliers are."""
    return descriptor_name if verifier == "sift" else f"{descriptor_name}+{verifier}"


@functools.lru_cache(maxsize=1)
def learned_verifier_get() -> LearnedVerifier | None:
    """The XFeat verifier when ISC_VERIFIER asks for it (weights load on first use), else None."""
    isc = settings.ISC
    if isc.verifier == "sift":
        return None
    return LearnedVerifier(
        LearnedSettings(
            matcher=isc.learned_matcher,
            max_side=isc.learned_max_side,
            max_keypoints=isc.learned_max_keypoints,
        )
    )


@functools.lru_cache(maxsize=4)
def calibration_get(descriptor_name: str) -> ScoreCalibration | None:
    return calibration_find(Path(settings.ISC.calibration_dir), descriptor_name)


def live_alias() -> str:
    """The Milvus alias kept on the live version's collection (one for the whole index, whatever the model)."""
    return settings.ISC.live_alias


# Which version answers and which versions are written. The live-version row decides, not the
# worker's own setting: after a model change the workers run the new descriptor while the live
# index still holds the old one, and a query must be embedded by the model its index was built with.


def live_version_get() -> str:
    """The live version; on a fresh installation (no record yet) this worker's version becomes live."""
    descriptor = descriptor_get()
    if not settings.ISC.follow_live_version:
        return descriptor.version
    from search.reindex import services as reindex_services

    row, created = reindex_services.index_version_live_ensure(
        version=descriptor.version, descriptor_name=descriptor.name, model_files=descriptor_model_files(descriptor.name)
    )
    if created:
        store = vector_store_get()
        store.collection_ensure(model_version=descriptor.version, dim=descriptor.dim, metric=descriptor.metric)
        store.alias_point(alias=live_alias(), model_version=descriptor.version)
    return row.version


def live_descriptor_get() -> Descriptor | None:
    """The descriptor of the live version, or None when this worker cannot load that exact model."""
    own = descriptor_get()
    version = live_version_get()
    if version == own.version:
        return own
    from search.reindex import services as reindex_services
    from search.reindex.models import IndexVersion

    row = IndexVersion.objects.filter(version=version).first()
    if row is None:
        return None
    error = _load_errors.get(version)
    if error is None:
        try:
            candidate = descriptor_named(row.descriptor_name, row.model_files)
        except Exception as exc:  # any failure to build is the same fact: this version cannot be served
            error = f"loading {row.descriptor_name!r} failed: {type(exc).__name__}: {exc}"
        else:
            if candidate.version == version:
                return candidate
            error = f"the {row.descriptor_name!r} model here is {candidate.version}, not {version} (its files changed)"
        _load_errors[version] = error
        logger.error("live index %s cannot be served by this worker: %s", version, error)
    reindex_services.index_version_load_error_record(version=version, error=error)
    return None


_load_errors: dict[str, str] = {}


def search_descriptor_get() -> Descriptor:
    """What a query is embedded with, and so which collection it searches: the live version's model,
    or, only when that model cannot be loaded here, this worker's own (the query page then says so)."""
    return live_descriptor_get() or descriptor_get()


def index_descriptors_get() -> list[Descriptor]:
    """Every version a new reference must reach: the live one (when loadable here) and this worker's
    own, which is the one a reindex builds. So a reference uploaded during a reindex is searchable at
    once and is still there after the swap."""
    own = descriptor_get()
    live = live_descriptor_get()
    return [own] if live is None or live.version == own.version else [live, own]


def repost_index_get(descriptor: Descriptor) -> RepostIndex:
    """The version's re-post index, filled from the query rows the first time this version is searched (an
    upgrade, a new model); afterwards a cached layout check, no round trip."""
    store = vector_store_get()
    from workers.reposts import repost_index_ensure

    repost_index_ensure(store=store, descriptor_version=descriptor.version, dim=descriptor.dim)
    return RepostIndex(store=store, descriptor_version=descriptor.version)


def engines_reset() -> None:
    """Forgets the cached engines (tests, or after the settings changed in-process)."""
    _descriptor_load.cache_clear()
    vector_store_get.cache_clear()
    calibration_get.cache_clear()
    _load_errors.clear()
    learned_verifier_get.cache_clear()
