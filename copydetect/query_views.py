"""Extra views of a query for the global descriptor.

A copy often fills only part of a query (pasted onto a photo, inside a screenshot or a meme
frame), where a descriptor of the whole picture is diluted by everything around it. Embedding
crops lets the region that holds the copy speak alone; each reference keeps its best similarity
over the views.

Measured with SSCD, max over views, candidates = top 20 (docs/accuracy.md), seed 1: full view µAP
0.887 (241 of 250 true pairs among the candidates); + centre and four 60 % corners 0.912 (242);
+ two 3 × 3 grids of 50 % and 40 % crops ("grid_50", "grid_40") 0.919 (245), for 18 more
descriptor passes. After verification and calibration the grids gave +0.009 / +0.001 µAP on seeds
1 / 2 and −0.010 on the hard setting, so they are available but not on by default.
"""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image

SINGLE_VIEWS = ("full", "centre", "top_left", "top_right", "bottom_left", "bottom_right")
# A grid view stands for nine crops of the given fraction of each side, on a 3 × 3 lattice.
GRID_VIEWS = {"grid_50": 0.5, "grid_40": 0.4}
VIEW_NAMES = SINGLE_VIEWS + tuple(GRID_VIEWS)
# The grids lift raw recall but not the verified, calibrated pipeline (docs/accuracy.md): opt-in.
DEFAULT_VIEWS = SINGLE_VIEWS
CORNER_FRACTION = 0.6
CENTRE_MARGIN = 0.15
GRID_STEPS = 3

_CORNERS = {
    "top_left": (0.0, 0.0),
    "top_right": (1.0 - CORNER_FRACTION, 0.0),
    "bottom_left": (0.0, 1.0 - CORNER_FRACTION),
    "bottom_right": (1.0 - CORNER_FRACTION, 1.0 - CORNER_FRACTION),
}

Box = tuple[float, float, float, float]  # left, top, right, bottom as fractions of the image


def query_views_make(image: Image.Image, names: Sequence[str] = DEFAULT_VIEWS) -> list[Image.Image]:
    """The query itself (for "full") and its crops, in the order of `names`."""
    unknown = set(names) - set(VIEW_NAMES)
    if unknown:
        raise ValueError(f"Unknown query views {sorted(unknown)}; choose from {VIEW_NAMES}.")
    views: list[Image.Image] = []
    for name in names:
        if name == "full":
            views.append(image)
        else:
            views.extend(_crop(image, box) for box in view_boxes(name))
    return views


def view_boxes(name: str) -> list[Box]:
    if name == "centre":
        return [(CENTRE_MARGIN, CENTRE_MARGIN, 1.0 - CENTRE_MARGIN, 1.0 - CENTRE_MARGIN)]
    if name in _CORNERS:
        left, top = _CORNERS[name]
        return [(left, top, left + CORNER_FRACTION, top + CORNER_FRACTION)]
    fraction = GRID_VIEWS[name]
    offsets = [step * (1.0 - fraction) / (GRID_STEPS - 1) for step in range(GRID_STEPS)]
    return [(left, top, left + fraction, top + fraction) for top in offsets for left in offsets]


def _crop(image: Image.Image, box: Box) -> Image.Image:
    width, height = image.size
    pixels = (round(box[0] * width), round(box[1] * height), round(box[2] * width), round(box[3] * height))
    # A crop of a tiny image must still hold at least one pixel.
    left, top = min(pixels[0], width - 1), min(pixels[1], height - 1)
    return image.crop((left, top, max(pixels[2], left + 1), max(pixels[3], top + 1)))
