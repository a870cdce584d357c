"""The one interface every global descriptor follows, plus the preprocessing helpers they share."""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_HIGH_BIT_DEPTH_MODES = {"I", "I;16", "I;16B", "I;16L", "I;16N", "F"}


class Descriptor(ABC):
    """Images → unit-length float32 vectors, compared by inner product (= cosine).

    `version` names the exact weights + preprocessing: vectors from different versions must
    never share an index, so the vector store keys its collections on it.
    """

    name: str
    version: str
    dim: int
    metric: str = "IP"

    def embed(self, images: Sequence[Image.Image], *, batch_size: int = 32) -> np.ndarray:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
        if len(images) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        batches = [
            self._embed_batch([image_to_rgb(image) for image in images[start : start + batch_size]])
            for start in range(0, len(images), batch_size)
        ]
        return l2_normalize(np.concatenate(batches, axis=0))

    @abstractmethod
    def _embed_batch(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Raw (not necessarily normalised) features for RGB images, shape (len(images), dim)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.version} dim={self.dim}>"


def image_to_rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode in _HIGH_BIT_DEPTH_MODES:
        image = _high_bit_depth_to_l(image)
    # Same conversion as copydetect.imaging so that an image embeds identically whichever path it took.
    return image.convert("RGB")


def _high_bit_depth_to_l(image: Image.Image) -> Image.Image:
    # Pillow's own I/F → RGB conversion clips at 255 instead of rescaling, which whitens 16-bit images.
    values = np.asarray(image, dtype=np.float64)
    low, high = float(values.min()), float(values.max())
    scaled = (values - low) / (high - low) * 255.0 if high > low else np.zeros_like(values)
    return Image.fromarray(scaled.round().astype(np.uint8), mode="L")


def images_to_square_uint8(
    images: Sequence[Image.Image], side: int, *, resample: Image.Resampling = Image.Resampling.BICUBIC
) -> np.ndarray:
    """(N, side, side, 3) uint8 RGB; squashing rather than cropping keeps every pixel of the image."""
    return np.stack([np.asarray(image_to_rgb(image).resize((side, side), resample)) for image in images])


def images_to_normalised_nchw(
    images: Sequence[Image.Image],
    side: int,
    *,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> np.ndarray:
    """(N, 3, side, side) float32, scaled to [0, 1] then standardised per channel."""
    pixels = images_to_square_uint8(images, side).astype(np.float32) / 255.0
    pixels = (pixels - np.asarray(mean, dtype=np.float32)) / np.asarray(std, dtype=np.float32)
    return np.ascontiguousarray(pixels.transpose(0, 3, 1, 2))


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, np.finfo(np.float32).tiny)


def files_digest(paths: Iterable[Path], *, length: int = 10) -> str:
    """Short content hash of several files, in the order given."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode())
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()[:length]


def text_digest(text: str, *, length: int = 10) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def version_join(*parts: str) -> str:
    """Lower-case [a-z0-9_] only: version strings end up in vector-store collection names."""
    cleaned = (re.sub(r"[^a-z0-9]+", "_", part.lower()).strip("_") for part in parts)
    return "_".join(part for part in cleaned if part)
