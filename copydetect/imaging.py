"""Opening untrusted image bytes safely: one place decides what counts as a usable image."""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "MPO"}
MIN_SIDE = 8


# File name suffixes of the image formats read here (uploads, folders, archives, offline tools).
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"})


class ImageRejected(ValueError):
    """The bytes are not an image we can index; the message is shown to the user.

    `code` tells the two causes apart for API clients: "bad_image" (empty, not an image, unsupported,
    corrupt, too small) or "too_large" (more pixels than allowed).
    """

    def __init__(self, message: str, *, code: str = "bad_image") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ImageFacts:
    sha256: str
    width: int
    height: int
    format: str

    @property
    def extension(self) -> str:
        return {"JPEG": "jpg", "MPO": "jpg", "TIFF": "tif"}.get(self.format, self.format.lower())


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def image_inspect(data: bytes, *, max_pixels: int) -> ImageFacts:
    """Checks that `data` decodes completely into an image of acceptable size, without keeping it."""
    image = image_decode(data, max_pixels=max_pixels)
    return ImageFacts(sha256=sha256_of(data), width=image.width, height=image.height, format=image.format_name)


class _DecodedImage:
    def __init__(self, image: Image.Image, format_name: str):
        self.image = image
        self.format_name = format_name
        self.width, self.height = image.size


def image_decode(data: bytes, *, max_pixels: int) -> _DecodedImage:
    if not data:
        raise ImageRejected("The file is empty.")
    try:
        with warnings.catch_warnings():
            # Pillow only warns between max_pixels and twice that; we want a hard limit.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                format_name = probe.format or ""
                width, height = probe.size
                if format_name not in ACCEPTED_FORMATS:
                    raise ImageRejected(f"Unsupported image format {format_name or 'unknown'}.")
                _check_pixels(width, height, max_pixels)
                probe.load()
                image = rgb_of(ImageOps.exif_transpose(probe))
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected("The image is too large to decode safely (decompression bomb).", code="too_large") from None
    except UnidentifiedImageError:
        raise ImageRejected("The file is not an image (or its format is not supported).") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected(f"The image is truncated or corrupt ({exc}).") from None
    return _DecodedImage(image, format_name)


# Transparent areas are shown over white, as on a web page; an RGBA reference and a flattened copy
# of it then look alike.
ALPHA_BACKGROUND = (255, 255, 255)
SRGB_PROFILE = ImageCms.createProfile("sRGB")


def rgb_of(image: Image.Image) -> Image.Image:
    """8-bit RGB of any mode Pillow decodes, keeping what a viewer would see.

    Pillow's own convert("RGB") clips 16- and 32-bit greyscale at 255 (a 16-bit PNG comes out
    near-white), ignores palette transparency and converts CMYK without its colour profile.
    """
    mode = image.mode
    if mode == "RGB":
        return image
    if mode.startswith("I;16") or mode in ("I", "F"):
        return Image.fromarray(_grey_8bit(np.asarray(image), mode), "L").convert("RGB")
    if mode == "CMYK":
        return _cmyk_to_rgb(image)
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    elif mode in ("P", "PA"):
        image = image.convert("RGBA" if mode == "PA" else "RGB")
    if image.mode in ("RGBA", "LA", "La", "RGBa"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, ALPHA_BACKGROUND + (255,))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _grey_8bit(values: np.ndarray, mode: str) -> np.ndarray:
    """Maps high-bit-depth greyscale to 0-255: 16-bit by its full range, floats by 0-1 or 0-255."""
    values = values.astype(np.float64)
    if mode.startswith("I;16") or (mode == "I" and values.min() >= 0 and values.max() <= 65535):
        scaled = values / 257.0
    elif mode == "F" and values.min() >= 0 and values.max() <= 1.0:
        scaled = values * 255.0
    elif mode == "F" and values.min() >= 0 and values.max() <= 255.0:
        scaled = values
    else:  # an unusual range (negative, or beyond 16 bits): stretch what is there
        low, high = float(np.nanmin(values)), float(np.nanmax(values))
        scaled = (values - low) * (255.0 / (high - low)) if high > low else np.zeros_like(values)
    return np.clip(np.nan_to_num(scaled), 0, 255).round().astype(np.uint8)


def _cmyk_to_rgb(image: Image.Image) -> Image.Image:
    profile = image.info.get("icc_profile")
    if profile:
        try:
            return ImageCms.profileToProfile(
                image, ImageCms.ImageCmsProfile(io.BytesIO(profile)), SRGB_PROFILE, outputMode="RGB"
            )
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: the plain conversion below is still a faithful picture
    return image.convert("RGB")


def _check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width < MIN_SIDE or height < MIN_SIDE:
        raise ImageRejected(f"The image is too small ({width}×{height}); at least {MIN_SIDE} px per side.")
    if width * height > max_pixels:
        raise ImageRejected(
            f"The image has {width * height:,} pixels, more than the limit of {max_pixels:,} "
            "(possible decompression bomb).",
            code="too_large",
        )


def image_load(path: Path | str | BinaryIO, *, max_pixels: int) -> Image.Image:
    """Reads an image file from storage as RGB, applying its EXIF orientation."""
    if isinstance(path, (str, Path)):
        data = Path(path).read_bytes()
    else:
        data = path.read()
    return image_decode(data, max_pixels=max_pixels).image
