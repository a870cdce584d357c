"""Signal lookups of the HMA-compatible API, in the web process: MD5 through the database, PDQ against
the team's enabled banks' PDQ entries held in memory as packed words and refreshed when any of them
changes (one indexed MAX(changed_at) a request), compared with one vectorised XOR and popcount
(copydetect/lookback.py). A query is one hash, so the scan is linear in the team's PDQ entries; the
workers' multi-index PDQ index (workers/banks.py) serves the query pipeline's lookups at scale.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
from django.db.models import Max, Q
from django.utils import timezone

from copydetect.lookback import pdq_words
from search.banks.models import Bank
from search.collection.models import ReferenceImage


@dataclass(frozen=True)
class SignalHit:
    entry_id: int
    bank_id: int
    distance: int  # 0 for MD5


@dataclass
class _TeamPdq:
    stamp: tuple
    ids: np.ndarray
    banks: np.ndarray
    words: np.ndarray


_cache: dict[int, _TeamPdq] = {}
_lock = threading.Lock()


def _live(rows):
    return rows.filter(deleted_at__isnull=True).filter(
        Q(disabled_until__isnull=True) | Q(disabled_until__lte=timezone.now())
    )


def _team_pdq(team_id: int) -> _TeamPdq:
    rows = ReferenceImage.objects.filter(bank__team_id=team_id, signal_type="pdq")
    stamp = tuple(rows.aggregate(changed=Max("changed_at"), top=Max("id")).values())
    with _lock:
        cached = _cache.get(team_id)
        if cached is not None and cached.stamp == stamp:
            return cached
    values = list(_live(rows).values_list("id", "bank_id", "pdq"))
    loaded = _TeamPdq(
        stamp=stamp,
        ids=np.array([v[0] for v in values], dtype=np.int64),
        banks=np.array([v[1] for v in values], dtype=np.int64),
        words=pdq_words([v[2] for v in values]),
    )
    with _lock:
        _cache[team_id] = loaded
    return loaded


def signal_lookup(*, team_id: int, signal_type: str, signal: str, bank_ids: set[int] | None = None) -> list[SignalHit]:
    """Entries of the team's enabled banks (or of `bank_ids` among them) that `signal` matches: PDQ within
    each bank's threshold, MD5 equal. Closest first."""
    thresholds = dict(Bank.objects.filter(team_id=team_id, enabled=True).values_list("id", "pdq_threshold"))
    if bank_ids is not None:
        thresholds = {bank: limit for bank, limit in thresholds.items() if bank in bank_ids}
    if not thresholds:
        return []
    if signal_type == "md5":
        rows = _live(ReferenceImage.objects.filter(bank_id__in=list(thresholds), signal_type="md5", md5=signal))
        return [
            SignalHit(entry_id=i, bank_id=b, distance=0) for i, b in rows.values_list("id", "bank_id").order_by("id")
        ]
    team = _team_pdq(team_id)
    if not len(team.ids):
        return []
    distances = np.bitwise_count(team.words ^ pdq_words([signal])[0]).sum(axis=1, dtype=np.int32)
    limits = np.full(len(team.ids), -1, dtype=np.int32)  # entries of other or disabled banks never match
    for bank, limit in thresholds.items():
        limits[team.banks == bank] = limit
    found = np.nonzero(distances <= limits)[0]
    hits = [SignalHit(entry_id=int(team.ids[i]), bank_id=int(team.banks[i]), distance=int(distances[i])) for i in found]
    return sorted(hits, key=lambda hit: (hit.distance, hit.entry_id))
