"""Extra views of a query for the global descriptor.

A copy often fills only part of a query (pasted onto a photo, inside a screenshot or a meme
frame), where a descriptor of the whole picture is diluted by everything around it. Embedding a
centre crop and four overlapping corner crops lets the region that holds the copy speak alone.
Measured on the seed-1 benchmark with SSCD (docs/accuracy.md): raw µAP 0.887 → 0.911.
"""
from __future__ import annotations

from typing import Sequence

from PIL import Image

VIEW_NAMES = ("full", "centre", "top_left", "top_right", "bottom_left", "bottom_right")
DEFAULT_VIEWS = VIEW_NAMES
CORNER_FRACTION = 0.6
CENTRE_MARGIN = 0.15

_CORNERS = {
    "top_left": (0.0, 0.0),
    "top_right": (1.0 - CORNER_FRACTION, 0.0),
    "bottom_left": (0.0, 1.0 - CORNER_FRACTION),
    "bottom_right": (1.0 - CORNER_FRACTION, 1.0 - CORNER_FRACTION),
}


def query_views_make(image: Image.Image, names: Sequence[str] = DEFAULT_VIEWS) -> list[Image.Image]:
    unknown = set(names) - set(VIEW_NAMES)
    if unknown:
        raise ValueError(f"Unknown query views {sorted(unknown)}; choose from {VIEW_NAMES}.")
    return [_view(image, name) for name in names]


def _view(image: Image.Image, name: str) -> Image.Image:
    width, height = image.size
    if name == "full":
        return image
    if name == "centre":
        box = (CENTRE_MARGIN, CENTRE_MARGIN, 1.0 - CENTRE_MARGIN, 1.0 - CENTRE_MARGIN)
    else:
        left, top = _CORNERS[name]
        box = (left, top, left + CORNER_FRACTION, top + CORNER_FRACTION)
    return image.crop((round(box[0] * width), round(box[1] * height), round(box[2] * width), round(box[3] * height)))
