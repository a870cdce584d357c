"""MODEL_CARD.md of a trained descriptor: recipe, data sources and licences, figures."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from copydetect.training.augment import AugmentConfig
from copydetect.training.config import TrainConfig
from copydetect.training.data import read_manifests


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


def model_card_write(
    out: Path, *, cfg: TrainConfig, version: str, stats: dict, bench: dict | None, baseline: dict | None
) -> None:
    loss_curve = stats.get("loss_curve", [])
    curve = ", ".join(f"{step}: {value:.3f}" for step, value in loss_curve)
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
        + (
            "`last_hidden_state[:, 0]` (CLS after the final layer norm)"
            if cfg.pooling == "cls"
            else "`0.5 · (last_hidden_state[:, 0] + mean of the patch tokens)`"
        )
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
        + (", resumed from a checkpoint" if stats.get("resumed") else "")
        + ")",
        f"- training time: {stats.get('seconds', 0) / 60:.2f} min (budget {cfg.minutes} min"
        + (f", cap {cfg.steps} steps" if cfg.steps else "")
        + ")",
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
