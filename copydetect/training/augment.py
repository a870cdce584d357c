"""Batched copy-detection augmentations made with torch ops on whatever device the batch lives on.

Every function takes a float batch ``[B, 3, H, W]`` in [0, 1] and returns one of the same kind; each
sample draws its own parameters, and a per-sample mask decides whether an edit applies at all, so a
whole batch is edited with a handful of kernels (no Python loop over images). Randomness comes from
the ``generator`` argument, or from torch's global RNG when it is None, so ``torch.manual_seed``
makes the output reproducible.

The edits imitate what DISC21 queries were made with (AugLy): crops, flips, rotations, colour
changes, grayscale, blur, JPEG, pixelisation, noise, pasting the image small onto another one, text
and emoji / sticker overlays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

Tensor = torch.Tensor


@dataclass(frozen=True)
class AugmentConfig:
    out_size: int = 224
    crop_scale: tuple[float, float] = (0.1, 1.0)  # area of the crop, as a fraction of the image
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    p_flip: float = 0.5
    p_rotate: float = 0.25
    max_degrees: float = 15.0
    p_paste: float = 0.15  # paste this view, small, onto another image of the batch
    paste_scale: tuple[float, float] = (0.3, 0.75)
    p_color: float = 0.8
    brightness: float = 0.4
    contrast: float = 0.4
    saturation: float = 0.4
    hue: float = 0.1  # fraction of a full turn
    p_gray: float = 0.1
    p_text: float = 0.2
    p_sticker: float = 0.2
    p_blur: float = 0.25
    blur_sigma: tuple[float, float] = (0.3, 3.0)  # in pixels of the output
    p_noise: float = 0.1
    noise_std: float = 0.06
    p_pixelate: float = 0.1
    p_jpeg: float = 0.3
    jpeg_quality: tuple[int, int] = (10, 80)


def _rand(n: int, device, generator) -> Tensor:
    return torch.rand(n, device=device, generator=generator)


def _uniform(n: int, low: float, high: float, device, generator) -> Tensor:
    return low + (high - low) * _rand(n, device, generator)


def _mask(n: int, p: float, device, generator) -> Tensor:
    return _rand(n, device, generator) < p


def _col(v: Tensor) -> Tensor:
    return v.view(-1, 1, 1, 1)


# --- geometry -----------------------------------------------------------------------------------


def random_resized_crop(images: Tensor, cfg: AugmentConfig, generator: torch.Generator | None = None) -> Tensor:
    """Crop (area and aspect ratio drawn per sample), flip, rotate, resize to out_size: one grid_sample."""
    b, device = images.shape[0], images.device
    area = _uniform(b, *cfg.crop_scale, device, generator)
    log_ratio = _uniform(b, math.log(cfg.crop_ratio[0]), math.log(cfg.crop_ratio[1]), device, generator)
    ratio = torch.exp(log_ratio)
    # half extents in normalised coordinates ([-1, 1] spans the image)
    half_w = torch.sqrt(area * ratio).clamp(max=1.0)
    half_h = torch.sqrt(area / ratio).clamp(max=1.0)
    cx = (1 - half_w) * (2 * _rand(b, device, generator) - 1)
    cy = (1 - half_h) * (2 * _rand(b, device, generator) - 1)
    flip = torch.where(_mask(b, cfg.p_flip, device, generator), -1.0, 1.0)
    angle = torch.where(
        _mask(b, cfg.p_rotate, device, generator),
        _uniform(b, -cfg.max_degrees, cfg.max_degrees, device, generator) * math.pi / 180,
        torch.zeros(b, device=device),
    )
    cos, sin = torch.cos(angle), torch.sin(angle)
    sx, sy = half_w * flip, half_h
    theta = torch.stack(
        [
            torch.stack([cos * sx, -sin * sy, cx], dim=1),
            torch.stack([sin * sx, cos * sy, cy], dim=1),
        ],
        dim=1,
    )
    size = (b, images.shape[1], cfg.out_size, cfg.out_size)
    grid = F.affine_grid(theta.to(images.dtype), size, align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def paste_onto_other(
    images: Tensor, p: float, scale: tuple[float, float], generator: torch.Generator | None = None
) -> Tensor:
    """With probability p, shrinks the sample and pastes it at a random place on another sample."""
    b, device = images.shape[0], images.device
    if b < 2:
        return images
    apply = _mask(b, p, device, generator)
    if not bool(apply.any()):
        return images
    background = images.roll(1, dims=0)
    s = _uniform(b, *scale, device, generator)
    # keep the aspect ratio a little free, as overlay_onto_background does
    sx = s * _uniform(b, 0.8, 1.2, device, generator).clamp(max=1.0)
    sy = s * _uniform(b, 0.8, 1.2, device, generator).clamp(max=1.0)
    tx = (1 - sx) * (2 * _rand(b, device, generator) - 1)
    ty = (1 - sy) * (2 * _rand(b, device, generator) - 1)
    zero = torch.zeros_like(sx)
    # output point u maps to source point (u - t) / s
    theta = torch.stack([torch.stack([1 / sx, zero, -tx / sx], 1), torch.stack([zero, 1 / sy, -ty / sy], 1)], 1).to(
        images.dtype
    )
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    with_alpha = torch.cat([images, torch.ones_like(images[:, :1])], dim=1)
    pasted = F.grid_sample(with_alpha, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    alpha = pasted[:, 3:]
    composed = pasted[:, :3] + (1 - alpha) * background
    return torch.where(_col(apply), composed, images)


# --- colour ---------------------------------------------------------------------------------------

_GRAY = (0.299, 0.587, 0.114)


def _gray(images: Tensor) -> Tensor:
    w = torch.tensor(_GRAY, device=images.device, dtype=images.dtype).view(1, 3, 1, 1)
    return (images * w).sum(dim=1, keepdim=True)


def color_jitter(images: Tensor, cfg: AugmentConfig, generator: torch.Generator | None = None) -> Tensor:
    b, device = images.shape[0], images.device
    apply = _col(_mask(b, cfg.p_color, device, generator))
    bright = _col(_uniform(b, 1 - cfg.brightness, 1 + cfg.brightness, device, generator))
    contrast = _col(_uniform(b, 1 - cfg.contrast, 1 + cfg.contrast, device, generator))
    sat = _col(_uniform(b, 1 - cfg.saturation, 1 + cfg.saturation, device, generator))
    hue = _uniform(b, -cfg.hue, cfg.hue, device, generator) * 2 * math.pi
    out = images * bright
    mean = _gray(out).mean(dim=(2, 3), keepdim=True)
    out = (out - mean) * contrast + mean
    gray = _gray(out)
    out = gray + (out - gray) * sat
    out = _hue_rotate(out, hue)
    return torch.where(apply, out.clamp(0, 1), images)


def _hue_rotate(images: Tensor, angle: Tensor) -> Tensor:
    """Rotates the chroma plane of YIQ by a per-sample angle (a cheap hue shift)."""
    to_yiq = torch.tensor(
        [[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]],
        device=images.device,
        dtype=images.dtype,
    )
    from_yiq = torch.linalg.inv(to_yiq.float()).to(images.dtype)
    cos, sin = torch.cos(angle).to(images.dtype), torch.sin(angle).to(images.dtype)
    one, zero = torch.ones_like(cos), torch.zeros_like(cos)
    rot = torch.stack(
        [torch.stack([one, zero, zero], 1), torch.stack([zero, cos, -sin], 1), torch.stack([zero, sin, cos], 1)], 1
    )
    matrix = from_yiq @ rot @ to_yiq  # [B, 3, 3]
    return torch.einsum("bij,bjhw->bihw", matrix, images)


def grayscale(images: Tensor, p: float, generator: torch.Generator | None = None) -> Tensor:
    apply = _col(_mask(images.shape[0], p, images.device, generator))
    return torch.where(apply, _gray(images).expand_as(images), images)


# --- overlays ---------------------------------------------------------------------------------------


def _coords(b: int, h: int, w: int, device, dtype) -> tuple[Tensor, Tensor]:
    ys = torch.linspace(-1 + 1 / h, 1 - 1 / h, h, device=device, dtype=dtype).view(1, 1, h, 1)
    xs = torch.linspace(-1 + 1 / w, 1 - 1 / w, w, device=device, dtype=dtype).view(1, 1, 1, w)
    return ys.expand(b, 1, h, w), xs.expand(b, 1, h, w)


def _random_colors(b: int, device, generator) -> Tensor:
    return torch.rand(b, 3, 1, 1, device=device, generator=generator)


def text_strips(images: Tensor, p: float, generator: torch.Generator | None = None) -> Tensor:
    """Draws a caption-like strip: a band (sometimes transparent) of glyph-like blocks in a random colour."""
    b, _, h, w = images.shape
    device, dtype = images.device, images.dtype
    apply = _mask(b, p, device, generator)
    if not bool(apply.any()):
        return images
    half_h = _uniform(b, 0.04, 0.12, device, generator)
    half_w = _uniform(b, 0.3, 1.0, device, generator)
    cy = (1 - half_h) * (2 * _rand(b, device, generator) - 1)
    cx = (1 - half_w) * (2 * _rand(b, device, generator) - 1)
    # glyphs: a coarse random binary texture (rows of "letters" with gaps) stretched over the band
    rows, cols = 3, 48
    glyphs = (torch.rand(b, 1, rows, cols, device=device, generator=generator) < 0.45).to(dtype)
    word_gaps = (torch.rand(b, 1, 1, cols, device=device, generator=generator) < 0.8).to(dtype)
    glyphs = glyphs * word_gaps
    glyphs = F.pad(glyphs, (1, 1, 1, 1))
    zero = torch.zeros_like(cx)
    theta = torch.stack(
        [torch.stack([1 / half_w, zero, -cx / half_w], 1), torch.stack([zero, 1 / half_h, -cy / half_h], 1)], 1
    ).to(dtype)
    grid = F.affine_grid(theta, [b, 1, h, w], align_corners=False)
    text = F.grid_sample(glyphs, grid, mode="nearest", padding_mode="zeros", align_corners=False)
    band = F.grid_sample(torch.ones_like(glyphs), grid, mode="nearest", padding_mode="zeros", align_corners=False)
    band_alpha = _col(torch.where(_rand(b, device, generator) < 0.5, _uniform(b, 0.6, 1.0, device, generator), 0.0))
    band_color = _random_colors(b, device, generator)
    text_color = 1 - band_color  # contrasting, like most captions
    out = images * (1 - band * band_alpha) + band_color * band * band_alpha
    out = out * (1 - text) + text_color * text
    return torch.where(_col(apply), out, images)


def stickers(images: Tensor, p: float, generator: torch.Generator | None = None) -> Tensor:
    """Pastes a random shape (disc, blob, star, rectangle) filled with a flat colour or another image."""
    b, _, h, w = images.shape
    device, dtype = images.device, images.dtype
    apply = _mask(b, p, device, generator)
    if not bool(apply.any()):
        return images
    ys, xs = _coords(b, h, w, device, dtype)
    radius = _col(_uniform(b, 0.1, 0.35, device, generator))
    cy = _col(_uniform(b, -0.8, 0.8, device, generator))
    cx = _col(_uniform(b, -0.8, 0.8, device, generator))
    dy, dx = ys - cy, xs - cx
    r = torch.sqrt(dx * dx + dy * dy)
    phi = torch.atan2(dy, dx)
    lobes = _col(torch.randint(0, 7, (b,), device=device, generator=generator).to(dtype))
    depth = _col(_uniform(b, 0.0, 0.45, device, generator))
    spin = _col(_uniform(b, 0, 2 * math.pi, device, generator))
    blob = r < radius * (1 + depth * torch.cos(lobes * phi + spin))
    rect = (dx.abs() < radius) & (dy.abs() < radius * _col(_uniform(b, 0.4, 1.0, device, generator)))
    is_rect = _col(_rand(b, device, generator) < 0.25)
    shape = torch.where(is_rect, rect, blob).to(dtype)
    # content: flat colour (emoji-like) or a shrunken other image of the batch (clip art on top)
    flat = _random_colors(b, device, generator).expand(b, 3, h, w)
    other = images.roll(2, dims=0) if b > 2 else images.flip(-1)
    scale = radius.view(-1) * 1.3
    zero = torch.zeros_like(scale)
    theta = torch.stack(
        [
            torch.stack([1 / scale, zero, -cx.view(-1) / scale], 1),
            torch.stack([zero, 1 / scale, -cy.view(-1) / scale], 1),
        ],
        1,
    ).to(dtype)
    grid = F.affine_grid(theta, [b, 3, h, w], align_corners=False)
    textured = F.grid_sample(other, grid, mode="bilinear", padding_mode="border", align_corners=False)
    content = torch.where(_col(_rand(b, device, generator) < 0.5), flat, textured)
    outline = (r < radius * 1.08) & ~(shape > 0) & ~is_rect
    out = images * (1 - shape) + content * shape
    out = torch.where(outline, torch.zeros_like(out), out)
    return torch.where(_col(apply), out, images)


# --- degradation ------------------------------------------------------------------------------------


def gaussian_blur(
    images: Tensor, p: float, sigma: tuple[float, float], generator: torch.Generator | None = None
) -> Tensor:
    b, c, h, w = images.shape
    device, dtype = images.device, images.dtype
    apply = _mask(b, p, device, generator)
    if not bool(apply.any()):
        return images
    s = _uniform(b, *sigma, device, generator)
    radius = max(1, int(math.ceil(3 * sigma[1])))
    radius = min(radius, (min(h, w) - 1) // 2)
    t = torch.arange(-radius, radius + 1, device=device, dtype=dtype)
    kernel = torch.exp(-0.5 * (t.view(1, -1) / s.view(-1, 1).to(dtype)) ** 2)
    kernel = kernel / kernel.sum(dim=1, keepdim=True)  # [B, K]
    kernel = kernel.repeat_interleave(c, dim=0)  # [B*C, K]
    x = images.reshape(1, b * c, h, w)
    x = F.pad(x, (radius, radius, radius, radius), mode="reflect")
    x = F.conv2d(x, kernel.view(b * c, 1, 1, -1), groups=b * c)
    x = F.conv2d(x, kernel.view(b * c, 1, -1, 1), groups=b * c)
    return torch.where(_col(apply), x.view(b, c, h, w), images)


def gaussian_noise(images: Tensor, p: float, std: float, generator: torch.Generator | None = None) -> Tensor:
    b, device = images.shape[0], images.device
    apply = _col(_mask(b, p, device, generator))
    sigma = _col(_uniform(b, 0.0, std, device, generator))
    noise = torch.randn(images.shape, device=device, generator=generator, dtype=images.dtype)
    return torch.where(apply, (images + sigma * noise).clamp(0, 1), images)


def pixelate(images: Tensor, p: float, generator: torch.Generator | None = None) -> Tensor:
    """Down- then up-sampling by one factor per batch (for the samples it applies to)."""
    b, _, h, w = images.shape
    apply = _mask(b, p, images.device, generator)
    if not bool(apply.any()):
        return images
    factor = float(_uniform(1, 0.12, 0.5, images.device, generator))
    small = F.interpolate(
        images,
        size=(max(2, int(h * factor)), max(2, int(w * factor))),
        mode="bilinear",
        antialias=True,
        align_corners=False,
    )
    mode = "nearest" if float(_rand(1, images.device, generator)) < 0.5 else "bilinear"
    big = F.interpolate(small, size=(h, w), mode=mode, **({} if mode == "nearest" else {"align_corners": False}))
    return torch.where(_col(apply), big, images)


_JPEG_LUMA = (
    16,
    11,
    10,
    16,
    24,
    40,
    51,
    61,
    12,
    12,
    14,
    19,
    26,
    58,
    60,
    55,
    14,
    13,
    16,
    24,
    40,
    57,
    69,
    56,
    14,
    17,
    22,
    29,
    51,
    87,
    80,
    62,
    18,
    22,
    37,
    56,
    68,
    109,
    103,
    77,
    24,
    35,
    55,
    64,
    81,
    104,
    113,
    92,
    49,
    64,
    78,
    87,
    103,
    121,
    120,
    101,
    72,
    92,
    95,
    98,
    112,
    100,
    103,
    99,
)
_JPEG_CHROMA = (
    17,
    18,
    24,
    47,
    99,
    99,
    99,
    99,
    18,
    21,
    26,
    66,
    99,
    99,
    99,
    99,
    24,
    26,
    56,
    99,
    99,
    99,
    99,
    99,
    47,
    66,
    99,
    99,
    99,
    99,
    99,
    99,
) + (99,) * 32


def _dct_matrix(n: int, device, dtype) -> Tensor:
    k = torch.arange(n, device=device, dtype=torch.float64).view(-1, 1)
    i = torch.arange(n, device=device, dtype=torch.float64).view(1, -1)
    m = torch.cos(math.pi * (2 * i + 1) * k / (2 * n)) * math.sqrt(2 / n)
    m[0] = m[0] / math.sqrt(2)
    return m.to(dtype)


def jpeg_like(images: Tensor, p: float, quality: tuple[int, int], generator: torch.Generator | None = None) -> Tensor:
    """JPEG's lossy steps in torch: YCbCr, 4:2:0 chroma, 8×8 DCT quantised with the standard tables."""
    b, _, h, w = images.shape
    device = images.device
    apply = _mask(b, p, device, generator)
    if not bool(apply.any()):
        return images
    x = images.float()
    ph, pw = (-h) % 16, (-w) % 16
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode="replicate")
    hh, ww = x.shape[-2:]
    r, g, bl = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    y = 0.299 * r + 0.587 * g + 0.114 * bl
    cb = -0.168736 * r - 0.331264 * g + 0.5 * bl
    cr = 0.5 * r - 0.418688 * g - 0.081312 * bl
    cb = F.avg_pool2d(cb, 2)
    cr = F.avg_pool2d(cr, 2)
    q = _uniform(b, float(quality[0]), float(quality[1]), device, generator)
    scale = torch.where(q < 50, 50 / q, 2 - q / 50).view(b, 1, 1, 1, 1, 1)
    luma_table = torch.tensor(_JPEG_LUMA, device=device, dtype=torch.float32).view(1, 1, 1, 8, 1, 8)
    chroma_table = torch.tensor(_JPEG_CHROMA, device=device, dtype=torch.float32).view(1, 1, 1, 8, 1, 8)
    d = _dct_matrix(8, device, torch.float32)

    def lossy(plane: Tensor, table: Tensor) -> Tensor:
        n, _, ph_, pw_ = plane.shape
        blocks = plane.view(n, 1, ph_ // 8, 8, pw_ // 8, 8) * 255
        coef = torch.einsum("ui,nchiwj,vj->nchuwv", d, blocks, d)
        step = (table * scale).clamp(min=1)
        coef = torch.round(coef / step) * step
        back = torch.einsum("ui,nchuwv,vj->nchiwj", d, coef, d) / 255
        return back.reshape(n, 1, ph_, pw_)

    y = lossy(y - 0.5, luma_table) + 0.5
    cb = F.interpolate(lossy(cb, chroma_table), scale_factor=2, mode="nearest")
    cr = F.interpolate(lossy(cr, chroma_table), scale_factor=2, mode="nearest")
    out = torch.cat([y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr, y + 1.772 * cb], dim=1)
    out = out[:, :, :h, :w].clamp(0, 1).to(images.dtype)
    assert out.shape[-2:] == (h, w) and hh >= h and ww >= w
    return torch.where(_col(apply), out, images)


# --- the whole chain -----------------------------------------------------------------------------------


def augment_view(images: Tensor, cfg: AugmentConfig, generator: torch.Generator | None = None) -> Tensor:
    """One augmented view of each image: float [B, 3, H, W] in [0, 1] → [B, 3, out, out] in [0, 1]."""
    x = random_resized_crop(images, cfg, generator)
    x = paste_onto_other(x, cfg.p_paste, cfg.paste_scale, generator)
    x = color_jitter(x, cfg, generator)
    x = grayscale(x, cfg.p_gray, generator)
    x = text_strips(x, cfg.p_text, generator)
    x = stickers(x, cfg.p_sticker, generator)
    x = gaussian_blur(x, cfg.p_blur, cfg.blur_sigma, generator)
    x = gaussian_noise(x, cfg.p_noise, cfg.noise_std, generator)
    x = pixelate(x, cfg.p_pixelate, generator)
    x = jpeg_like(x, cfg.p_jpeg, cfg.jpeg_quality, generator)
    return x.clamp(0, 1)


def augment_pair(images: Tensor, cfg: AugmentConfig, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Two independent views of each image (the positives of InfoNCE)."""
    return augment_view(images, cfg, generator), augment_view(images, cfg, generator)
