"""Reconciliation: the database is the truth; Milvus and the disk are brought in line with it.

- references the database calls indexed for the live descriptor version whose vector Milvus lacks
  are queued again (marked pending first, so the page does not claim they are searchable);
- vectors whose reference row no longer exists are deleted;
- the live version's re-post index (copydetect/reposts.py) gets the leading queries it lacks (a worker
  that died between recording a result and adding its query) and loses rows that lead nothing any more;
- collections of dead versions are dropped: managed collections that are neither the current
  descriptor version's, nor an alias target, nor the target of a queued or running reindex;
- feature files and media files that no row refers to are removed (only when older than a grace
  period, because an upload stores its file a moment before its row).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.utils import timezone

from copydetect.reposts import repost_collection_name, repost_key, repost_leaders_add
from copydetect.vector_store import collection_name
from search.collection.models import ImageStatus, ReferenceImage
from search.core import stored_images
from search.queries.models import QueryImage
from search.reindex.models import IndexVersion, ReindexJob
from search.reindex.selectors import index_version_live_get
from workers import runtime
from workers.reposts import leader_queries, leader_rows

logger = logging.getLogger(__name__)

MEDIA_FOLDERS = ("references", "queries")  # where services store uploads
DELETE_BATCH = 1000


@dataclass(frozen=True)
class ReconcileReport:
    descriptor_version: str
    database_indexed: int
    milvus_vectors: int
    missing_requeued: int
    orphan_vectors_deleted: int
    repost_leaders_added: int
    repost_rows_deleted: int
    dead_collections_dropped: int
    orphan_feature_files_removed: int
    orphan_media_files_removed: int

    def summary(self) -> str:
        return (
            f"version {self.descriptor_version}: {self.database_indexed} indexed in the database, "
            f"{self.milvus_vectors} vectors in Milvus; re-queued {self.missing_requeued} missing, "
            f"deleted {self.orphan_vectors_deleted} orphan vectors, added {self.repost_leaders_added} and deleted "
            f"{self.repost_rows_deleted} re-post index rows, dropped {self.dead_collections_dropped} "
            f"dead collections, removed {self.orphan_feature_files_removed} feature files and "
            f"{self.orphan_media_files_removed} media files"
        )


def reconcile_run(*, dry_run: bool = False, file_grace_seconds: float | None = None) -> ReconcileReport:
    grace = settings.ISC.orphan_file_grace_seconds if file_grace_seconds is None else file_grace_seconds
    store = runtime.vector_store_get()
    live = index_version_live_get()
    # Searches read the live version; every indexed reference belongs there (uploads during a reindex
    # are written to both versions).
    version = live.version if live is not None else runtime.descriptor_get().version

    # Read Milvus before the database: a reference indexed in between is then in the database only
    # (re-queued, harmless), never in Milvus only (which would delete a fresh vector).
    milvus_ids = set(store.vector_ids(model_version=version))
    # Bank entries have no picture to index again; their SSCD vectors count as existing rows below.
    indexed = set(
        ReferenceImage.objects.filter(status=ImageStatus.INDEXED, bank__isnull=True).values_list("id", flat=True)
    )
    existing = set(ReferenceImage.objects.filter(id__in=milvus_ids).values_list("id", flat=True))
    missing = sorted(indexed - milvus_ids)
    orphans = sorted(milvus_ids - existing)

    if not dry_run:
        for reference_id in missing:
            ReferenceImage.objects.filter(id=reference_id, status=ImageStatus.INDEXED).update(
                status=ImageStatus.PENDING, notice="Its vector was missing from the index; indexing again.", attempts=0
            )
            stored_images.stored_image_queue(model=ReferenceImage, image_id=reference_id)
        for start in range(0, len(orphans), DELETE_BATCH):
            store.vectors_delete(model_version=version, ids=orphans[start : start + DELETE_BATCH])

    reposts_added, reposts_deleted = _repost_index_repair(store, version, dry_run=dry_run)

    dead = _dead_collections(store, version)
    if not dry_run:
        for name in dead:
            store.collection_drop_named(name)

    features = _orphan_feature_files(grace)
    media = _orphan_media_files(grace)
    if not dry_run:
        for path in features:
            path.unlink(missing_ok=True)
        for name in media:
            default_storage.delete(name)

    report = ReconcileReport(
        descriptor_version=version,
        database_indexed=len(indexed),
        milvus_vectors=len(milvus_ids),
        missing_requeued=len(missing),
        orphan_vectors_deleted=len(orphans),
        repost_leaders_added=reposts_added,
        repost_rows_deleted=reposts_deleted,
        dead_collections_dropped=len(dead),
        orphan_feature_files_removed=len(features),
        orphan_media_files_removed=len(media),
    )
    logger.info("reconcile%s: %s", " (dry run)" if dry_run else "", report.summary())
    return report


def _repost_index_repair(store, version: str, *, dry_run: bool) -> tuple[int, int]:
    """(leaders added, rows deleted) in the version's re-post index; nothing before its first search
    has created (and backfilled) it."""
    key = repost_key(version)
    dim = store.collection_dim(model_version=key)
    if dim is None:
        return 0, 0
    # Milvus first, as above: a leader added in between is re-added (harmless), never deleted.
    indexed = set(store.vector_ids(model_version=key))
    leaders = set(leader_queries(descriptor_version=version).values_list("id", flat=True))
    stale = sorted(indexed - leaders)
    added = 0
    for ids, vectors, collection_ids in leader_rows(descriptor_version=version, dim=dim, only_ids=leaders - indexed):
        if not dry_run:
            repost_leaders_add(
                store=store, descriptor_version=version, query_ids=ids, vectors=vectors, collection_ids=collection_ids
            )
        added += len(ids)
    if not dry_run:
        for start in range(0, len(stale), DELETE_BATCH):
            store.vectors_delete(model_version=key, ids=stale[start : start + DELETE_BATCH])
    return added, len(stale)


def _dead_collections(store, version: str) -> list[str]:
    versions = {version, runtime.descriptor_get().version}
    # Versions being built, and retired ones kept for `reindex --rollback`.
    kept_states = [IndexVersion.State.LIVE, IndexVersion.State.BUILDING, IndexVersion.State.RETIRED]
    versions |= set(IndexVersion.objects.filter(state__in=kept_states).values_list("version", flat=True))
    # A reindex fills its new collection before the alias moves: it is alive while the job is.
    active = ReindexJob.objects.filter(state__in=[ReindexJob.State.QUEUED, ReindexJob.State.RUNNING])
    versions |= {v for v in active.values_list("descriptor_version", flat=True) if v}
    keep = {collection_name(v) for v in versions} | {repost_collection_name(v) for v in versions}
    keep |= store.alias_targets()
    return [name for name in store.collection_names() if name not in keep]


def _orphan_feature_files(grace_seconds: float) -> list[Path]:
    root = Path(settings.ISC.features_dir)
    if not root.is_dir():
        return []
    known = set(ReferenceImage.objects.values_list("sha256", flat=True))
    cutoff = time.time() - grace_seconds
    return [path for path in root.glob("*/*.npz") if path.stem not in known and path.stat().st_mtime < cutoff]


def _orphan_media_files(grace_seconds: float) -> list[str]:
    known = set(ReferenceImage.objects.values_list("file", flat=True)) | set(
        QueryImage.objects.values_list("file", flat=True)
    )
    cutoff = timezone.now() - timedelta(seconds=grace_seconds)
    orphans = []
    for folder in MEDIA_FOLDERS:
        for name in _storage_files(folder):
            if name not in known and default_storage.get_modified_time(name) < cutoff:
                orphans.append(name)
    return orphans


def _storage_files(folder: str) -> list[str]:
    """Every file under `folder` in the default storage (any backend with listdir)."""
    if not default_storage.exists(folder):
        return []
    directories, files = default_storage.listdir(folder)
    names = [f"{folder}/{name}" for name in files]
    for directory in directories:
        names.extend(_storage_files(f"{folder}/{directory}"))
    return names
