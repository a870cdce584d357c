"""PDQ and MD5 for rows stored before signals were computed beside the descriptor (the backfill)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from copydetect.signals import image_signals_compute
from search.collection.models import ReferenceImage
from search.queries.models import QueryImage
from workers.images import PERMANENT_ERRORS, image_open_with_bytes

# Rows read per database round trip.
BACKFILL_BATCH = 200


@dataclass
class BackfillCount:
    filled: int = 0
    unreadable: int = 0


def signals_backfill(
    *, model: type[ReferenceImage] | type[QueryImage], progress: Callable[[int, int], None] | None = None
) -> BackfillCount:
    """Computes the signals of every row of `model` that has a picture and no PDQ yet; resumable (a row
    done is skipped next time). `progress(done, total)` after each batch."""
    pending = model.objects.filter(pdq="").exclude(file="")
    total, count, after = pending.count(), BackfillCount(), 0
    while True:
        batch = list(pending.filter(id__gt=after).order_by("id")[:BACKFILL_BATCH])
        if not batch:
            return count
        for row in batch:
            after = row.id
            try:
                image, data = image_open_with_bytes(row)
            except PERMANENT_ERRORS:
                count.unreadable += 1  # its own task fails it with the reason; nothing to hash here
                continue
            signals = image_signals_compute(image=image, data=data)
            model.objects.filter(id=row.id).update(pdq=signals.pdq, pdq_quality=signals.pdq_quality, md5=signals.md5)
            count.filled += 1
        if progress is not None:
            progress(count.filled + count.unreadable, total)
