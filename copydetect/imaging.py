"""Opening untrusted image bytes safely: one place decides what counts as a usable image."""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from PIL import Image, ImageOps, UnidentifiedImageError

ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "MPO"}
MIN_SIDE = 8


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
                image = ImageOps.exif_transpose(probe).convert("RGB")
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected("The image is too large to decode safely (decompression bomb).", code="too_large") from None
    except UnidentifiedImageError:
        raise ImageRejected("The file is not an image (or its format is not supported).") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected(f"The image is truncated or corrupt ({exc}).") from None
    return _DecodedImage(image, format_name)


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
