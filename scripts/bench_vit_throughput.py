"""Images/s of the ViT descriptor per stage (decode, preprocess, forward) on CPU, and on CUDA when present.

Usage: .venv/bin/python scripts/bench_vit_throughput.py [--model var/models/dinov2-s14] [--images DIR] [--n 256]

The model is the DINOv2-S/14 backbone that `manage.py setup_vit` extracts (or any `vit` model folder).
Without --images it encodes procedural 640×480 scenes as JPEG (quality 90). It prints, per device: the
batch size used (from free memory on CUDA), seconds and images/s of each stage, the end-to-end
`embed_encoded` rate, the Pillow path (`embed`) for comparison, and the cosine agreement of the two paths.
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from copydetect.benchmark.synthetic import textured_scene
from copydetect.descriptors.vit import VitDescriptor
from copydetect.descriptors.vit_batch import CPU_BATCH, cuda_batch_size, encoded_decode, tensors_preprocess


def blobs_load(folder: Path | None, n: int) -> list[bytes]:
    if folder is not None:
        paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})[:n]
        return [p.read_bytes() for p in paths]
    blobs = []
    for seed in range(n):
        buffer = io.BytesIO()
        textured_scene(seed).save(buffer, "JPEG", quality=90)
        blobs.append(buffer.getvalue())
    return blobs


def synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(device: torch.device, work):
    synchronise(device)
    started = time.perf_counter()
    result = work()
    synchronise(device)
    return result, time.perf_counter() - started


def bench_device(model: str, device_name: str, blobs: list[bytes]) -> None:
    descriptor = VitDescriptor(model=model, device=device_name)
    device = descriptor.device
    side = descriptor.square_side
    mean, std = descriptor.normalisation
    batch = cuda_batch_size(descriptor.pixels_forward, side=side, device=device) if device.type == "cuda" else CPU_BATCH
    descriptor.embed_encoded(blobs[:batch], batch_size=batch)  # warm-up: kernels, allocator
    stage_seconds = {"decode": 0.0, "preprocess": 0.0, "forward": 0.0}
    for start in range(0, len(blobs), batch):
        chunk = blobs[start : start + batch]
        images, seconds = timed(device, lambda chunk=chunk: encoded_decode(chunk, device=device))
        stage_seconds["decode"] += seconds
        pixels, seconds = timed(device, lambda images=images: tensors_preprocess(images, side=side, mean=mean, std=std))
        stage_seconds["preprocess"] += seconds
        _, seconds = timed(device, lambda pixels=pixels: descriptor.pixels_forward(pixels))
        stage_seconds["forward"] += seconds
    fast, fast_seconds = timed(device, lambda: descriptor.embed_encoded(blobs, batch_size=batch))
    pil_images = [Image.open(io.BytesIO(blob)) for blob in blobs]
    slow, slow_seconds = timed(device, lambda: descriptor.embed(pil_images, batch_size=batch))
    agreement = np.sum(fast * slow, axis=1)
    n = len(blobs)
    print(
        f"\n{descriptor.version} on {device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else 'CPU'})"
    )
    print(f"  images {n}, side {side} px, batch {batch}, torch threads {torch.get_num_threads()}")
    for stage, seconds in stage_seconds.items():
        print(f"  {stage:<11} {seconds:7.2f} s  {n / seconds:8.1f} images/s")
    print(f"  {'end to end':<11} {fast_seconds:7.2f} s  {n / fast_seconds:8.1f} images/s  (embed_encoded)")
    print(f"  {'pillow path':<11} {slow_seconds:7.2f} s  {n / slow_seconds:8.1f} images/s  (embed)")
    print(f"  cosine(encoded path, pillow path): min {agreement.min():.4f}, mean {agreement.mean():.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="var/models/dinov2-s14")
    parser.add_argument("--images", type=Path)
    parser.add_argument("--n", type=int, default=256)
    args = parser.parse_args()
    blobs = blobs_load(args.images, args.n)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    if not torch.cuda.is_available():
        print("no CUDA device here: CPU figures only (the CUDA path runs where torch sees a GPU)")
    for device in devices:
        bench_device(args.model, device, blobs)


if __name__ == "__main__":
    main()
