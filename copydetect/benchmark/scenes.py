"""Procedural pictures for tests and benchmarks: varied enough that unrelated seeds look unrelated to a copy
detector.

Each seed picks its own style (shapes, smooth noise fields, cells, stripes) and palette; a single
style would make every picture look alike to a learned descriptor.
"""

from __future__ import annotations

import io
import random

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def scene(seed: int, size: tuple[int, int] = (480, 360)) -> Image.Image:
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    style = [_shapes, _noise_field, _cells, _stripes][seed % 4]
    base = style(rng, nrng, size)
    _scatter_details(base, rng)
    noise = nrng.normal(0, 5, (size[1], size[0], 3))
    pixels = np.clip(np.asarray(base, dtype=np.float32) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB").filter(ImageFilter.GaussianBlur(0.5))


def _palette(rng: random.Random, n: int) -> list[tuple[int, int, int]]:
    return [tuple(rng.randrange(256) for _ in range(3)) for _ in range(n)]


def _shapes(rng, nrng, size) -> Image.Image:
    width, height = size
    image = Image.new("RGB", size, _palette(rng, 1)[0])
    draw = ImageDraw.Draw(image)
    for colour in _palette(rng, rng.randint(20, 40)):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        x1, y1 = x0 + rng.randint(10, width // 3), y0 + rng.randint(10, height // 3)
        if rng.random() < 0.5:
            draw.ellipse([x0, y0, x1, y1], fill=colour, outline=(0, 0, 0))
        else:
            draw.polygon([(rng.randrange(width), rng.randrange(height)) for _ in range(rng.randint(3, 6))], fill=colour)
    return image


def _noise_field(rng, nrng, size) -> Image.Image:
    """Smooth 1/f noise mapped through a random colour ramp: cloud- or terrain-like."""
    width, height = size
    spectrum = nrng.normal(size=(height, width)) + 1j * nrng.normal(size=(height, width))
    fy, fx = np.meshgrid(np.fft.fftfreq(height), np.fft.fftfreq(width), indexing="ij")
    falloff = 1.0 / np.maximum(np.hypot(fx, fy), 1.0 / max(size)) ** rng.uniform(1.6, 2.4)
    field = np.real(np.fft.ifft2(spectrum * falloff))
    field = (field - field.min()) / (np.ptp(field) + 1e-9)
    stops = np.array(_palette(rng, 4), dtype=np.float32)
    position = field * (len(stops) - 1)
    low = np.floor(position).astype(int).clip(0, len(stops) - 2)
    weight = (position - low)[..., None]
    return Image.fromarray((stops[low] * (1 - weight) + stops[low + 1] * weight).astype(np.uint8), "RGB")


def _cells(rng, nrng, size) -> Image.Image:
    """Voronoi cells with shaded borders: a mosaic or cobblestone look."""
    width, height = size
    points = nrng.uniform(0, 1, (rng.randint(15, 60), 2)) * np.array([width, height])
    ys, xs = np.mgrid[0:height, 0:width]
    distances = np.hypot(xs[..., None] - points[:, 0], ys[..., None] - points[:, 1])
    nearest = distances.argmin(axis=-1)
    first, second = np.moveaxis(np.partition(distances, 1, axis=-1)[..., :2], -1, 0)
    colours = nrng.integers(0, 256, (len(points), 3)).astype(np.float32)
    shade = np.clip((second - first) / 12.0, 0.25, 1.0)[..., None]
    return Image.fromarray((colours[nearest] * shade).astype(np.uint8), "RGB")


def _stripes(rng, nrng, size) -> Image.Image:
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    wave = np.sin((xs * np.cos(angle) + ys * np.sin(angle)) / rng.uniform(4, 25) + 3 * np.sin(ys / rng.uniform(20, 60)))
    colour_a, colour_b = (np.array(c, dtype=np.float32) for c in _palette(rng, 2))
    mix = ((wave + 1) / 2)[..., None]
    return Image.fromarray((colour_a * mix + colour_b * (1 - mix)).astype(np.uint8), "RGB")


def _scatter_details(image: Image.Image, rng: random.Random) -> None:
    """Small high-contrast marks give local features something to hold on to in every style."""
    width, height = image.size
    draw = ImageDraw.Draw(image)
    for colour in _palette(rng, rng.randint(15, 30)):
        x, y, r = rng.randrange(width), rng.randrange(height), rng.randint(3, 14)
        if rng.random() < 0.5:
            draw.rectangle([x, y, x + r, y + rng.randint(3, 14)], fill=colour, outline=(0, 0, 0))
        else:
            draw.text((x, y), rng.choice(["A", "7", "#", "K", "Q", "%"]), fill=colour)


def edited_copy(image: Image.Image) -> Image.Image:
    """A moderate edit: crop, rescale, colour shift and a caption bar."""
    width, height = image.size
    cropped = image.crop((int(width * 0.12), int(height * 0.08), int(width * 0.9), int(height * 0.95)))
    resized = cropped.resize((400, int(400 * cropped.height / cropped.width)))
    shifted = Image.fromarray(
        np.clip(np.asarray(resized, dtype=np.int16) + np.array([25, -10, 5]), 0, 255).astype(np.uint8)
    )
    draw = ImageDraw.Draw(shifted)
    draw.rectangle([0, shifted.height - 40, shifted.width, shifted.height], fill=(255, 255, 255))
    draw.text((10, shifted.height - 32), "when you see it", fill=(0, 0, 0))
    return shifted


def encode(image: Image.Image, format: str = "JPEG", **options) -> bytes:
    buffer = io.BytesIO()
    if format == "JPEG":
        options.setdefault("quality", 92)
    image.save(buffer, format=format, **options)
    return buffer.getvalue()
