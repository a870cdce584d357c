"""Bank lookups in a worker process: the PDQ index of every bank entry, kept in step with the database,
MD5 through the database, SSCD entries through Milvus; and the SSCD vectors of imported entries."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta

import numpy as np
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from copydetect.bank_lookup import SSCD_BANK_MIN_SIMILARITY, BankHit, pdq_bank_hits
from copydetect.descriptors import Descriptor
from copydetect.hashlists import sscd_vector_of
from copydetect.pdq_index import PdqChange, PdqIndex
from copydetect.signals import ImageSignals
from search.banks.imports import SscdTarget
from search.banks.models import Bank, SignalType
from search.banks.services import EntriesAdded
from search.collection.models import ImageStatus, ReferenceImage
from workers import runtime

logger = logging.getLogger(__name__)

# How often a process asks the database for bank changes: an addition is matched within this.
POLL_SECONDS = 2.0
# Changes are read again this far back: a transaction that stamped `changed_at` just before a poll may
# commit just after it. A change already applied (same entry, same stamp) is not applied twice. Writers
# whose transaction may outlast this stamp the rows again once committed (a bank import does).
POLL_OVERLAP = timedelta(seconds=10)
LOAD_BATCH = 50_000
SSCD_TOP_K = 5


def _live(rows):
    """Entries that may match: not soft-deleted, not disabled."""
    return rows.filter(deleted_at__isnull=True).filter(
        Q(disabled_until__isnull=True) | Q(disabled_until__lte=timezone.now())
    )


class BankPdqFollower:
    """One PdqIndex per process, loaded on first use and then updated from the database by `changed_at`;
    never rebuilt. Lookups take the current index without waiting for a poll in progress elsewhere."""

    def __init__(self, *, poll_seconds: float = POLL_SECONDS) -> None:
        self.poll_seconds = poll_seconds
        self._lock = threading.Lock()
        self._index: PdqIndex | None = None
        self._since: datetime | None = None
        self._polled = 0.0
        # (entry id, changed_at) applied within the overlap window, so a re-read applies nothing.
        self._applied: dict[int, datetime] = {}

    def index_get(self) -> PdqIndex:
        with self._lock:
            if self._index is None:
                self._load()
            elif time.monotonic() - self._polled >= self.poll_seconds:
                self._poll()
            return self._index

    def _rows(self):
        return ReferenceImage.objects.filter(bank__isnull=False, signal_type=SignalType.PDQ)

    def _load(self) -> None:
        started = timezone.now()
        recent = started - POLL_OVERLAP
        ids, banks, pdqs = [], [], []
        self._applied = {}
        after = 0
        while True:
            chunk = list(
                _live(self._rows())
                .filter(id__gt=after)
                .order_by("id")
                .values_list("id", "bank_id", "pdq", "changed_at")[:LOAD_BATCH]
            )
            if not chunk:
                break
            for entry_id, bank_id, pdq, changed_at in chunk:
                ids.append(entry_id)
                banks.append(bank_id)
                pdqs.append(pdq)
                if changed_at is not None and changed_at >= recent:  # the first poll re-reads these
                    self._applied[entry_id] = changed_at
            after = chunk[-1][0]
        self._index = PdqIndex()
        if ids:
            self._index.upsert(entry_ids=np.array(ids), bank_ids=np.array(banks), pdqs=pdqs)
        self._since, self._polled = started, time.monotonic()
        logger.info("bank PDQ index loaded: %d entries", len(ids))

    def _poll(self) -> None:
        started = timezone.now()
        window = self._since - POLL_OVERLAP
        rows = self._rows().filter(changed_at__gte=window)
        now = timezone.now()
        changes = []
        for entry_id, bank_id, pdq, deleted_at, disabled_until, changed_at in rows.order_by(
            "changed_at", "id"
        ).values_list("id", "bank_id", "pdq", "deleted_at", "disabled_until", "changed_at"):
            if self._applied.get(entry_id) == changed_at:
                continue
            self._applied[entry_id] = changed_at
            live = deleted_at is None and (disabled_until is None or disabled_until <= now)
            changes.append(PdqChange(entry_id=entry_id, bank_id=bank_id, pdq=pdq if live else None))
        if changes:
            self._index.changes_apply(changes, watermark=int(started.timestamp() * 1_000_000))
        self._applied = {key: stamp for key, stamp in self._applied.items() if stamp >= window}
        self._since, self._polled = started, time.monotonic()


_follower = BankPdqFollower()


def bank_pdq_index_get() -> PdqIndex:
    return _follower.index_get()


def bank_pdq_follower_reset() -> None:
    """Forgets the process's index (tests; the next lookup loads it again)."""
    global _follower
    _follower = BankPdqFollower(poll_seconds=_follower.poll_seconds)


def bank_hits_find(
    *, team_id: int, signals: ImageSignals | None, vector: np.ndarray | None, descriptor: Descriptor
) -> list[BankHit]:
    """The entries of the team's enabled banks that the query matches, by any signal."""
    banks = dict(Bank.objects.filter(team_id=team_id, enabled=True).values_list("id", "pdq_threshold"))
    if not banks:
        return []
    hits: list[BankHit] = []
    if signals is not None and signals.pdq_usable:
        variants = signals.pdq_dihedral if settings.ISC.bank_pdq_dihedral and signals.pdq_dihedral else (signals.pdq,)
        hits += pdq_bank_hits(index=bank_pdq_index_get(), pdqs=variants, banks=banks)
    if signals is not None and signals.md5:
        rows = _live(
            ReferenceImage.objects.filter(bank_id__in=list(banks), signal_type=SignalType.MD5, md5=signals.md5)
        )
        hits += [
            BankHit(entry_id=entry_id, bank_id=bank_id, signal_type="md5")
            for entry_id, bank_id in rows.values_list("id", "bank_id")
        ]
    if vector is not None:
        hits += _sscd_hits(banks=list(banks), vector=vector, descriptor=descriptor)
    return hits


def _sscd_hits(*, banks: list[int], vector: np.ndarray, descriptor: Descriptor) -> list[BankHit]:
    # Only banks that hold SSCD entries of this model cost a Milvus search.
    holding = set(
        _live(
            ReferenceImage.objects.filter(
                bank_id__in=banks,
                signal_type=SignalType.SSCD,
                status=ImageStatus.INDEXED,
                descriptor_version=descriptor.version,
            )
        )
        .values_list("bank_id", flat=True)
        .distinct()
    )
    store = runtime.vector_store_get()
    hits = []
    for bank_id in sorted(holding):
        [found] = store.vectors_search(
            model_version=descriptor.version,
            vectors=np.asarray([vector], dtype=np.float32),
            top_k=SSCD_TOP_K,
            collection_id=-bank_id,
        )
        hits += [
            BankHit(entry_id=hit.id, bank_id=bank_id, signal_type="sscd", similarity=float(hit.score))
            for hit in found
            if hit.score >= SSCD_BANK_MIN_SIMILARITY
        ]
    return hits


def sscd_target_get() -> SscdTarget | None:
    """The live model SSCD entries are held for; None when the live descriptor is no SSCD model."""
    descriptor = runtime.search_descriptor_get()
    if not descriptor.name.startswith("sscd"):
        return None
    return SscdTarget(version=descriptor.version, dimensions=descriptor.dim)


def sscd_entries_index(added: EntriesAdded | None = None, *, entry_ids: list[int] | None = None) -> int:
    """Writes the vectors of pending SSCD entries into the live version's Milvus collection, a bank per
    partition key (minus its id, apart from every collection's), and marks them indexed."""
    ids = list(entry_ids if entry_ids is not None else added.created_ids if added else [])
    rows = list(
        ReferenceImage.objects.filter(
            id__in=ids, signal_type=SignalType.SSCD, status__in=(ImageStatus.PENDING, ImageStatus.PROCESSING)
        ).values_list("id", "bank_id", "signal", "descriptor_version")
    )
    if not rows:
        return 0
    descriptor = runtime.search_descriptor_get()
    store = runtime.vector_store_get()
    store.collection_ensure(model_version=descriptor.version, dim=descriptor.dim, metric=descriptor.metric)
    usable = [row for row in rows if row[3] == descriptor.version]
    stale = [row[0] for row in rows if row[3] != descriptor.version]
    if stale:  # a reindex moved the live model on: these descriptors can never be compared again
        ReferenceImage.objects.filter(id__in=stale).update(
            status=ImageStatus.FAILED,
            error=f"an SSCD descriptor of another model version; the live one is {descriptor.version}",
            changed_at=timezone.now(),
        )
    for start in range(0, len(usable), 1000):
        part = usable[start : start + 1000]
        vectors = np.stack([sscd_vector_of(signal) for _, _, signal, _ in part])
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        store.vectors_upsert(
            model_version=descriptor.version,
            ids=[row[0] for row in part],
            vectors=vectors,
            collection_ids=[-row[1] for row in part],
        )
        ReferenceImage.objects.filter(id__in=[row[0] for row in part]).update(
            status=ImageStatus.INDEXED, processed_at=timezone.now(), changed_at=timezone.now()
        )
    return len(usable)


def bank_entry_index(*, entry: ReferenceImage) -> str:
    """The indexing task's work for a bank entry: an SSCD entry's vector goes to Milvus; PDQ and MD5 entries
    need nothing (their lookups read the row) and are marked indexed again."""
    if entry.signal_type == SignalType.SSCD:
        return "indexed" if sscd_entries_index(entry_ids=[entry.id]) else "failed"
    ReferenceImage.objects.filter(id=entry.id).update(status=ImageStatus.INDEXED, error="", attempts=0)
    return "indexed"
