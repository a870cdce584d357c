"""Hash lists out: a bank's entries, or a collection's references, in any of the three formats."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np
from django.db.models import Q
from django.utils import timezone

from copydetect.hashlists import HashEntry, HashListFormat, SignalType, hashlist_lines, sscd_signal_of
from copydetect.signals import PDQ_MIN_QUALITY
from search.banks.models import Bank
from search.collection.models import Collection, ImageStatus, ReferenceImage

EXPORT_BATCH = 2000
# Reads the SSCD descriptors of reference ids (from Milvus); the caller has the store.
VectorsRead = Callable[[Sequence[int]], dict[int, np.ndarray]]


def _by_id(rows) -> Iterator[ReferenceImage]:
    after = 0
    while True:
        batch = list(rows.filter(id__gt=after).order_by("id")[:EXPORT_BATCH])
        if not batch:
            return
        yield from batch
        after = batch[-1].id


def bank_export_entries(*, bank: Bank, signal_types: Iterable[str] | None = None) -> Iterator[HashEntry]:
    """The bank's entries that match queries (disabled ones are left out), oldest first."""
    rows = bank.entries.filter(deleted_at__isnull=True).filter(
        Q(disabled_until__isnull=True) | Q(disabled_until__lte=timezone.now())
    )
    if signal_types is not None:
        rows = rows.filter(signal_type__in=list(signal_types))
    for row in _by_id(rows):
        yield HashEntry(
            signal_type=SignalType(row.signal_type),
            signal=row.signal,
            external_id=row.external_id or "",
            tags=tuple(row.tags or ()),
            source=row.source,
            category=row.category,
        )


def collection_export_entries(
    *, collection: Collection, signal_types: Iterable[str], vectors_read: VectorsRead | None = None
) -> Iterator[HashEntry]:
    """A hash per reference picture and signal type: PDQ (only where PDQ's quality is good enough to
    match on), MD5, and SSCD when `vectors_read` is given. The external id is the reference's own
    (or its file name), so a partner's match points back to the picture."""
    wanted = {SignalType(name) for name in signal_types}
    rows = collection.references.filter(deleted_at__isnull=True, status=ImageStatus.INDEXED)
    batch: list[ReferenceImage] = []

    def entries(references: list[ReferenceImage]) -> Iterator[HashEntry]:
        vectors = vectors_read([r.id for r in references]) if vectors_read and SignalType.SSCD in wanted else {}
        for reference in references:
            external_id = reference.external_id or reference.original_name
            if SignalType.PDQ in wanted and reference.pdq and (reference.pdq_quality or 0) >= PDQ_MIN_QUALITY:
                yield HashEntry(SignalType.PDQ, reference.pdq, external_id=external_id)
            if SignalType.MD5 in wanted and reference.md5:
                yield HashEntry(SignalType.MD5, reference.md5, external_id=external_id)
            if reference.id in vectors:
                yield HashEntry(SignalType.SSCD, sscd_signal_of(vectors[reference.id]), external_id=external_id)

    for reference in _by_id(rows):
        batch.append(reference)
        if len(batch) >= EXPORT_BATCH:
            yield from entries(batch)
            batch = []
    yield from entries(batch)


def hashlist_export_lines(entries: Iterable[HashEntry], *, format: str, collab: str) -> Iterator[str]:
    return hashlist_lines(entries, format=HashListFormat(format), collab=collab)
