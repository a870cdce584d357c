"""Procedural photo-like scenes for verification tests and benchmarks: no image files needed."""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

WORDS = ["copy", "detect", "milvus", "pixel", "frame", "sunset", "harbour", "zebra", "quartz", "nimbus"]


def textured_scene(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A photo-like test image: gradient, multi-scale noise, random shapes and text."""
    rng = np.random.default_rng(seed)
    width, height = size
    ramp = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :, None]
    start, end = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    canvas = np.broadcast_to(start + (end - start) * ramp, (height, width, 3)).astype(np.float32)
    for cell, amplitude in ((64, 40.0), (16, 20.0), (4, 8.0)):
        coarse = rng.normal(0.0, amplitude, (height // cell + 2, width // cell + 2, 3)).astype(np.float32)
        canvas += cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    canvas = np.ascontiguousarray(np.clip(canvas, 0, 255), dtype=np.uint8)
    for _ in range(45):
        _shape_draw(canvas, rng)
    for _ in range(4):
        _text_draw(canvas, rng)
    return Image.fromarray(canvas)


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    return tuple(int(value) for value in rng.integers(0, 256, 3))


def _shape_draw(canvas: np.ndarray, rng: np.random.Generator) -> None:
    height, width = canvas.shape[:2]
    centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
    extent = int(rng.integers(8, max(9, min(width, height) // 5)))
    shape = rng.integers(0, 4)
    if shape == 0:
        cv2.circle(canvas, centre, extent, _colour(rng), int(rng.choice([-1, 2, 4])), cv2.LINE_AA)
    elif shape == 1:
        corner = (centre[0] + extent, centre[1] + int(rng.integers(4, extent + 5)))
        cv2.rectangle(canvas, centre, corner, _colour(rng), int(rng.choice([-1, 3])))
    elif shape == 2:
        points = (np.array(centre) + rng.integers(-extent, extent, (int(rng.integers(3, 7)), 2))).astype(np.int32)
        cv2.fillPoly(canvas, [points], _colour(rng), cv2.LINE_AA)
    else:
        offset = rng.integers(-extent * 2, extent * 2, 2)
        end = (centre[0] + int(offset[0]), centre[1] + int(offset[1]))
        cv2.line(canvas, centre, end, _colour(rng), int(rng.integers(1, 6)), cv2.LINE_AA)


def _text_draw(canvas: np.ndarray, rng: np.random.Generator) -> None:
    height, width = canvas.shape[:2]
    origin = (int(rng.integers(0, width * 3 // 4)), int(rng.integers(20, height)))
    font = int(rng.choice([cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_TRIPLEX]))
    text = " ".join(rng.choice(WORDS, 2))
    scale, thickness = float(rng.uniform(0.6, 1.6)), int(rng.integers(1, 4))
    cv2.putText(canvas, text, origin, font, scale, _colour(rng), thickness, cv2.LINE_AA)
