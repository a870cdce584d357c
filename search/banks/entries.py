"""Turning hash-list entries into bank-entry rows: the key that makes a signal unique in a bank and lets a
verdict on it stick, and the row's fields."""

from __future__ import annotations

import hashlib

from django.utils import timezone

from copydetect.hashlists import HashEntry, SignalType
from search.banks.models import Bank
from search.collection.models import ImageStatus, ReferenceImage


def bank_entry_key(*, signal_type: str, signal: str) -> str:
    """The entry's `sha256`: of its canonical signal, so the same signal is one entry per bank, and a
    verdict on a (query, signal) pair holds in every bank of the team that lists that signal."""
    return hashlib.sha256(f"bank-signal:{signal_type}:{signal}".encode()).hexdigest()


def bank_entry_name(entry: HashEntry) -> str:
    """What pages show where a picture's file name would be."""
    if entry.external_id:
        return entry.external_id[:300]
    shown = entry.signal if len(entry.signal) <= 20 else entry.signal[:16] + "…"
    return f"{entry.signal_type} {shown}"


def bank_entry_row(*, bank: Bank, entry: HashEntry, sscd_version: str = "", source: str = "") -> ReferenceImage:
    """An unsaved row for `entry`. PDQ and MD5 entries are ready at once (their lookups read the row);
    an SSCD entry waits until its vector is in the live version's Milvus collection."""
    now = timezone.now()
    sscd = entry.signal_type is SignalType.SSCD
    return ReferenceImage(
        bank=bank,
        collection=None,
        file="",
        original_name=bank_entry_name(entry),
        sha256=bank_entry_key(signal_type=entry.signal_type.value, signal=entry.signal),
        width=0,
        height=0,
        status=ImageStatus.PENDING if sscd else ImageStatus.INDEXED,
        descriptor_version=sscd_version if sscd else "",
        processed_at=None if sscd else now,
        signal_type=entry.signal_type.value,
        signal=entry.signal,
        pdq=entry.signal if entry.signal_type is SignalType.PDQ else "",
        md5=entry.signal if entry.signal_type is SignalType.MD5 else "",
        external_id=entry.external_id or None,
        tags=list(entry.tags),
        source=(entry.source or source)[:300],
        category=entry.category,
        changed_at=now,
    )
