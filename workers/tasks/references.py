"""Tasks on reference images: index one, purge what deleted ones left."""

from __future__ import annotations

from pathlib import Path

from django.core.files.storage import default_storage

from copydetect import pipeline
from copydetect.descriptors import Descriptor
from copydetect.reposts import repost_key
from search.collection import services as collection_services
from search.collection.models import ReferenceImage
from search.core import dispatch, stored_images
from workers import banks as worker_banks
from workers import learned_features, runtime
from workers.images import image_open_with_bytes
from workers.registry import worker_task
from workers.retry import RETRY_OPTIONS
from workers.rows import TASK_OPTIONS, _row_run


@worker_task(dispatch.REFERENCE_INDEX, **TASK_OPTIONS)
def reference_index(self, reference_id: int) -> str:
    def work(descriptor: Descriptor) -> str:
        reference = ReferenceImage.objects.get(id=reference_id)
        if reference.bank_id is not None:  # a bank entry (an SSCD one the sweeper queued again): no picture
            return worker_banks.bank_entry_index(entry=reference)
        image, data = image_open_with_bytes(reference)
        features_path = stored_images.features_path_for(sha256=reference.sha256)
        learned = runtime.learned_verifier_get()
        for target in runtime.index_descriptors_get():  # the live version, and ours when a reindex builds it
            signals = pipeline.reference_index(
                image=image,
                reference_id=reference.id,
                collection_id=reference.collection_id,
                descriptor=target,
                store=runtime.vector_store_get(),
                features_path=features_path,
                learned=learned,
                learned_features_path=(
                    learned_features.learned_features_path(sha256=reference.sha256, learned=learned)
                    if learned
                    else None
                ),
                data=data,
            )
        collection_services.reference_indexed_mark(
            reference_id=reference.id,
            descriptor_version=descriptor.version,
            features_path=str(features_path),
            pdq=signals.pdq,
            pdq_quality=signals.pdq_quality,
            md5=signals.md5 or "",
        )
        return "indexed"

    return _row_run(self, ReferenceImage, reference_id, work)


@worker_task(dispatch.REFERENCES_PURGE, bind=True, acks_late=True, **RETRY_OPTIONS)
def references_purge(self, *, reference_ids: list[int], files: list[str], collection_id: int) -> None:
    """Removes what a deleted collection left outside the database: vectors and files."""
    store = runtime.vector_store_get()
    # Every version that still receives writes: the live one, and the one a reindex is building.
    for version in {descriptor.version for descriptor in runtime.index_descriptors_get()}:
        for key in (version, repost_key(version)):  # its references, and its queries' re-post index
            if store.collection_exists(model_version=key):
                store.collection_vectors_delete(model_version=key, collection_id=collection_id)
    for name in files:
        default_storage.delete(name)


@worker_task(dispatch.REFERENCE_VECTORS_PURGE, bind=True, acks_late=True, **RETRY_OPTIONS)
def reference_vectors_purge(self, *, reference_ids: list[int], files: list[str], features: list[str] = ()) -> None:
    """Removes what purged (soft-deleted, past the grace period) references left: vectors, files and local
    features (absolute paths; `features` is absent from messages queued before it existed)."""
    store = runtime.vector_store_get()
    # Every version that still receives writes: the live one, and the one a reindex is building.
    for version in {descriptor.version for descriptor in runtime.index_descriptors_get()}:
        if store.collection_exists(model_version=version):
            store.vectors_delete(model_version=version, ids=reference_ids)
    for name in files:
        default_storage.delete(name)
    for path in features:
        Path(path).unlink(missing_ok=True)


@worker_task(dispatch.REFERENCES_PURGE_EXPIRED, bind=True, acks_late=True, soft_time_limit=600, time_limit=660)
def references_purge_expired(self) -> int:
    """Beat job: purges references soft-deleted longer ago than the grace period (rows now, vectors and
    files through reference_vectors_purge)."""
    from search.collection.services import references_purge_expired as purge

    return purge()
