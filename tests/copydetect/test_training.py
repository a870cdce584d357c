"""Training a copy-detection descriptor: augmentations, data, loss, save/load, resume, the command.

All on CPU with a tiny random Dinov2 (hidden 32, 2 layers, 56 px, patch 14) and 16 synthetic images.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from copydetect.training.augment import AugmentConfig, augment_pair, jpeg_like
from copydetect.training.config import TrainConfig
from copydetect.training.data import ImageStore
from copydetect.training.losses import info_nce, koleo
from copydetect.training.model import DescriptorNet, model_load
from copydetect.training.train import lr_factor, train

SIZE = 56
TINY_TRAIN = dict(
    image_size=SIZE, store_size=64, batch_size=8, warmup_steps=2, progress=False, baseline=False, lr_backbone=1e-3
)


def _synthetic(i: int, rng: np.random.Generator) -> Image.Image:
    w, h = int(rng.integers(60, 100)), int(rng.integers(60, 100))
    base = tuple(int(c) for c in rng.integers(0, 255, 3))
    im = Image.new("RGB", (w, h), base)
    draw = ImageDraw.Draw(im)
    for _ in range(4):
        x0, y0 = int(rng.integers(0, w - 10)), int(rng.integers(0, h - 10))
        box = (x0, y0, x0 + int(rng.integers(8, 40)), y0 + int(rng.integers(8, 40)))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        (draw.ellipse if i % 2 else draw.rectangle)(box, fill=colour)
    return im


@pytest.fixture(scope="module")
def images_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("train")
    rng = np.random.default_rng(0)
    with open(root / "manifest.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "package", "licence"])
        for i in range(16):
            _synthetic(i, rng).save(root / f"img{i:02d}.png")
            writer.writerow([f"img{i:02d}.png", "synthetic", "CC0-1.0"])
    return root


@pytest.fixture(scope="module")
def tiny_init(tmp_path_factory) -> Path:
    from transformers import BitImageProcessor, Dinov2Config, Dinov2Model

    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("dinov2-tiny")
    config = Dinov2Config(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, image_size=SIZE, patch_size=14
    )
    Dinov2Model(config).save_pretrained(str(out))
    BitImageProcessor(image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225]).save_pretrained(str(out))
    return out


@pytest.fixture(scope="module")
def benchmark_dir(tmp_path_factory, images_dir) -> Path:
    root = tmp_path_factory.mktemp("bench")
    (root / "references").mkdir()
    (root / "queries").mkdir()
    rows = []
    for i, path in enumerate(sorted(images_dir.glob("*.png"))[:6]):
        im = Image.open(path).convert("RGB")
        im.save(root / "references" / f"R{i}.jpg")
        im.crop((4, 4, im.width - 4, im.height - 4)).save(root / "queries" / f"Q{i}.jpg")
        rows.append((f"Q{i}", f"R{i}" if i < 4 else ""))
    with open(root / "ground_truth.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([("query_id", "reference_id"), *rows])
    return root


# --- augmentations -------------------------------------------------------------------------------------


def test_augmentations_keep_shapes_and_ranges_and_follow_the_seed():
    torch.manual_seed(1)
    batch = torch.rand(6, 3, 64, 64)
    every_edit = AugmentConfig(
        out_size=SIZE,
        p_paste=1,
        p_text=1,
        p_sticker=1,
        p_blur=1,
        p_noise=1,
        p_pixelate=1,
        p_jpeg=1,
        p_gray=0.5,
        p_rotate=1,
    )
    torch.manual_seed(7)
    a, b = augment_pair(batch, every_edit)
    torch.manual_seed(7)
    a2, b2 = augment_pair(batch, every_edit)
    for view in (a, b):
        assert view.shape == (6, 3, SIZE, SIZE)
        assert view.dtype == torch.float32
        assert float(view.min()) >= 0.0 and float(view.max()) <= 1.0
        assert torch.isfinite(view).all()
    assert torch.equal(a, a2) and torch.equal(b, b2)
    assert not torch.allclose(a, b)  # the two views differ


def test_jpeg_like_is_close_at_high_quality_and_handles_odd_sizes():
    torch.manual_seed(0)
    smooth = torch.nn.functional.interpolate(torch.rand(2, 3, 3, 3), size=(45, 50), mode="bilinear")
    out = jpeg_like(smooth, 1.0, (95, 95))
    assert out.shape == smooth.shape
    assert float((out - smooth).abs().mean()) < 0.02
    rough = jpeg_like(smooth, 1.0, (5, 5))
    assert float((rough - smooth).abs().mean()) > float((out - smooth).abs().mean())


def test_image_store_crops(images_dir):
    store = ImageStore.from_dirs([images_dir], size=64, threads=2)
    assert len(store) == 16 and store.pixels.dtype == torch.uint8
    assert int(store.sizes.max()) == 64
    idx = store.sample_indices(10)
    assert len(set(idx.tolist())) == 10
    crops = store.crops(idx, out_size=48)
    assert crops.shape == (10, 3, 48, 48) and 0 <= float(crops.min()) and float(crops.max()) <= 1


# --- losses and schedule ---------------------------------------------------------------------------------


def test_losses_prefer_aligned_and_spread_embeddings():
    torch.manual_seed(0)
    z = torch.nn.functional.normalize(torch.randn(16, 32), dim=-1)
    noisy = torch.nn.functional.normalize(z + 0.05 * torch.randn_like(z), dim=-1)
    assert info_nce(z, noisy, 0.05) < info_nce(z, z.roll(1, 0), 0.05)
    collapsed = torch.nn.functional.normalize(torch.ones(16, 32) + 0.01 * torch.randn(16, 32), dim=-1)
    assert koleo(z, noisy) < koleo(collapsed, collapsed.roll(1, 0))
    assert lr_factor(0, 0.0, 10) == pytest.approx(0.1)
    assert lr_factor(10, 0.0, 10) == pytest.approx(1.0)
    assert lr_factor(50, 1.0, 10) == pytest.approx(0.0)


# --- training ----------------------------------------------------------------------------------------------


def test_loss_decreases_save_load_and_resume(images_dir, tiny_init, benchmark_dir, tmp_path):
    out = tmp_path / "tiny-model"
    cfg = TrainConfig(
        images=[str(images_dir)],
        out=str(out),
        init=str(tiny_init),
        minutes=5,
        steps=20,
        keep_checkpoint=True,
        checkpoint_every=10,
        benchmark=str(benchmark_dir),
        **TINY_TRAIN,
    )
    torch.manual_seed(0)
    stats = train(cfg)
    curve = [loss for _, loss in stats["loss_curve"]]
    assert stats["steps"] == 20
    assert np.mean(curve[-4:]) < np.mean(curve[:4]) - 0.1, curve

    files = sorted(p.name for p in out.iterdir())
    for name in (
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
        "descriptor.json",
        "projection.safetensors",
        "MODEL_CARD.md",
    ):
        assert name in files
    meta = json.loads((out / "descriptor.json").read_text())
    assert meta["pooling"] == "cls" and meta["image_size"] == SIZE
    assert meta["version"].startswith("tiny-model-") and len(meta["version"]) == len("tiny-model-") + 8
    card = (out / "MODEL_CARD.md").read_text()
    assert "synthetic" in card and "CC0-1.0" in card and "µAP" in card

    # transformers reads the fp16 weights back upcast; the processor loads through AutoImageProcessor
    from safetensors import safe_open
    from transformers import AutoImageProcessor, AutoModel

    with safe_open(str(out / "model.safetensors"), "pt") as fh:
        assert fh.get_tensor(next(iter(fh.keys()))).dtype == torch.float16
    assert next(AutoModel.from_pretrained(str(out)).parameters()).dtype == torch.float32
    processor = AutoImageProcessor.from_pretrained(str(out))
    pixels = processor(images=Image.new("RGB", (90, 60), "red"), return_tensors="pt")["pixel_values"]
    assert pixels.shape == (1, 3, SIZE, SIZE)

    net, _ = model_load(out)
    with torch.no_grad():
        z = net(pixels)
    assert z.shape == (1, 256) and math.isclose(float(z.norm()), 1.0, rel_tol=1e-5)

    # the production descriptor reads the same layout
    from copydetect.descriptors import descriptor_build

    descriptor = descriptor_build(name="vit", vit_model=str(out), device="cpu")
    vectors = descriptor.embed([Image.open(p) for p in sorted(images_dir.glob("*.png"))[:3]])
    assert vectors.shape == (3, 256)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert stats["benchmark"]["embedder"] == "copydetect.descriptors vit"
    assert 0.0 <= stats["benchmark"]["micro_ap"] <= 1.0

    # a later run resumes where the checkpoint left off
    assert (out / "checkpoint" / "state.pt").is_file()
    resumed = train(TrainConfig(**{**cfg.__dict__, "steps": 23, "benchmark": None, "keep_checkpoint": False}))
    assert resumed["resumed"] and resumed["steps"] == 23 and resumed["steps_this_run"] == 3
    assert not (out / "checkpoint").exists()


def test_cls_mean_pooling_and_time_budget(images_dir, tiny_init, tmp_path):
    out = tmp_path / "budget"
    stats = train(
        TrainConfig(
            images=[str(images_dir)], out=str(out), init=str(tiny_init), minutes=0.0, pooling="cls_mean", **TINY_TRAIN
        )
    )
    assert stats["steps"] == 0  # a zero budget still saves a usable model
    assert json.loads((out / "descriptor.json").read_text())["pooling"] == "cls_mean"
    net, _ = model_load(out)
    assert isinstance(net, DescriptorNet) and net.pooling == "cls_mean"


def test_command_runs_end_to_end(images_dir, tiny_init, tmp_path):
    from django.core.management import call_command

    out = tmp_path / "cmd-model"
    call_command(
        "train_descriptor",
        "--images",
        str(images_dir),
        "--out",
        str(out),
        "--init",
        str(tiny_init),
        "--minutes",
        "1",
        "--steps",
        "2",
        "--batch-size",
        "4",
        "--image-size",
        str(SIZE),
        "--store-size",
        "64",
        "--device",
        "cpu",
        "--no-progress",
    )
    meta = json.loads((out / "descriptor.json").read_text())
    assert meta["image_size"] == SIZE and (out / "projection.safetensors").is_file()
    assert "steps: 2" in (out / "MODEL_CARD.md").read_text()


def test_int8_init_pack_loads_close_to_the_original(tiny_init, tmp_path):
    from copydetect.training.model import backbone_load, init_pack

    packed = init_pack(tiny_init, tmp_path / "packed")
    original, restored = backbone_load(tiny_init).eval(), backbone_load(packed).eval()
    x = torch.randn(2, 3, SIZE, SIZE)
    with torch.no_grad():
        a, b = original(pixel_values=x).pooler_output, restored(pixel_values=x).pooler_output
    assert torch.allclose(a, b, atol=0.05)
