"""Training images: read from folders once, kept as one padded uint8 tensor, cut into random crops in batch.

Each image is decoded once, converted to RGB (transparency flattened onto a plain colour), resized so
its longer side is ``size`` (256) and stored top-left in a ``[N, 3, size, size]`` uint8 tensor with
its true height and width beside it. A batch is a single ``grid_sample`` over that tensor: a random
crop of each image (most of it, so that the crop is still "the image") squashed to a square, which
is what the inference path does with a whole image. The tensor can live on the GPU (5,000 images
take about 1 GB), so batches cost no host work.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

from copydetect.imaging import IMAGE_SUFFIXES

log = logging.getLogger(__name__)

MIN_SIDE = 32


def image_paths(dirs: Iterable[Path | str]) -> list[Path]:
    """All image files under the given folders, sorted, so a run sees the same order each time."""
    found: list[Path] = []
    for d in dirs:
        d = Path(d)
        if d.is_file() and d.suffix.lower() in IMAGE_SUFFIXES:
            found.append(d)
            continue
        found.extend(p for p in d.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    return sorted(set(found))


def _flatten_color(path: Path) -> tuple[int, int, int]:
    """A stable background for transparent images: mostly white, sometimes a colour (from the path)."""
    digest = hashlib.sha1(str(path.name).encode()).digest()
    if digest[0] < 160:
        return (255, 255, 255)
    return (digest[1], digest[2], digest[3])


def load_rgb(path: Path, size: int) -> np.ndarray | None:
    """The image as uint8 HWC RGB with its longer side `size` (never upscaled past 2×), or None if unusable."""
    try:
        with Image.open(path) as im:
            im.draft("RGB", (size, size))  # JPEG: decode at a reduced scale when possible
            im = ImageOps.exif_transpose(im)
            if im.mode in ("RGBA", "LA", "P", "PA"):
                im = im.convert("RGBA")
                background = Image.new("RGBA", im.size, _flatten_color(path) + (255,))
                im = Image.alpha_composite(background, im)
            im = im.convert("RGB")
            w, h = im.size
            if min(w, h) < MIN_SIDE // 2 or max(w, h) < MIN_SIDE:
                return None
            scale = size / max(w, h)
            nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
            if (nw, nh) != (w, h):
                im = im.resize((nw, nh), Image.Resampling.BILINEAR, reducing_gap=2.0)
            return np.asarray(im, dtype=np.uint8).copy()
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError) as exc:
        log.warning("skipping %s: %s", path, exc)
        return None


@dataclass
class ImageStore:
    """Decoded training images, padded into one tensor; `sizes[i]` is (height, width) of image i."""

    pixels: torch.Tensor  # uint8 [N, 3, S, S]
    sizes: torch.Tensor  # int64 [N, 2]
    paths: list[Path] = field(default_factory=list)
    _order: torch.Tensor | None = field(default=None, repr=False)
    _cursor: int = field(default=0, repr=False)

    @classmethod
    def from_dirs(cls, dirs: Sequence[Path | str], *, size: int = 256, threads: int = 8) -> ImageStore:
        paths = image_paths(dirs)
        if not paths:
            raise ValueError(f"no images found under {', '.join(map(str, dirs))}")
        with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
            arrays = list(pool.map(lambda p: load_rgb(p, size), paths))
        kept = [(p, a) for p, a in zip(paths, arrays) if a is not None]
        if not kept:
            raise ValueError("none of the images could be decoded")
        pixels = torch.zeros((len(kept), 3, size, size), dtype=torch.uint8)
        sizes = torch.zeros((len(kept), 2), dtype=torch.int64)
        for i, (_, a) in enumerate(kept):
            h, w = a.shape[:2]
            pixels[i, :, :h, :w] = torch.from_numpy(a).permute(2, 0, 1)
            sizes[i] = torch.tensor([h, w])
        log.info("loaded %d images (%d skipped) from %s", len(kept), len(paths) - len(kept), dirs)
        return cls(pixels=pixels, sizes=sizes, paths=[p for p, _ in kept])

    def __len__(self) -> int:
        return self.pixels.shape[0]

    @property
    def device(self) -> torch.device:
        return self.pixels.device

    def to(self, device: torch.device | str) -> ImageStore:
        self.pixels = self.pixels.to(device)
        self.sizes = self.sizes.to(device)
        return self

    def sample_indices(self, batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Indices for one batch, drawn epoch by epoch without replacement (no image twice in a batch)."""
        n = len(self)
        batch = min(batch, n)
        if self._order is None or self._cursor + batch > n:
            self._order = torch.randperm(n, generator=generator)
            self._cursor = 0
        idx = self._order[self._cursor : self._cursor + batch]
        self._cursor += batch
        return idx

    def crops(
        self,
        idx: torch.Tensor,
        *,
        out_size: int = 256,
        min_area: float = 0.6,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Random crops (area ≥ min_area of each image) resized to a square: float [B, 3, out, out] in [0, 1]."""
        idx = idx.to(self.device)
        b, s = idx.shape[0], self.pixels.shape[-1]
        src = self.pixels.index_select(0, idx).float().div_(255)
        hw = self.sizes.index_select(0, idx).float()
        rng_device = self.device if generator is None else generator.device
        u = torch.rand(b, 4, device=rng_device, generator=generator).to(self.device)
        area = min_area + (1 - min_area) * u[:, 0]
        aspect = torch.exp((u[:, 1] - 0.5) * 0.4)
        fw = torch.sqrt(area * aspect).clamp(max=1.0)  # crop width as a fraction of the image width
        fh = torch.sqrt(area / aspect).clamp(max=1.0)
        # the image occupies [-1, -1 + 2 h/s] × [-1, -1 + 2 w/s] of the padded square
        ext_h, ext_w = hw[:, 0] / s, hw[:, 1] / s
        cx = -1 + ext_w * (fw + (1 - fw) * 2 * u[:, 2])
        cy = -1 + ext_h * (fh + (1 - fh) * 2 * u[:, 3])
        zero = torch.zeros_like(cx)
        theta = torch.stack([torch.stack([ext_w * fw, zero, cx], 1), torch.stack([zero, ext_h * fh, cy], 1)], 1)
        grid = F.affine_grid(theta, [b, 3, out_size, out_size], align_corners=False)
        return F.grid_sample(src, grid, mode="bilinear", padding_mode="border", align_corners=False)


def read_manifests(dirs: Sequence[Path | str]) -> list[dict[str, str]]:
    """Rows of every manifest.csv found at the top of (or one level under) the image folders."""
    rows: list[dict[str, str]] = []
    for d in dirs:
        d = Path(d)
        for manifest in [d / "manifest.csv", *sorted(d.glob("*/manifest.csv"))]:
            if manifest.is_file():
                with manifest.open(newline="", encoding="utf-8") as fh:
                    rows.extend(csv.DictReader(fh))
    return rows
