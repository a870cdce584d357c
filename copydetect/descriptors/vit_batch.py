"""Throughput path of the ViT descriptor: encoded files → vectors, decoded and resized on the device.

On a CUDA worker with torchvision, JPEGs are decoded on the GPU (`torchvision.io.decode_jpeg`,
device="cuda"), resized there (bicubic with antialiasing, the tensor counterpart of Pillow's
resampling) and embedded in fp16 batches whose size is chosen from the free GPU memory. Elsewhere
(a CPU worker, a non-JPEG file, no torchvision) the file is decoded by Pillow and the rest runs the
same tensor code on the CPU, so both paths are measured against the Pillow path of
`VitDescriptor.embed` (scripts/bench_vit_throughput.py prints the agreement).

The stages are separate functions so the benchmark can time each one.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from copydetect.descriptors.base import IMAGENET_MEAN, IMAGENET_STD, image_to_rgb, l2_normalize

JPEG_MAGIC = b"\xff\xd8\xff"
MIN_BATCH = 8
MAX_BATCH = 1024
# Share of the free device memory a batch may take: the rest is headroom for the allocator and
# for other processes on the same GPU.
MEMORY_SHARE = 0.6
CPU_BATCH = 32


def batch_size_for_memory(
    *,
    free_bytes: int,
    bytes_per_image: int,
    share: float = MEMORY_SHARE,
    floor: int = MIN_BATCH,
    ceiling: int = MAX_BATCH,
) -> int:
    """The largest batch that fits `share` of the free memory, within [floor, ceiling]."""
    if bytes_per_image <= 0:
        raise ValueError("bytes_per_image must be positive")
    fitting = int(free_bytes * share) // bytes_per_image
    return max(floor, min(ceiling, fitting))


def torchvision_jpeg_decoder():
    """torchvision's decode_jpeg, or None where torchvision is missing or does not load (CPU torch
    with a CUDA torchvision wheel fails at import: operator torchvision::nms does not exist)."""
    try:
        from torchvision.io import ImageReadMode, decode_jpeg
    except (ImportError, RuntimeError):
        return None
    return lambda tensors, device: decode_jpeg(tensors, mode=ImageReadMode.RGB, device=device)


def encoded_decode(blobs: Sequence[bytes], *, device: torch.device) -> list[torch.Tensor]:
    """(3, H, W) uint8 tensors on `device`, in order: JPEGs on the GPU when possible, else Pillow."""
    decoder = torchvision_jpeg_decoder() if device.type == "cuda" else None
    decoded: list[torch.Tensor | None] = [None] * len(blobs)
    if decoder is not None:
        jpeg_positions = [i for i, blob in enumerate(blobs) if blob[:3] == JPEG_MAGIC]
        if jpeg_positions:
            tensors = [torch.frombuffer(bytearray(blobs[i]), dtype=torch.uint8) for i in jpeg_positions]
            for position, tensor in zip(jpeg_positions, decoder(tensors, device)):
                decoded[position] = tensor
    for position, blob in enumerate(blobs):
        if decoded[position] is None:
            decoded[position] = pil_decode(blob).to(device)
    return decoded


def pil_decode(blob: bytes) -> torch.Tensor:
    with Image.open(io.BytesIO(blob)) as image:
        array = np.asarray(image_to_rgb(image))
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))


def tensors_preprocess(
    images: Sequence[torch.Tensor],
    *,
    side: int,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> torch.Tensor:
    """(N, 3, side, side) float32 on the images' device: squashed to a square like the Pillow path."""
    resized = [
        F.interpolate(
            image.unsqueeze(0).float(), size=(side, side), mode="bicubic", antialias=True, align_corners=False
        )
        for image in images
    ]
    pixels = torch.cat(resized).clamp_(0.0, 255.0).round_().div_(255.0)
    device = pixels.device
    mean_t = torch.tensor(mean, dtype=torch.float32, device=device).view(1, 3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32, device=device).view(1, 3, 1, 1)
    return (pixels - mean_t) / std_t


def cuda_batch_size(forward, *, side: int, device: torch.device, probe: int = MIN_BATCH) -> int:
    """Measures the peak memory of one probe batch and sizes batches to the free memory."""
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    before = torch.cuda.memory_allocated(device)
    forward(torch.zeros((probe, 3, side, side), device=device))
    torch.cuda.synchronize(device)
    per_image = max(1, (torch.cuda.max_memory_allocated(device) - before) // probe)
    free, _total = torch.cuda.mem_get_info(device)
    return batch_size_for_memory(free_bytes=free, bytes_per_image=per_image)


def encoded_embed(
    blobs: Sequence[bytes],
    *,
    forward,
    side: int,
    device: torch.device,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
    batch_size: int | None = None,
) -> np.ndarray:
    """Unit vectors of encoded images; `forward` maps normalised pixels to raw features."""
    if batch_size is None:
        batch_size = cuda_batch_size(forward, side=side, device=device) if device.type == "cuda" else CPU_BATCH
    chunks = []
    for start in range(0, len(blobs), batch_size):
        images = encoded_decode(blobs[start : start + batch_size], device=device)
        chunks.append(forward(tensors_preprocess(images, side=side, mean=mean, std=std)))
    if not chunks:
        return np.zeros((0, 0), dtype=np.float32)
    return l2_normalize(np.concatenate(chunks))
