"""Private image files: the originals, and derivatives made once and cached on disk beside them."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.http import FileResponse, Http404, HttpResponse
from PIL import Image

from copydetect.imaging import ImageRejected, image_decode

# Long side in pixels. The preview is what the result page draws keypoints over; 1024 keeps the lines
# sharp at the page's 260 px picture height and a 4x zoom.
VARIANT_SIZES = {"thumb": 256, "preview": 1024}


# A banner (20000 × 100) scaled to these long sides would be a strip 1 to 5 pixels high. Its thumbnail shows
# its middle at THUMB_MAX_ASPECT; its preview (keypoints are drawn over the whole image) keeps at least
# PREVIEW_MIN_SHORT_SIDE pixels across, or all it has, with the long side within PREVIEW_MAX_LONG_SIDE.
THUMB_MAX_ASPECT = 4.0


PREVIEW_MIN_SHORT_SIDE = 128


PREVIEW_MAX_LONG_SIDE = 16384


CONTENT_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".bmp": "image/bmp",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
}


JPEG_QUALITY = 85


@dataclass(frozen=True)
class MediaFile:
    path: Path  # absolute, under MEDIA_ROOT
    relative: str  # the same path relative to MEDIA_ROOT, with '/' separators (for X-Accel-Redirect)
    content_type: str


def media_root() -> Path:
    return Path(settings.MEDIA_ROOT)


def original_file(*, image) -> MediaFile:
    relative = image.file.name
    return MediaFile(media_root() / relative, relative, _content_type(relative))


def derived_file(*, image, variant: str) -> MediaFile:
    """The cached thumbnail or preview of a stored image, made on first use.

    Always a JPEG of the pixels the matcher saw (EXIF orientation applied, converted to RGB), whatever the
    original's format, so a TIFF, WebP or BMP upload shows in every browser and the keypoints line up.
    """
    size = VARIANT_SIZES[variant]
    # Derivatives of elongated images are made another way than before; a new name leaves old slivers unused.
    suffix = "_long" if _elongated(image.width, image.height) else ""
    target = media_root() / "derived" / image.sha256[:2] / f"{image.sha256}_{size}{suffix}.jpg"
    if not target.exists():
        data = (media_root() / image.file.name).read_bytes()
        picture = image_decode(data, max_pixels=settings.ISC.max_image_pixels).image
        _atomic_save(derived_picture(picture, variant=variant), target)
    return _media_file(target)


def derived_picture(picture: Image.Image, *, variant: str) -> Image.Image:
    """The thumbnail (the middle of a banner) or the preview (the whole picture) of a decoded picture."""
    size = VARIANT_SIZES[variant]
    width, height = picture.size
    longer, shorter = max(width, height), max(min(width, height), 1)
    if variant == "thumb":
        if longer / shorter > THUMB_MAX_ASPECT:
            kept = round(shorter * THUMB_MAX_ASPECT)
            if width > height:
                picture = picture.crop(((width - kept) // 2, 0, (width - kept) // 2 + kept, height))
            else:
                picture = picture.crop((0, (height - kept) // 2, width, (height - kept) // 2 + kept))
        picture.thumbnail((size, size), Image.Resampling.LANCZOS)
        return picture
    scale = min(1.0, size / longer)
    if shorter * scale < PREVIEW_MIN_SHORT_SIDE:
        scale = min(1.0, max(scale, PREVIEW_MIN_SHORT_SIDE / shorter), PREVIEW_MAX_LONG_SIDE / longer)
    if scale < 1.0:
        picture = picture.resize(
            (max(1, round(width * scale)), max(1, round(height * scale))), Image.Resampling.LANCZOS
        )
    return picture


def _elongated(width: int | None, height: int | None) -> bool:
    if not width or not height:
        return False
    return max(width, height) / min(width, height) > THUMB_MAX_ASPECT


VARIANTS = ("original", *VARIANT_SIZES)


def image_response(*, image, variant: str) -> HttpResponse:
    """The response sending an image the caller has already fetched through the user's teams: the
    original, its 256 px thumbnail or its web-safe preview; Http404 when the file is missing or unreadable.
    The pages (/files/...) and the API (/api/.../file/) both answer with it."""
    if variant == "original":
        stored = original_file(image=image)
    elif variant in VARIANT_SIZES:
        try:
            stored = derived_file(image=image, variant=variant)
        except (FileNotFoundError, ImageRejected):
            raise Http404("The image file is missing or unreadable.") from None
    else:
        raise Http404("Unknown image variant.")
    return _media_response(stored)


def _media_response(stored: MediaFile) -> HttpResponse:
    """With ISC_MEDIA_ACCEL_PREFIX set, the web server (nginx 'internal' location) sends the bytes."""
    prefix = settings.ISC.media_accel_prefix
    if prefix:
        response = HttpResponse(content_type=stored.content_type)
        response["X-Accel-Redirect"] = prefix.rstrip("/") + "/" + quote(stored.relative)
    else:
        try:
            response = FileResponse(stored.path.open("rb"), content_type=stored.content_type)
        except FileNotFoundError:
            raise Http404("The image file is missing.") from None
    # Private: shared caches must not keep a team's images; names are content hashes, so a day is safe.
    response["Cache-Control"] = "private, max-age=86400"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _atomic_save(picture: Image.Image, target: Path) -> None:
    """Two requests making the same derivative at once each write a temporary file; one rename wins."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            picture.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _media_file(path: Path) -> MediaFile:
    return MediaFile(path, path.relative_to(media_root()).as_posix(), _content_type(path.name))


def _content_type(name: str) -> str:
    return CONTENT_TYPES.get(Path(name).suffix.lower(), "application/octet-stream")


def derived_purge(*, sha256s: list[str]) -> int:
    """Removes the cached derivatives of these contents; returns how many files went."""
    removed = 0
    for sha in sha256s:
        for path in (media_root() / "derived" / sha[:2]).glob(f"{sha}_*"):
            path.unlink(missing_ok=True)
            removed += 1
    return removed
