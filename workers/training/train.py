"""Fine-tunes a DINOv2 ViT into a copy-detection descriptor (the SSCD recipe, on the device, in batch).

    python -m workers.training.train --images data/train --out models/vit-sscd --minutes 8

(or `python manage.py train_descriptor …`, the same arguments). No Django here: the GPU machine runs
this module directly.

Recipe: two augmented views of each image of the batch (workers.training.augment), the backbone's CLS
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
import csv
import hashlib
import json
import logging
import math
import os
import platform
import shutil
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from workers.training.augment import AugmentConfig, augment_pair
from workers.training.data import ImageStore, image_paths, read_manifests

log = logging.getLogger(__name__)

DEFAULT_INIT = "var/models/dinov2-s14"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
POOLINGS = ("cls", "cls_mean")


@dataclass
class TrainConfig:
    images: list[str]
    out: str
    minutes: float = 8.0
    init: str = DEFAULT_INIT
    benchmark: str | None = None
    batch_size: int = 256  # image pairs per step
    steps: int | None = None
    device: str = "auto"
    image_size: int = 224
    store_size: int = 256
    dim: int = 256
    pooling: str = "cls"
    temperature: float = 0.05
    koleo_weight: float = 10.0
    lr_backbone: float = 3e-5
    lr_head: float = 1e-3
    weight_decay: float = 0.05
    warmup_steps: int = 50
    grad_clip: float = 3.0
    checkpoint_every: int = 200
    keep_checkpoint: bool = False
    seed: int = 0
    baseline: bool = True  # also score the untrained backbone on the benchmark
    progress: bool = True
    augment: dict = field(default_factory=dict)  # overrides of AugmentConfig fields


# --- model ---------------------------------------------------------------------------------------

class DescriptorNet(nn.Module):
    """Backbone → pooled token → Linear(hidden, dim) → L2 normalisation."""

    def __init__(self, backbone: nn.Module, dim: int = 256, pooling: str = "cls"):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}")
        self.backbone = backbone
        self.pooling = pooling
        self.projection = nn.Linear(backbone.config.hidden_size, dim)

    def pool(self, pixel_values: torch.Tensor) -> torch.Tensor:
        tokens = self.backbone(pixel_values=pixel_values).last_hidden_state
        if self.pooling == "cls":
            return tokens[:, 0]
        return 0.5 * (tokens[:, 0] + tokens[:, 1:].mean(dim=1))

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.projection(self.pool(pixel_values)).float(), dim=-1)


INT8_FILE = "model_int8.safetensors"
SCALE_SUFFIX = ".__scale"


def backbone_load(init: str | Path) -> nn.Module:
    """Dinov2Model in fp32 from a save_pretrained folder, or from an int8 pack made by init_pack."""
    from transformers import Dinov2Config, Dinov2Model

    init = Path(init)
    if not (init / "config.json").is_file():
        raise FileNotFoundError(
            f"no transformers checkpoint at {init}: run `python manage.py setup_vit` (makes {DEFAULT_INIT}) "
            "or pass --init DIR"
        )
    if (init / INT8_FILE).is_file():
        from safetensors.torch import load_file

        packed = load_file(str(init / INT8_FILE))
        state = {}
        for name, t in packed.items():
            if name.endswith(SCALE_SUFFIX):
                continue
            scale = packed.get(name + SCALE_SUFFIX)
            state[name] = t.float() * scale.view(-1, *([1] * (t.ndim - 1))) if scale is not None else t.float()
        model = Dinov2Model(Dinov2Config.from_pretrained(str(init)))
        missing, unexpected = model.load_state_dict(state, strict=False)
        if unexpected or [m for m in missing if "mask_token" not in m]:
            raise ValueError(f"{init}: int8 pack does not fit the config ({missing}, {unexpected})")
        return model.float()
    return Dinov2Model.from_pretrained(str(init), dtype=torch.float32)


def init_pack(src: str | Path, dst: str | Path, *, int8: bool = True) -> Path:
    """A small copy of a start checkpoint to carry to the GPU machine: matrices as int8 with one fp32
    scale per output row (ViT-S: 22 MB instead of 88), the rest fp16. Round-off ~0.4 % of each row's
    largest weight; fine-tuning starts from it as from the original."""
    from safetensors.torch import save_file

    src, dst = Path(src), Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    model = backbone_load(src)
    packed = {}
    for name, t in model.state_dict().items():
        t = t.detach().float()
        if int8 and t.ndim >= 2:
            rows = t.reshape(t.shape[0], -1)
            scale = rows.abs().amax(dim=1).clamp(min=1e-12) / 127
            packed[name] = torch.round(rows / scale[:, None]).to(torch.int8).reshape(t.shape).contiguous()
            packed[name + SCALE_SUFFIX] = scale.contiguous()
        else:
            packed[name] = t.half().contiguous()
    save_file(packed, str(dst / INT8_FILE))
    model.config.save_pretrained(str(dst))
    if (src / "preprocessor_config.json").is_file():
        shutil.copy(src / "preprocessor_config.json", dst / "preprocessor_config.json")
    return dst


def normalisation_of(init: str | Path) -> tuple[tuple[float, ...], tuple[float, ...]]:
    path = Path(init) / "preprocessor_config.json"
    if path.is_file():
        cfg = json.loads(path.read_text())
        if "image_mean" in cfg and "image_std" in cfg:
            return tuple(cfg["image_mean"]), tuple(cfg["image_std"])
    return IMAGENET_MEAN, IMAGENET_STD


# --- losses --------------------------------------------------------------------------------------

def info_nce(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """InfoNCE over 2B unit vectors: each view's positive is the other view of its image."""
    z = torch.cat([z1, z2]).float()
    n = z1.shape[0]
    logits = z @ z.T / temperature
    logits.fill_diagonal_(float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(logits, target)


def koleo(z1: torch.Tensor, z2: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """KoLeo entropy estimate: −mean log(distance to the nearest neighbour that is not the positive)."""
    z = torch.cat([z1, z2]).float()
    n = z1.shape[0]
    sim = z @ z.T
    idx = torch.arange(2 * n, device=z.device)
    sim[idx, idx] = -2.0
    sim[idx, (idx + n) % (2 * n)] = -2.0
    nearest = sim.max(dim=1).values.clamp(max=1.0)
    distance = torch.sqrt((2 - 2 * nearest).clamp(min=0) + eps)
    return -torch.log(distance + eps).mean()


# --- optimisation ----------------------------------------------------------------------------------

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

def model_save(net: DescriptorNet, out: Path, *, name: str, image_size: int, mean, std) -> str:
    """Writes the inference files; returns the version string ("<name>-<8 hex of the weights>")."""
    from safetensors.torch import save_file
    from transformers import BitImageProcessor

    out.mkdir(parents=True, exist_ok=True)
    backbone = net.backbone
    state = {k: v.detach().to("cpu", torch.float16).contiguous() for k, v in backbone.state_dict().items()}
    backbone.save_pretrained(str(out), state_dict=state, safe_serialization=True)
    config_path = out / "config.json"
    config = json.loads(config_path.read_text())
    config["dtype"] = "float32"  # weights are stored in fp16; load them upcast unless asked otherwise
    config["image_size"] = image_size
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    BitImageProcessor(
        do_resize=True,
        size={"height": image_size, "width": image_size},
        resample=2,  # bilinear, as the training crops
        do_center_crop=False,
        crop_size={"height": image_size, "width": image_size},
        do_rescale=True,
        do_normalize=True,
        image_mean=list(mean),
        image_std=list(std),
        do_convert_rgb=True,
    ).save_pretrained(str(out))
    proj = net.projection
    save_file(
        {"weight": proj.weight.detach().float().cpu().contiguous(), "bias": proj.bias.detach().float().cpu().contiguous()},
        str(out / "projection.safetensors"),
    )
    digest = hashlib.sha256()
    for f in sorted(out.glob("*.safetensors")):
        with f.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    version = f"{name}-{digest.hexdigest()[:8]}"
    (out / "descriptor.json").write_text(
        json.dumps({"pooling": net.pooling, "image_size": image_size, "version": version, "dim": proj.out_features}, indent=2)
        + "\n"
    )
    return version


def model_load(out: Path | str, device: torch.device | str = "cpu") -> tuple[DescriptorNet, dict]:
    """Reads the saved layout back (fp32) — what the `vit` descriptor does — for evaluation and tests."""
    from safetensors.torch import load_file
    from transformers import Dinov2Model

    out = Path(out)
    meta = json.loads((out / "descriptor.json").read_text())
    backbone = Dinov2Model.from_pretrained(str(out), dtype=torch.float32)
    proj = load_file(str(out / "projection.safetensors"))
    net = DescriptorNet(backbone, dim=proj["weight"].shape[0], pooling=meta["pooling"])
    net.projection.load_state_dict(proj)
    return net.to(device).eval(), meta


# --- benchmark ---------------------------------------------------------------------------------------

def _pil_batch(paths: Sequence[Path], size: int, mean, std) -> torch.Tensor:
    from PIL import Image

    arrays = []
    for p in paths:
        with Image.open(p) as im:
            im = im.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
            arrays.append(np.asarray(im, dtype=np.float32) / 255.0)
    x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)
    return (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)


@torch.no_grad()
def embed_paths(
    fn: Callable[[torch.Tensor], torch.Tensor], paths: Sequence[Path], *, size: int, mean, std,
    device: torch.device, batch: int = 64,
) -> np.ndarray:
    out = []
    for i in range(0, len(paths), batch):
        x = _pil_batch(paths[i : i + batch], size, mean, std).to(device)
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=device.type == "cuda"):
            out.append(F.normalize(fn(x).float(), dim=-1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 1), np.float32)


def ground_truth_read(path: Path) -> list[tuple[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        return []
    cols = list(rows[0].keys())
    qcol = next(c for c in cols if "query" in c.lower())
    rcol = next(c for c in cols if "ref" in c.lower())
    return [(Path(r[qcol]).stem, Path(r[rcol]).stem) for r in rows if r.get(rcol)]


def metrics_compute(preds: list[tuple[str, str, float]], gt_pairs: list[tuple[str, str]]) -> dict:
    """µAP and recall@P90 (DISC21 definitions) from search.metrics, which imports only numpy."""
    from search.metrics import Prediction, matching_evaluate

    result = matching_evaluate(
        predictions=[Prediction(query_id=q, reference_id=r, score=s) for q, r, s in preds], ground_truth=gt_pairs
    )
    return {"micro_ap": float(result.micro_ap), "recall_at_p90": float(result.recall_at_p90),
            "metrics": "search.metrics.matching_evaluate"}


def benchmark_evaluate(
    bench: Path, fn: Callable[[torch.Tensor], torch.Tensor], *, size: int, mean, std, device: torch.device,
    top_k: int = 10,
) -> dict:
    """Exact k-NN of every query among the references (cosine = −L2 order on unit vectors), then µAP."""
    return _evaluate_with(
        bench, lambda paths: embed_paths(fn, paths, size=size, mean=mean, std=std, device=device), top_k
    )


def benchmark_evaluate_saved(bench: Path, out: Path, *, size: int, mean, std, device: torch.device) -> dict:
    """Scores what was saved, not what is in memory: through the production `vit` descriptor when it
    imports (Django-free), else through model_load with the same preprocessing."""
    try:
        from PIL import Image

        from workers.descriptors import descriptor_build

        descriptor = descriptor_build(name="vit", vit_model=str(out), device=device.type)

        def fn_paths(paths: Sequence[Path]) -> np.ndarray:
            vectors = []
            for i in range(0, len(paths), 64):
                images = []
                for p in paths[i : i + 64]:
                    with Image.open(p) as im:
                        images.append(im.convert("RGB"))
                vectors.append(descriptor.embed(images, batch_size=64))
            return np.concatenate(vectors).astype(np.float32)

        embedder = "workers.descriptors vit"
    except ImportError as exc:
        log.info("vit descriptor not importable (%s); evaluating with model_load", exc)
        evaluated, _ = model_load(out, device)

        def fn_paths(paths: Sequence[Path]) -> np.ndarray:
            return embed_paths(evaluated, paths, size=size, mean=mean, std=std, device=device)

        embedder = "workers.training.train.model_load"
    result = _evaluate_with(bench, fn_paths)
    result["embedder"] = embedder
    return result


def _evaluate_with(bench: Path, fn_paths: Callable[[Sequence[Path]], np.ndarray], top_k: int = 10) -> dict:
    refs = image_paths([bench / "references"])
    queries = image_paths([bench / "queries"])
    gt = ground_truth_read(bench / "ground_truth.csv")
    r, q = fn_paths(refs), fn_paths(queries)
    sims = q @ r.T
    k = min(top_k, len(refs))
    top = np.argsort(-sims, axis=1)[:, :k]
    preds = [(queries[i].stem, refs[j].stem, float(sims[i, j])) for i in range(len(queries)) for j in top[i]]
    result = metrics_compute(preds, gt)
    result.update(references=len(refs), queries=len(queries), positives=len(set(gt)))
    return result


# --- model card ------------------------------------------------------------------------------------------

def _sources_table(dirs: Sequence[str], n_images: int) -> str:
    rows = read_manifests(dirs)
    if not rows:
        return f"- {n_images} images from {', '.join(dirs)} (no manifest.csv found, licences unknown)\n"
    count: Counter[str] = Counter()
    licences: dict[str, set[str]] = {}
    for row in rows:
        pkg = row.get("package") or row.get("source") or "?"
        count[pkg] += 1
        licences.setdefault(pkg, set()).add((row.get("licence") or row.get("license") or "unknown").strip())
    lines = ["| source | images | licence(s) |", "| --- | ---: | --- |"]
    for pkg, n in count.most_common():
        lines.append(f"| {pkg} | {n} | {'; '.join(sorted(licences[pkg]))[:200]} |")
    return "\n".join(lines) + f"\n\n{n_images} images were decoded for training ({len(rows)} manifest rows).\n"


def model_card_write(out: Path, *, cfg: TrainConfig, version: str, stats: dict, bench: dict | None,
                     baseline: dict | None) -> None:
    loss_curve = stats.get("loss_curve", [])
    curve = ", ".join(f"{s}: {l:.3f}" for s, l in loss_curve)
    aug = AugmentConfig(**cfg.augment)
    lines = [
        f"# Copy-detection descriptor `{version}`",
        "",
        "A DINOv2 ViT fine-tuned for image copy detection with the SSCD objective "
        "(Pizzi et al. 2022, *A Self-Supervised Descriptor for Image Copy Detection*).",
        "",
        "## Use",
        "",
        f"Resize the whole image to {cfg.image_size}×{cfg.image_size} (bilinear, no crop), ImageNet normalisation "
        "(`preprocessor_config.json`), `Dinov2Model` → "
        + ("`last_hidden_state[:, 0]` (CLS after the final layer norm)" if cfg.pooling == "cls"
           else "`0.5 · (last_hidden_state[:, 0] + mean of the patch tokens)`")
        + f" → `projection.safetensors` (Linear to {cfg.dim}) → L2 normalisation. Compare with cosine / L2.",
        "",
        "## Training data",
        "",
        _sources_table(cfg.images, stats.get("images", 0)),
        "Every training image was deduplicated by perceptual hash against the benchmark photo pool when "
        "the fetch script was given `--exclude-like`; held-out evaluation packages (see NOTES.md) were never used.",
        "",
        "## Recipe",
        "",
        f"- init: `{cfg.init}`; pooling `{cfg.pooling}`; projection to {cfg.dim}, L2-normalised",
        f"- two views per image, made on the device: resized crops (area {aug.crop_scale[0]}–{aug.crop_scale[1]}), "
        f"flips, rotations ±{aug.max_degrees}°, colour jitter, grayscale, pasting onto another image, text strips, "
        "stickers, gaussian blur, noise, pixelisation, JPEG-like DCT quantisation",
        f"- loss: InfoNCE (temperature {cfg.temperature}) + {cfg.koleo_weight} × KoLeo",
        f"- AdamW: backbone lr {cfg.lr_backbone}, head lr {cfg.lr_head}, weight decay {cfg.weight_decay}; "
        f"{stats.get('warmup_steps')} warm-up steps then cosine; grad clip {cfg.grad_clip}",
        f"- batch {stats.get('batch_size')} pairs; {stats.get('precision')}",
        "",
        "## Run",
        "",
        f"- steps: {stats.get('steps')} ({stats.get('steps_this_run')} in the last run"
        + (", resumed from a checkpoint" if stats.get("resumed") else "") + ")",
        f"- training time: {stats.get('seconds', 0) / 60:.2f} min (budget {cfg.minutes} min"
        + (f", cap {cfg.steps} steps" if cfg.steps else "") + ")",
        f"- throughput: {stats.get('pairs_per_s', 0):.1f} pairs/s = {2 * stats.get('pairs_per_s', 0):.1f} images/s "
        f"({stats.get('steps_per_s', 0):.3f} steps/s)",
        f"- hardware: {stats.get('hardware')}",
        f"- loss: first {stats.get('loss_first', float('nan')):.4f}, last {stats.get('loss_last', float('nan')):.4f}",
        f"- loss curve (step: mean loss): {curve}",
        "",
        "## Benchmark",
        "",
    ]
    if bench:
        lines += [
            f"`{cfg.benchmark}`: {bench['references']} references, {bench['queries']} queries, "
            f"{bench['positives']} ground-truth pairs; exact nearest neighbours (top 10 per query), "
            f"metrics from {bench['metrics']}.",
            "",
            "| model | µAP | recall@P90 |",
            "| --- | ---: | ---: |",
        ]
        if baseline:
            lines.append(f"| init backbone, raw CLS | {baseline['micro_ap']:.4f} | {baseline['recall_at_p90']:.4f} |")
        lines.append(f"| this model | {bench['micro_ap']:.4f} | {bench['recall_at_p90']:.4f} |")
    else:
        lines.append("Not evaluated (no --benchmark given).")
    lines.append("")
    (out / "MODEL_CARD.md").write_text("\n".join(lines))


# --- the loop ------------------------------------------------------------------------------------------

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
            loss=f"{loss_value:.3f}", nce=f"{float(nce.detach()):.3f}", koleo=f"{float(kol.detach()):.3f}",
            img_s=f"{2 * batch / dt:.0f}", lr=f"{factor * cfg.lr_backbone:.1e}",
        )
        if cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
            checkpoint_save(ckpt_dir, net, opt, {"step": step, "elapsed": elapsed, "history": history,
                                                 "rng": torch.get_rng_state()})
    bar.close()
    if cfg.keep_checkpoint and step > start_step:
        checkpoint_save(ckpt_dir, net, opt, {"step": step, "elapsed": elapsed, "history": history,
                                             "rng": torch.get_rng_state()})

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
        bench = benchmark_evaluate_saved(Path(cfg.benchmark), out, size=cfg.image_size, mean=mean, std=std,
                                         device=device)
        log.info("benchmark: %s", bench)
    model_card_write(out, cfg=cfg, version=version, stats=stats, bench=bench, baseline=baseline)
    stats.update(benchmark=bench, baseline=baseline, out=str(out))
    return stats


# --- command line ------------------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--images", nargs="+", required=True, help="folders of training images")
    parser.add_argument("--out", required=True, help="output folder (models/NAME)")
    parser.add_argument("--minutes", type=float, default=8.0, help="training time budget")
    parser.add_argument("--benchmark", default=None, help="folder with references/, queries/, ground_truth.csv")
    parser.add_argument("--init", default=DEFAULT_INIT, help="transformers Dinov2Model folder to start from")
    parser.add_argument("--batch-size", type=int, default=256, help="image pairs per step")
    parser.add_argument("--steps", type=int, default=None, help="stop after this many steps")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--store-size", type=int, default=256, help="longer side of the stored images")
    parser.add_argument("--pooling", choices=POOLINGS, default="cls")
    parser.add_argument("--koleo-weight", type=float, default=10.0)
    parser.add_argument("--warmup-steps", type=int, default=50)
    parser.add_argument("--checkpoint-every", type=int, default=200)
    parser.add_argument("--keep-checkpoint", action="store_true", help="leave out/checkpoint after the run")
    parser.add_argument("--no-baseline", action="store_true", help="skip scoring the untrained backbone")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true")


def config_from_args(ns: argparse.Namespace | dict) -> TrainConfig:
    d = vars(ns) if isinstance(ns, argparse.Namespace) else dict(ns)
    return TrainConfig(
        images=list(d["images"]), out=d["out"], minutes=d["minutes"], init=d["init"], benchmark=d.get("benchmark"),
        batch_size=d["batch_size"], steps=d.get("steps"), device=d["device"], image_size=d["image_size"],
        store_size=d["store_size"], pooling=d["pooling"], koleo_weight=d["koleo_weight"],
        warmup_steps=d["warmup_steps"], checkpoint_every=d["checkpoint_every"],
        keep_checkpoint=d["keep_checkpoint"], baseline=not d["no_baseline"], seed=d["seed"],
        progress=not d["no_progress"],
    )


def summary(stats: dict) -> str:
    lines = [
        f"saved {stats['version']} to {stats['out']}",
        f"steps {stats['steps']} ({stats['steps_this_run']} this run), {stats['seconds']:.1f} s, "
        f"{2 * stats['pairs_per_s']:.1f} images/s, loss {stats['loss_first']:.4f} → {stats['loss_last']:.4f}",
    ]
    for label in ("baseline", "benchmark"):
        b = stats.get(label)
        if b:
            lines.append(f"{label}: µAP {b['micro_ap']:.4f}, recall@P90 {b['recall_at_p90']:.4f}")
    return "\n".join(lines)


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
