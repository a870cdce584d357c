"""Fine-tunes a DINOv2 ViT into a copy-detection descriptor (the SSCD recipe, on the device, in batch).

    python -m copydetect.training.train --images data/train --out models/vit-sscd --minutes 8

(or `python manage.py train_descriptor …`, the same arguments). No Django here: the GPU machine runs
this module directly.

Recipe: two augmented views of each image of the batch (copydetect.training.augment), the backbone's CLS
token (after its final layer norm) → Linear(hidden, 256) → L2 normalisation; loss = InfoNCE over the
2B views (temperature 0.05; each view's positive is the other view of its image, the 2B − 2 others are
negatives) + λ · KoLeo (Sablayrolles et al. 2019, as in SSCD), which spreads descriptors over the
sphere by pushing up each one's distance to its nearest non-positive neighbour.

λ = 10: the starting point is collapsed (unrelated images at ~0.83 cosine with the raw DINOv2 CLS), so
a spreading term is needed from the first steps, but the batches here are small (hundreds of pairs,
not SSCD's thousands), where nearest neighbours are farther apart and the KoLeo term's value and
gradient are already larger per sample; SSCD's own ablation found a broad optimum, so we take the
low end rather than 30. It is a flag (--koleo-weight) and was not tuned on the held-out data.

Saved layout (what the `vit` descriptor loads):
    config.json, model.safetensors   Dinov2Model via save_pretrained, fp16 weights, config dtype float32
    preprocessor_config.json         BitImageProcessor: resize to image_size², no crop, ImageNet mean/std
    projection.safetensors           weight [256, hidden], bias [256]  (fp32)
    descriptor.json                  {"pooling": "cls", "image_size": 224, "version": "<name>-<hash>", "dim": 256}
    MODEL_CARD.md
Inference: pixel_values → Dinov2Model → last_hidden_state[:, 0] (= pooler_output) → projection → L2.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from copydetect.training.augment import AugmentConfig, augment_pair
from copydetect.training.config import TrainConfig, add_arguments, config_from_args, summary
from copydetect.training.data import ImageStore
from copydetect.training.evaluate import benchmark_evaluate, benchmark_evaluate_saved
from copydetect.training.losses import info_nce, koleo
from copydetect.training.model import DescriptorNet, backbone_load, model_save, normalisation_of
from copydetect.training.model_card import model_card_write

log = logging.getLogger(__name__)


def optimizer_build(net: DescriptorNet, cfg: TrainConfig) -> torch.optim.Optimizer:
    groups: dict[tuple[float, float], list[nn.Parameter]] = {}
    for name, p in net.named_parameters():
        if not p.requires_grad:
            continue
        lr = cfg.lr_head if name.startswith("projection.") else cfg.lr_backbone
        no_decay = p.ndim < 2 or "embeddings" in name  # biases, norms, layer scales, cls / pos tokens
        groups.setdefault((lr, 0.0 if no_decay else cfg.weight_decay), []).append(p)
    return torch.optim.AdamW(
        [{"params": ps, "lr": lr, "base_lr": lr, "weight_decay": wd} for (lr, wd), ps in groups.items()],
        betas=(0.9, 0.999),
    )


def lr_factor(step: int, progress: float, warmup: int) -> float:
    """Linear warm-up over `warmup` steps, then cosine to zero over the run (progress in [0, 1])."""
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * min(1.0, max(0.0, progress))))


# --- device helpers --------------------------------------------------------------------------------


def device_pick(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda asked for, but torch sees no CUDA device")
    return torch.device(name)


def hardware_describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (torch {torch.__version__}, {os.cpu_count()} CPU cores)"
    return f"CPU only: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads (torch {torch.__version__})"


def _normalise(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    return (x - mean) / std


# --- checkpoints -------------------------------------------------------------------------------------


def checkpoint_save(path: Path, net: DescriptorNet, opt: torch.optim.Optimizer, state: dict) -> None:
    path.mkdir(parents=True, exist_ok=True)
    tmp = path / "state.pt.tmp"
    torch.save({"model": net.state_dict(), "optimizer": opt.state_dict(), **state}, tmp)
    os.replace(tmp, path / "state.pt")


def checkpoint_load(path: Path, net: DescriptorNet, opt: torch.optim.Optimizer) -> dict | None:
    file = path / "state.pt"
    if not file.is_file():
        return None
    blob = torch.load(file, map_location="cpu", weights_only=False)
    net.load_state_dict(blob.pop("model"))
    opt.load_state_dict(blob.pop("optimizer"))
    return blob


# --- saving in the descriptor layout ----------------------------------------------------------------


def train(cfg: TrainConfig) -> dict:
    """Trains, saves the descriptor layout into cfg.out, evaluates if asked; returns the figures."""
    torch.manual_seed(cfg.seed)
    device = device_pick(cfg.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_dir = out / "checkpoint"

    store = ImageStore.from_dirs(cfg.images, size=cfg.store_size, threads=min(16, os.cpu_count() or 1))
    store.to(device)
    batch = min(cfg.batch_size, len(store))
    if batch < 2:
        raise ValueError("need at least 2 training images")
    mean, std = normalisation_of(cfg.init)
    mean_t = torch.tensor(mean, device=device).view(1, 3, 1, 1)
    std_t = torch.tensor(std, device=device).view(1, 3, 1, 1)

    net = DescriptorNet(backbone_load(cfg.init), dim=cfg.dim, pooling=cfg.pooling).to(device)
    opt = optimizer_build(net, cfg)
    aug = AugmentConfig(out_size=cfg.image_size, **cfg.augment)

    baseline = None
    if cfg.benchmark and cfg.baseline:
        net.eval()
        baseline = benchmark_evaluate(
            Path(cfg.benchmark), net.pool, size=cfg.image_size, mean=mean, std=std, device=device
        )
        log.info("baseline (raw CLS): %s", baseline)

    state = checkpoint_load(ckpt_dir, net, opt)
    resumed = state is not None
    step = state["step"] if state else 0
    elapsed = state["elapsed"] if state else 0.0
    history: list[float] = state["history"] if state else []
    if state and "rng" in state:
        torch.set_rng_state(state["rng"])
    if resumed:
        log.info("resumed from %s at step %d (%.1f s trained)", ckpt_dir, step, elapsed)

    warmup = cfg.warmup_steps if not cfg.steps else min(cfg.warmup_steps, max(1, cfg.steps // 5))
    budget = cfg.minutes * 60.0
    use_bf16 = device.type == "cuda"
    start_step = step
    timed_pairs, timed_seconds = 0, 0.0

    from tqdm import tqdm

    bar = tqdm(total=cfg.steps, initial=step, disable=not cfg.progress, unit="step", dynamic_ncols=True)
    net.train()
    while True:
        progress = elapsed / budget if budget > 0 else 1.0
        if cfg.steps:
            progress = max(progress, step / cfg.steps)
        if (cfg.steps and step >= cfg.steps) or elapsed >= budget:
            break
        t0 = time.perf_counter()
        factor = lr_factor(step, progress, warmup)
        for g in opt.param_groups:
            g["lr"] = g["base_lr"] * factor
        with torch.no_grad():
            idx = store.sample_indices(batch)
            base = store.crops(idx, out_size=cfg.store_size)
            v1, v2 = augment_pair(base, aug)
            x = _normalise(torch.cat([v1, v2]), mean_t, std_t)
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=use_bf16):
            z = net(x)
        z1, z2 = z[:batch], z[batch:]
        nce = info_nce(z1, z2, cfg.temperature)
        kol = koleo(z1, z2)
        loss = nce + cfg.koleo_weight * kol
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip)
        opt.step()
        loss_value = float(loss.detach())  # syncs the device, so the timing below is honest
        dt = time.perf_counter() - t0
        elapsed += dt
        step += 1
        history.append(loss_value)
        if step - start_step > 1:  # the first step carries one-off costs (allocations, kernels)
            timed_pairs += batch
            timed_seconds += dt
        bar.update(1)
        bar.set_postfix(
            loss=f"{loss_value:.3f}",
            nce=f"{float(nce.detach()):.3f}",
            koleo=f"{float(kol.detach()):.3f}",
            img_s=f"{2 * batch / dt:.0f}",
            lr=f"{factor * cfg.lr_backbone:.1e}",
        )
        if cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
            checkpoint_save(
                ckpt_dir, net, opt, {"step": step, "elapsed": elapsed, "history": history, "rng": torch.get_rng_state()}
            )
    bar.close()
    if cfg.keep_checkpoint and step > start_step:
        checkpoint_save(
            ckpt_dir, net, opt, {"step": step, "elapsed": elapsed, "history": history, "rng": torch.get_rng_state()}
        )

    net.eval()
    version = model_save(net, out, name=out.name, image_size=cfg.image_size, mean=mean, std=std)
    if not cfg.keep_checkpoint and ckpt_dir.exists():
        shutil.rmtree(ckpt_dir)

    if timed_seconds == 0 and step > start_step:
        timed_seconds, timed_pairs = elapsed, batch * (step - start_step)  # a one-step run
    chunk = max(1, len(history) // 20)
    stats = {
        "images": len(store),
        "batch_size": batch,
        "steps": step,
        "steps_this_run": step - start_step,
        "resumed": resumed,
        "seconds": elapsed,
        "pairs_per_s": timed_pairs / timed_seconds if timed_seconds else 0.0,
        "steps_per_s": (timed_pairs / batch) / timed_seconds if timed_seconds else 0.0,
        "hardware": hardware_describe(device),
        "precision": "bf16 autocast" if use_bf16 else "fp32",
        "warmup_steps": warmup,
        "loss_first": history[0] if history else float("nan"),
        "loss_last": float(np.mean(history[-chunk:])) if history else float("nan"),
        "loss_curve": [(i + chunk, float(np.mean(history[i : i + chunk]))) for i in range(0, len(history), chunk)],
        "version": version,
    }

    bench = None
    if cfg.benchmark:
        bench = benchmark_evaluate_saved(
            Path(cfg.benchmark), out, size=cfg.image_size, mean=mean, std=std, device=device
        )
        log.info("benchmark: %s", bench)
    model_card_write(out, cfg=cfg, version=version, stats=stats, bench=bench, baseline=baseline)
    stats.update(benchmark=bench, baseline=baseline, out=str(out))
    return stats


# --- command line ------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_arguments(parser)
    stats = train(config_from_args(parser.parse_args(argv)))
    print(summary(stats))
    print(json.dumps({k: v for k, v in stats.items() if k != "loss_curve"}, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
