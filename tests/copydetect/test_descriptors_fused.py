"""The 'fused' descriptor (SSCD + a tiny random ViT), its fusion directory, and where the ViT model comes from."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command

from copydetect.descriptors import Descriptor, descriptor_build
from copydetect.descriptors.fused import (
    FUSION_CONFIG_FILE,
    FusedDescriptor,
    FusionComponent,
    fusion_config_read,
    fusion_projections_fit,
    fusion_save,
)
from copydetect.projection import Projection, projection_fit
from tests.copydetect.test_descriptors import (
    VERSION_PATTERN,
    assert_unit_rows,
    edited_copy,
    textured_image,
    tiny_dinov2_save,
)
from workers.runtime import vit_model_resolve

TINY_HIDDEN = 32


@pytest.fixture(scope="module")
def sscd() -> Descriptor:
    return descriptor_build(name="sscd", threads=1)


@pytest.fixture(scope="module")
def tiny_vit_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("tiny-vit")
    tiny_dinov2_save(directory)
    return directory


@pytest.fixture(scope="module")
def vit(tiny_vit_dir: Path) -> Descriptor:
    return descriptor_build(name="vit", vit_model=str(tiny_vit_dir), device="cpu")


@pytest.fixture(scope="module")
def images() -> list:
    return [textured_image(seed) for seed in range(4)]


def background_projections(sscd: Descriptor, vit: Descriptor, *, whitening: float = 0.0, dims=None) -> dict:
    background = [textured_image(seed) for seed in range(100, 140)]
    vectors = {"sscd": sscd.embed(background), "vit": vit.embed(background)}
    return fusion_projections_fit(vectors, whitening_power=whitening, dims=dims)


# ---------------------------------------------------------------- embedding


def test_fused_embeds_unit_vectors_of_the_summed_dimension(sscd, vit, images) -> None:
    fused = FusedDescriptor([FusionComponent(sscd), FusionComponent(vit)])
    assert fused.name == "fused" and fused.dim == 512 + TINY_HIDDEN and fused.metric == "IP"
    vectors = fused.embed(images, batch_size=3)
    assert_unit_rows(vectors, fused.dim, len(images))
    np.testing.assert_allclose(vectors, fused.embed(images, batch_size=32), atol=1e-5)
    assert fused.embed([]).shape == (0, fused.dim)


@pytest.mark.parametrize("weights", [(1.0, 1.0), (1.0, 0.25), (3.0, 1.0)])
def test_fused_similarity_is_the_weighted_mean_of_the_parts(sscd, vit, images, weights) -> None:
    fused = FusedDescriptor([FusionComponent(sscd, weight=weights[0]), FusionComponent(vit, weight=weights[1])])
    copies = [edited_copy(image) for image in images]
    fused_similarity = fused.embed(copies) @ fused.embed(images).T
    parts = [part.embed(copies) @ part.embed(images).T for part in (sscd, vit)]
    expected = (weights[0] * parts[0] + weights[1] * parts[1]) / sum(weights)
    np.testing.assert_allclose(fused_similarity, expected, atol=1e-5)


def test_fused_applies_each_parts_projection(sscd, vit, images) -> None:
    projections = background_projections(sscd, vit, whitening=0.5, dims={"sscd": 24, "vit": 16})
    fused = FusedDescriptor(
        [
            FusionComponent(sscd, weight=2.0, projection=projections["sscd"]),
            FusionComponent(vit, weight=1.0, projection=projections["vit"]),
        ]
    )
    assert fused.dim == 24 + 16
    vectors = fused.embed(images)
    assert_unit_rows(vectors, 40, len(images))
    expected_sscd = projections["sscd"].apply(sscd.embed(images)) * np.sqrt(2 / 3)
    expected_vit = projections["vit"].apply(vit.embed(images)) * np.sqrt(1 / 3)
    np.testing.assert_allclose(vectors, np.hstack([expected_sscd, expected_vit]), atol=1e-5)


def test_centring_projection_keeps_copies_closest(sscd, vit) -> None:
    projections = background_projections(sscd, vit)
    fused = FusedDescriptor(
        [
            FusionComponent(sscd, projection=projections["sscd"]),
            FusionComponent(vit, weight=0.25, projection=projections["vit"]),
        ]
    )
    originals = [textured_image(seed, (320 + 30 * (seed % 4), 240)) for seed in range(6)]
    similarity = fused.embed([edited_copy(image) for image in originals]) @ fused.embed(originals).T
    assert (similarity.argmax(axis=1) == np.arange(len(originals))).all(), similarity


def test_fused_rejects_bad_weights_and_mismatched_projections(sscd, vit) -> None:
    with pytest.raises(ValueError, match="at least one"):
        FusedDescriptor([])
    with pytest.raises(ValueError, match="weight must be positive"):
        FusedDescriptor([FusionComponent(sscd, weight=0.0), FusionComponent(vit)])
    wrong = projection_fit(np.random.default_rng(0).normal(size=(10, 8)), dim=4)
    with pytest.raises(ValueError, match="expects 8-d vectors"):
        FusedDescriptor([FusionComponent(sscd), FusionComponent(vit, projection=wrong)])


# ---------------------------------------------------------------- versions


def test_fused_version_records_both_parts_weights_and_projections(sscd, vit) -> None:
    projections = background_projections(sscd, vit)
    raw = FusedDescriptor([FusionComponent(sscd), FusionComponent(vit)])
    assert VERSION_PATTERN.match(raw.version)
    assert raw.version.startswith("fused_") and sscd.version in raw.version and vit.version in raw.version
    versions = {
        raw.version,
        FusedDescriptor([FusionComponent(sscd), FusionComponent(vit, weight=0.5)]).version,
        FusedDescriptor([FusionComponent(sscd, projection=projections["sscd"]), FusionComponent(vit)]).version,
        FusedDescriptor([FusionComponent(sscd), FusionComponent(vit, projection=projections["vit"])]).version,
    }
    assert len(versions) == 4
    assert FusedDescriptor([FusionComponent(sscd), FusionComponent(vit)]).version == raw.version


def test_projection_digest_follows_the_numbers_not_the_file(tmp_path: Path) -> None:
    vectors = np.random.default_rng(1).normal(size=(20, 6))
    projection = projection_fit(vectors, dim=6)
    projection.save(tmp_path / "p.npz")
    assert Projection.load(tmp_path / "p.npz").digest() == projection.digest()
    assert projection_fit(vectors + 1, dim=6).digest() != projection.digest()


# ---------------------------------------------------------------- descriptor_build and the fusion directory


def test_build_fused_by_name_without_a_fusion_dir_uses_raw_parts(tiny_vit_dir: Path, tmp_path: Path) -> None:
    for fusion_dir in (None, str(tmp_path / "missing")):
        fused = descriptor_build(name="fused", vit_model=str(tiny_vit_dir), fusion_dir=fusion_dir, device="cpu")
        assert isinstance(fused, FusedDescriptor)
        assert fused.dim == 512 + TINY_HIDDEN
        assert all(component.projection is None for component in fused.components)
        assert_unit_rows(fused.embed([textured_image(1)]), fused.dim, 1)


def test_build_fused_reads_weights_and_projections_from_the_fusion_dir(
    sscd, vit, tiny_vit_dir, tmp_path, images
) -> None:
    projections = background_projections(sscd, vit, dims={"sscd": 30, "vit": 20})
    fusion_save(tmp_path, weights={"sscd": 1.0, "vit": 0.5}, projections=projections, fitted_on="textures")
    fused = descriptor_build(name="fused", vit_model=str(tiny_vit_dir), fusion_dir=str(tmp_path), device="cpu")
    assert [c.weight for c in fused.components] == [1.0, 0.5]
    assert fused.dim == 50
    by_hand = FusedDescriptor(
        [
            FusionComponent(sscd, weight=1.0, projection=projections["sscd"]),
            FusionComponent(vit, weight=0.5, projection=projections["vit"]),
        ]
    )
    assert fused.version == by_hand.version
    np.testing.assert_allclose(fused.embed(images), by_hand.embed(images), atol=1e-5)


def test_fusion_dir_errors_are_clear(tmp_path: Path, tiny_vit_dir: Path) -> None:
    (tmp_path / FUSION_CONFIG_FILE).write_text(json.dumps({"projections": {"vit": "vit.npz"}}))
    with pytest.raises(ValueError, match="does not exist"):
        fusion_config_read(tmp_path)
    (tmp_path / FUSION_CONFIG_FILE).write_text(json.dumps({"weights": {"clip": 1.0}}))
    with pytest.raises(ValueError, match="clip"):
        descriptor_build(name="fused", vit_model=str(tiny_vit_dir), fusion_dir=str(tmp_path), device="cpu")
    (tmp_path / FUSION_CONFIG_FILE).write_text(json.dumps({"weight": {"vit": 1.0}}))
    with pytest.raises(ValueError, match="unknown keys"):
        fusion_config_read(tmp_path)


@pytest.mark.parametrize("vit_model", [None, "/nonexistent/models/dinov2-s14"])
def test_fused_without_a_vit_tells_how_to_set_it_up(vit_model) -> None:
    with pytest.raises(ValueError, match="setup_vit"):
        descriptor_build(name="fused", vit_model=vit_model)


@pytest.mark.django_db
def test_fusion_fit_command_writes_a_loadable_fusion_dir(tiny_vit_dir: Path, tmp_path: Path) -> None:
    background = tmp_path / "background" / "nested"
    background.mkdir(parents=True)
    for seed in range(12):
        textured_image(200 + seed).save(background / f"b{seed}.png")
    out = tmp_path / "fusion"
    call_command(
        "fusion_fit",
        "--background",
        tmp_path / "background",
        "--out",
        out,
        "--vit-model",
        str(tiny_vit_dir),
        "--vit-weight",
        "0.5",
        "--limit",
        "10",
        "--whitening",
        "0.5",
    )
    config = fusion_config_read(out)
    assert config.weights == {"sscd": 1.0, "vit": 0.5} and set(config.projections) == {"sscd", "vit"}
    fused = descriptor_build(name="fused", vit_model=str(tiny_vit_dir), fusion_dir=str(out), device="cpu")
    assert fused.dim == 512 + TINY_HIDDEN
    assert_unit_rows(fused.embed([textured_image(3)]), fused.dim, 1)


# ---------------------------------------------------------------- which ViT model (workers.runtime)


def test_vit_model_resolve_prefers_an_existing_configured_model(tmp_path: Path) -> None:
    configured, fallback = tmp_path / "trained", tmp_path / "dinov2-s14"
    configured.mkdir()
    fallback.mkdir()
    assert vit_model_resolve(str(configured), fallback=fallback) == str(configured)


def test_vit_model_resolve_falls_back_to_the_setup_vit_export(tmp_path: Path) -> None:
    fallback = tmp_path / "dinov2-s14"
    fallback.mkdir()
    assert vit_model_resolve(str(tmp_path / "isc-vit-s14"), fallback=fallback) == str(fallback)
    assert vit_model_resolve("", fallback=fallback) == str(fallback)
    assert vit_model_resolve(None, fallback=fallback) == str(fallback)
    # A hub id is not a missing directory: it is passed on untouched.
    assert vit_model_resolve("facebook/dinov2-small", fallback=fallback) == "facebook/dinov2-small"


def test_vit_model_resolve_without_either_keeps_the_setup_error(tmp_path: Path) -> None:
    missing = str(tmp_path / "isc-vit-s14")
    resolved = vit_model_resolve(missing, fallback=tmp_path / "dinov2-s14")
    assert resolved == missing
    with pytest.raises(ValueError, match="setup_vit"):
        descriptor_build(name="vit", vit_model=resolved)
    assert vit_model_resolve(None, fallback=tmp_path / "dinov2-s14") is None


def test_runtime_builds_vit_from_the_fallback_when_the_trained_model_is_missing(
    settings, tmp_path, tiny_vit_dir
) -> None:
    import shutil

    from workers import runtime

    shutil.copytree(tiny_vit_dir, tmp_path / "models" / "dinov2-s14")
    settings.DATA_DIR = tmp_path
    settings.ISC = settings.ISC.replace(
        descriptor="vit", vit_model=str(tmp_path / "models" / "isc-vit-s14"), device="cpu"
    )
    runtime.engines_reset()
    try:
        descriptor = runtime.descriptor_get()
        assert descriptor.name == "vit" and descriptor.dim == TINY_HIDDEN
        assert runtime.vit_model_get() == str(tmp_path / "models" / "dinov2-s14")
    finally:
        runtime.engines_reset()
