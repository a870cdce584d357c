"""What a training run is told: the TrainConfig, its command-line flags and the run summary."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

from copydetect.training.model import DEFAULT_INIT, POOLINGS


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
        images=list(d["images"]),
        out=d["out"],
        minutes=d["minutes"],
        init=d["init"],
        benchmark=d.get("benchmark"),
        batch_size=d["batch_size"],
        steps=d.get("steps"),
        device=d["device"],
        image_size=d["image_size"],
        store_size=d["store_size"],
        pooling=d["pooling"],
        koleo_weight=d["koleo_weight"],
        warmup_steps=d["warmup_steps"],
        checkpoint_every=d["checkpoint_every"],
        keep_checkpoint=d["keep_checkpoint"],
        baseline=not d["no_baseline"],
        seed=d["seed"],
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
