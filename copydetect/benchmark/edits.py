"""The edit families DISC21 used to make queries, at three difficulty levels.

Each family is `edit(image, context) -> (image, params)`; all randomness comes from `context.rng`, so
the same seed yields the same image. AugLy does the work where it runs on current Pillow / numpy;
meme format, perspective and blend are own code (AugLy's meme_format calls the removed
`getsize_multiline`, its perspective_transform uses the removed `np.float`).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import augly.image.functional as augly
import augly.utils as augly_paths
import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

Difficulty = Literal["easy", "medium", "hard"]
DIFFICULTIES: tuple[Difficulty, ...] = ("easy", "medium", "hard")
Range = tuple[float, float]
OtherPhotoProvider = Callable[[random.Random], tuple[Image.Image, str]]


@dataclass(frozen=True)
class EditRecord:
    family: str
    params: dict[str, Any]


@dataclass
class EditContext:
    rng: random.Random
    difficulty: Difficulty
    # Supplies another photograph (for overlays, pastes, blends) and its name for the record.
    other_photo: OtherPhotoProvider

    def uniform(self, easy: Range, medium: Range, hard: Range) -> float:
        low, high = {"easy": easy, "medium": medium, "hard": hard}[self.difficulty]
        return round(self.rng.uniform(low, high), 4)

    def signed(self, easy: Range, medium: Range, hard: Range) -> float:
        return self.uniform(easy, medium, hard) * self.rng.choice((-1, 1))

    def colour(self) -> tuple[int, int, int]:
        return (self.rng.randrange(256), self.rng.randrange(256), self.rng.randrange(256))


EditResult = tuple[Image.Image, dict[str, Any]]
EditFunction = Callable[[Image.Image, EditContext], EditResult]


def _rgb(image: Image.Image) -> Image.Image:
    return image if image.mode == "RGB" else image.convert("RGB")


# ---------------------------------------------------------------------------------------------
# Geometry


def crop(image: Image.Image, context: EditContext) -> EditResult:
    kept_area = context.uniform((0.5, 0.85), (0.3, 0.5), (0.1, 0.3))
    aspect_jitter = context.rng.uniform(0.7, 1.4)
    width_fraction = min(1.0, (kept_area * aspect_jitter) ** 0.5)
    height_fraction = min(1.0, kept_area / width_fraction)
    left = context.rng.uniform(0, 1 - width_fraction)
    top = context.rng.uniform(0, 1 - height_fraction)
    box = (round(left, 4), round(top, 4), round(left + width_fraction, 4), round(top + height_fraction, 4))
    edited = augly.crop(image, x1=box[0], y1=box[1], x2=box[2], y2=box[3])
    return edited, {"kept_area": round(width_fraction * height_fraction, 4), "box": list(box)}


def scale(image: Image.Image, context: EditContext) -> EditResult:
    factor = context.uniform((0.6, 1.2), (0.35, 0.6), (0.15, 0.35))
    return augly.scale(image, factor=factor), {"factor": factor}


def aspect_change(image: Image.Image, context: EditContext) -> EditResult:
    stretch = context.uniform((1.1, 1.3), (1.3, 1.8), (1.8, 3.0))
    if context.rng.random() < 0.5:
        stretch = round(1 / stretch, 4)
    ratio = image.width / image.height * stretch
    return augly.change_aspect_ratio(image, ratio=ratio), {"stretch": stretch}


def rotate(image: Image.Image, context: EditContext) -> EditResult:
    degrees = context.signed((2, 10), (10, 30), (30, 90))
    return augly.rotate(image, degrees=degrees), {"degrees": degrees}


def flip(image: Image.Image, context: EditContext) -> EditResult:
    vertical_chance = {"easy": 0.0, "medium": 0.2, "hard": 0.5}[context.difficulty]
    if context.rng.random() < vertical_chance:
        return augly.vflip(image), {"axis": "vertical"}
    return augly.hflip(image), {"axis": "horizontal"}


def skew(image: Image.Image, context: EditContext) -> EditResult:
    factor = context.signed((0.05, 0.2), (0.2, 0.4), (0.4, 0.8))
    axis = context.rng.choice((0, 1))
    return augly.skew(image, skew_factor=factor, axis=axis), {"factor": factor, "axis": axis}


def perspective(image: Image.Image, context: EditContext) -> EditResult:
    spread = context.uniform((0.02, 0.05), (0.05, 0.1), (0.1, 0.18))
    width, height = image.size
    corners = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    sigma = spread * max(width, height)
    moved = corners + np.float32([[context.rng.gauss(0, sigma) for _ in range(2)] for _ in range(4)])
    matrix = cv2.getPerspectiveTransform(corners, moved)
    warped = cv2.warpPerspective(np.asarray(_rgb(image)), matrix, (width, height), flags=cv2.INTER_CUBIC)
    return Image.fromarray(warped), {"spread": spread}


def pad(image: Image.Image, context: EditContext) -> EditResult:
    width_factor = context.uniform((0.03, 0.12), (0.12, 0.3), (0.3, 0.6))
    height_factor = context.uniform((0.03, 0.12), (0.12, 0.3), (0.3, 0.6))
    colour = context.colour()
    edited = augly.pad(image, w_factor=width_factor, h_factor=height_factor, color=colour)
    return edited, {"w_factor": width_factor, "h_factor": height_factor, "color": list(colour)}


# ---------------------------------------------------------------------------------------------
# Pixels


def colour_jitter(image: Image.Image, context: EditContext) -> EditResult:
    params = {
        "brightness_factor": round(1 + context.signed((0.05, 0.2), (0.2, 0.4), (0.4, 0.7)), 4),
        "contrast_factor": round(1 + context.signed((0.05, 0.2), (0.2, 0.5), (0.5, 0.8)), 4),
        "saturation_factor": round(1 + context.signed((0.1, 0.3), (0.3, 0.8), (0.8, 1.5)), 4),
    }
    params = {name: max(0.05, value) for name, value in params.items()}
    return augly.color_jitter(image, **params), params


def grayscale(image: Image.Image, context: EditContext) -> EditResult:
    mode = context.rng.choice(("luminosity", "average"))
    return _rgb(augly.grayscale(image, mode=mode)), {"mode": mode}


def blur(image: Image.Image, context: EditContext) -> EditResult:
    relative = context.uniform((0.001, 0.003), (0.003, 0.007), (0.007, 0.015))
    radius = round(max(0.5, relative * max(image.size)), 2)
    return augly.blur(image, radius=radius), {"radius": radius}


def sharpen(image: Image.Image, context: EditContext) -> EditResult:
    factor = context.uniform((1.5, 4), (4, 12), (12, 40))
    return augly.sharpen(image, factor=factor), {"factor": factor}


def noise(image: Image.Image, context: EditContext) -> EditResult:
    variance = context.uniform((0.002, 0.01), (0.01, 0.03), (0.03, 0.08))
    noise_seed = context.rng.randrange(2**31)
    return augly.random_noise(image, var=variance, seed=noise_seed), {"var": variance, "seed": noise_seed}


def jpeg(image: Image.Image, context: EditContext) -> EditResult:
    quality = int(context.uniform((35, 70), (15, 35), (4, 15)))
    return _rgb(augly.encoding_quality(_rgb(image), quality=quality)), {"quality": quality}


def pixelise(image: Image.Image, context: EditContext) -> EditResult:
    ratio = context.uniform((0.4, 0.7), (0.2, 0.4), (0.07, 0.2))
    return augly.pixelization(image, ratio=ratio), {"ratio": ratio}


# ---------------------------------------------------------------------------------------------
# Overlays


def _text_fonts() -> list[Path]:
    fonts_dir = Path(augly_paths.FONTS_DIR)
    return sorted(p for p in fonts_dir.glob("*.ttf") if p.with_suffix(".pkl").exists())


TEXT_FONTS = _text_fonts()
EMOJIS = sorted(Path(augly_paths.EMOJI_DIR).rglob("*.png"))
MEME_WORDS = (
    "when",
    "the",
    "monday",
    "hits",
    "me",
    "nobody",
    "literally",
    "mood",
    "that",
    "feeling",
    "cat",
    "wow",
    "so",
    "real",
    "my",
    "face",
    "every",
    "time",
    "weekend",
    "plans",
    "coffee",
    "first",
    "lol",
    "this",
    "is",
    "fine",
    "how",
    "it",
    "started",
    "ended",
    "dad",
    "jokes",
    "be",
    "like",
    "same",
)


TEXT_ATTEMPTS = 8


def text_overlay(image: Image.Image, context: EditContext) -> EditResult:
    font = context.rng.choice(TEXT_FONTS)
    line_count = {"easy": 1, "medium": context.rng.randint(1, 2), "hard": context.rng.randint(2, 4)}[context.difficulty]
    lines = _text_lines(context, line_count)
    params = {
        "font": font.name,
        "font_size": context.uniform((0.05, 0.1), (0.1, 0.18), (0.15, 0.25)),
        "opacity": context.uniform((0.5, 0.9), (0.7, 1.0), (0.85, 1.0)),
        "color": list(context.colour()),
        "x_pos": round(context.rng.uniform(0, 0.5), 4),
        "y_pos": round(context.rng.uniform(0, 0.7), 4),
    }
    for _ in range(TEXT_ATTEMPTS):
        try:
            edited = augly.overlay_text(
                image,
                text=lines,
                font_file=str(font),
                font_size=params["font_size"],
                opacity=params["opacity"],
                color=tuple(params["color"]),
                x_pos=params["x_pos"],
                y_pos=params["y_pos"],
            )
        except RuntimeError:
            # Some glyph sequences of a few AugLy fonts (Ostrich Sans, Playfair Display) make Pillow's
            # raqm layout fail: draw another font and text from the same seeded generator.
            font = context.rng.choice(TEXT_FONTS)
            lines = _text_lines(context, line_count)
            params["font"] = font.name
            continue
        return _rgb(edited), params | {"lines": line_count}
    raise RuntimeError(f"text_overlay: no font could lay out the text in {TEXT_ATTEMPTS} attempts")


def _text_lines(context: EditContext, line_count: int) -> list[list[int]]:
    """Lines of indices into the font's character list, as AugLy's overlay_text takes them."""
    return [[context.rng.randrange(1000) for _ in range(context.rng.randint(4, 14))] for _ in range(line_count)]


def emoji_overlay(image: Image.Image, context: EditContext) -> EditResult:
    emoji = context.rng.choice(EMOJIS)
    size = context.uniform((0.1, 0.2), (0.2, 0.35), (0.35, 0.6))
    params = {
        "emoji": f"{emoji.parent.name}/{emoji.name}",
        "emoji_size": size,
        "opacity": context.uniform((0.6, 1.0), (0.8, 1.0), (0.9, 1.0)),
        "x_pos": round(context.rng.uniform(0, 1 - size), 4),
        "y_pos": round(context.rng.uniform(0, 1 - size), 4),
    }
    edited = augly.overlay_emoji(
        image,
        emoji_path=str(emoji),
        emoji_size=size,
        opacity=params["opacity"],
        x_pos=params["x_pos"],
        y_pos=params["y_pos"],
    )
    return _rgb(edited), params


def stripes(image: Image.Image, context: EditContext) -> EditResult:
    params = {
        "line_width": context.uniform((0.05, 0.2), (0.2, 0.4), (0.4, 0.7)),
        "line_color": list(context.colour()),
        "line_angle": round(context.rng.uniform(-90, 90), 2),
        "line_density": context.uniform((0.1, 0.3), (0.3, 0.6), (0.5, 0.8)),
        "line_type": context.rng.choice(("solid", "dotted", "dashed")),
        "line_opacity": context.uniform((0.3, 0.6), (0.5, 0.8), (0.7, 1.0)),
    }
    edited = augly.overlay_stripes(image, **(params | {"line_color": tuple(params["line_color"])}))
    return _rgb(edited), params


def image_overlay(image: Image.Image, context: EditContext) -> EditResult:
    overlay, overlay_name = context.other_photo(context.rng)
    size = context.uniform((0.15, 0.3), (0.3, 0.5), (0.5, 0.7))
    params = {
        "overlay": overlay_name,
        "overlay_size": size,
        "opacity": context.uniform((0.6, 1.0), (0.8, 1.0), (0.9, 1.0)),
        "x_pos": round(context.rng.uniform(0, 1 - size), 4),
        "y_pos": round(context.rng.uniform(0, 1 - size), 4),
    }
    edited = augly.overlay_image(
        image, overlay, opacity=params["opacity"], overlay_size=size, x_pos=params["x_pos"], y_pos=params["y_pos"]
    )
    return _rgb(edited), params


def _meme_caption(context: EditContext) -> str:
    words = [context.rng.choice(MEME_WORDS) for _ in range(context.rng.randint(2, 7))]
    return " ".join(words).upper()


def _fit_font(text: str, font_path: str, max_width: int, max_height: int) -> ImageFont.FreeTypeFont:
    size = max(8, max_height)
    while size > 8:
        font = ImageFont.truetype(font_path, size)
        left, top, right, bottom = font.getbbox(text)
        if right - left <= max_width and bottom - top <= max_height:
            return font
        size -= max(1, size // 10)
    return ImageFont.truetype(font_path, 8)


def meme_format(image: Image.Image, context: EditContext) -> EditResult:
    caption_fraction = context.uniform((0.12, 0.2), (0.2, 0.35), (0.35, 0.6))
    caption_height = max(24, round(image.height * caption_fraction))
    text = _meme_caption(context)
    background = (255, 255, 255) if context.rng.random() < 0.8 else context.colour()
    meme = Image.new("RGB", (image.width, image.height + caption_height), background)
    meme.paste(_rgb(image), (0, caption_height))
    font = _fit_font(text, augly_paths.MEME_DEFAULT_FONT, image.width - 10, caption_height - 10)
    draw = ImageDraw.Draw(meme)
    draw.text((image.width / 2, caption_height / 2), text, font=font, fill=(0, 0, 0), anchor="mm")
    return meme, {"caption_fraction": caption_fraction, "text": text, "background": list(background)}


def screenshot(image: Image.Image, context: EditContext) -> EditResult:
    template = context.rng.choice(("web.png", "mobile.png"))
    crop_to_fit = context.rng.random() < 0.5
    edited = augly.overlay_onto_screenshot(
        _rgb(image),
        template_filepath=str(Path(augly_paths.SCREENSHOT_TEMPLATES_DIR) / template),
        crop_src_to_fit=crop_to_fit,
    )
    return _rgb(edited), {"template": template, "crop_src_to_fit": crop_to_fit}


def paste_onto_photo(image: Image.Image, context: EditContext) -> EditResult:
    background, background_name = context.other_photo(context.rng)
    size = context.uniform((0.55, 0.8), (0.35, 0.55), (0.2, 0.35))
    params = {
        "background": background_name,
        "overlay_size": size,
        "x_pos": round(context.rng.uniform(0, 1 - size), 4),
        "y_pos": round(context.rng.uniform(0, 1 - size), 4),
    }
    edited = augly.overlay_onto_background_image(
        _rgb(image), _rgb(background), overlay_size=size, x_pos=params["x_pos"], y_pos=params["y_pos"]
    )
    return _rgb(edited), params


def blend(image: Image.Image, context: EditContext) -> EditResult:
    other, other_name = context.other_photo(context.rng)
    other_weight = context.uniform((0.1, 0.25), (0.25, 0.4), (0.4, 0.5))
    resized = _rgb(other).resize(image.size, Image.Resampling.BILINEAR)
    return Image.blend(_rgb(image), resized, other_weight), {"other": other_name, "other_weight": other_weight}


# ---------------------------------------------------------------------------------------------
# Registry and combinations

# Order of application within a combination: geometry, then pixels, then overlays, then the
# frame-changing compositions, and JPEG last, as when a copy is re-shared.
FAMILIES: dict[str, EditFunction] = {
    "crop": crop,
    "aspect_change": aspect_change,
    "scale": scale,
    "rotate": rotate,
    "flip": flip,
    "skew": skew,
    "perspective": perspective,
    "colour_jitter": colour_jitter,
    "grayscale": grayscale,
    "blur": blur,
    "sharpen": sharpen,
    "noise": noise,
    "pixelise": pixelise,
    "image_overlay": image_overlay,
    "blend": blend,
    "text_overlay": text_overlay,
    "emoji_overlay": emoji_overlay,
    "stripes": stripes,
    "pad": pad,
    "meme_format": meme_format,
    "screenshot": screenshot,
    "paste_onto_photo": paste_onto_photo,
    "jpeg": jpeg,
}
AUGLY_FAMILIES = frozenset(FAMILIES) - {"perspective", "meme_format", "blend"}
FRAME_FAMILIES = frozenset({"meme_format", "screenshot", "paste_onto_photo"})
FAMILY_ORDER = {name: index for index, name in enumerate(FAMILIES)}

# Severe recipes that the hard setting favours (DISC21's hardest queries looked like these).
SEVERE_RECIPES: tuple[tuple[str, ...], ...] = (
    ("crop",),
    ("crop", "colour_jitter"),
    ("paste_onto_photo",),
    ("crop", "paste_onto_photo"),
    ("text_overlay", "screenshot"),
    ("blend",),
    ("crop", "blend"),
)

MAX_OUTPUT_SIDE = 1024


def apply_edit(family: str, image: Image.Image, context: EditContext) -> tuple[Image.Image, EditRecord]:
    edited, params = FAMILIES[family](_rgb(image), context)
    return _rgb(edited), EditRecord(family, params)


def order_families(families: list[str]) -> list[str]:
    return sorted(set(families), key=FAMILY_ORDER.__getitem__)


def choose_families(rng: random.Random, difficulty: Difficulty) -> list[str]:
    low, high = {"easy": (1, 1), "medium": (1, 2), "hard": (2, 4)}[difficulty]
    count = rng.randint(low, high)
    chosen: list[str] = []
    for family in rng.sample(sorted(FAMILIES), len(FAMILIES)):
        if family in FRAME_FAMILIES and FRAME_FAMILIES & set(chosen):
            continue
        chosen.append(family)
        if len(chosen) == count:
            break
    return order_families(chosen)


def choose_difficulty(rng: random.Random, hard_setting: bool) -> Difficulty:
    weights = (0.1, 0.3, 0.6) if hard_setting else (0.35, 0.4, 0.25)
    return rng.choices(DIFFICULTIES, weights=weights)[0]


def plan_edits(rng: random.Random, hard_setting: bool) -> tuple[Difficulty, list[str], bool]:
    """Difficulty, ordered family list and whether it is a severe recipe, for one query."""
    difficulty = choose_difficulty(rng, hard_setting)
    severe_share = 0.5 if hard_setting else 0.1
    if rng.random() < severe_share:
        return "hard", list(rng.choice(SEVERE_RECIPES)), True
    return difficulty, choose_families(rng, difficulty), False


def shrink_to_max_side(image: Image.Image, max_side: int = MAX_OUTPUT_SIDE) -> Image.Image:
    if max(image.size) <= max_side:
        return image
    factor = max_side / max(image.size)
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    return image.resize(size, Image.Resampling.LANCZOS)


def edit_image(image: Image.Image, families: list[str], context: EditContext) -> tuple[Image.Image, list[EditRecord]]:
    records: list[EditRecord] = []
    for family in families:
        image, record = apply_edit(family, image, context)
        records.append(record)
    return shrink_to_max_side(image), records
