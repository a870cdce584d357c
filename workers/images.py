"""Opening stored images on a worker; rows whose file cannot be read are failed with the reason."""

from __future__ import annotations

from django.conf import settings
from django.core.files.storage import default_storage

from copydetect.imaging import ImageRejected, image_decode, image_load
from search.collection.models import ReferenceImage
from search.core import stored_images
from search.queries.models import QueryImage

PERMANENT_ERRORS = (ImageRejected, FileNotFoundError, ReferenceImage.DoesNotExist, QueryImage.DoesNotExist)


def images_readable(references: list[ReferenceImage]) -> list[tuple[ReferenceImage, object]]:
    readable = []
    for reference in references:
        try:
            readable.append((reference, image_open(reference)))
        except PERMANENT_ERRORS as exc:
            stored_images.stored_image_fail(model=ReferenceImage, image_id=reference.id, error=str(exc))
    return readable


def image_open(row: ReferenceImage | QueryImage):
    with default_storage.open(row.file.name, "rb") as handle:
        return image_load(handle, max_pixels=settings.ISC.max_image_pixels)


def image_open_with_bytes(row: ReferenceImage | QueryImage):
    """The decoded picture and the stored bytes (the MD5 a hash list holds is of the bytes)."""
    with default_storage.open(row.file.name, "rb") as handle:
        data = handle.read()
    return image_decode(data, max_pixels=settings.ISC.max_image_pixels).image, data
