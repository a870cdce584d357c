"""Reconciliation against a Milvus Lite server of its own (it drops collections it does not know)."""

import os
import time

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command

from copydetect.milvus_lite import MilvusLiteServer
from search.collection import services as collection_services
from search.collection.models import ImageStatus, ReferenceImage
from search.core import stored_images
from search.core.uploads import Payload
from tests.factories import CollectionFactory
from tests.images import encode, scene
from workers import runtime

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def own_milvus(tmp_path, settings, media_root, eager_tasks):
    server = MilvusLiteServer(tmp_path / "milvus").start()
    settings.ISC = settings.ISC.replace(milvus_uri=server.uri, features_dir=str(tmp_path / "features"), warm_up=False)
    runtime.vector_store_get.cache_clear()
    yield runtime.vector_store_get()
    runtime.vector_store_get().close()
    runtime.vector_store_get.cache_clear()
    server.stop()


def _old(path: str) -> None:
    stamp = time.time() - 7200
    os.utime(path, (stamp, stamp))


def test_reconcile_repairs_milvus_and_the_disk_from_the_database(own_milvus, settings, capsys):
    store = own_milvus
    version = runtime.descriptor_get().version
    collection = CollectionFactory()
    references = collection_services.reference_images_add(
        actor=collection.created_by,
        collection=collection,
        items=[Payload(f"r{seed}.jpg", encode(scene(seed))) for seed in (800, 801, 802)],
    ).created
    assert all(ReferenceImage.objects.get(id=r.id).status == ImageStatus.INDEXED for r in references)

    lost, kept = references[0], references[1:]
    store.vectors_delete(model_version=version, ids=[lost.id])  # Milvus lost one vector
    orphan = np.asarray(store.vectors_get(model_version=version, ids=[kept[0].id])[kept[0].id])[None, :]
    store.vectors_upsert(model_version=version, ids=[999_999], vectors=orphan, collection_ids=[collection.id])
    store.collection_ensure(model_version="old-model/1", dim=8)  # a dead version
    store.collection_ensure(model_version="rollback-model/1", dim=8)
    store.alias_point(alias="live_rollback", model_version="rollback-model/1")  # an alias keeps it

    features = settings.ISC.features_dir
    orphan_features = f"{features}/ab/{'ab' * 32}.npz"
    os.makedirs(os.path.dirname(orphan_features), exist_ok=True)
    open(orphan_features, "wb").write(b"x")
    _old(orphan_features)
    orphan_media = default_storage.save("references/zz/orphan.jpg", ContentFile(encode(scene(803))))
    _old(default_storage.path(orphan_media))
    fresh_media = default_storage.save("references/zz/fresh.jpg", ContentFile(encode(scene(804))))
    for reference in references:
        _old(default_storage.path(reference.file.name))
        _old(str(stored_images.features_path_for(sha256=reference.sha256)))

    call_command("reconcile")
    printed = capsys.readouterr().out
    assert "missing_requeued: 1" in printed
    assert "orphan_vectors_deleted: 1" in printed
    assert "dead_collections_dropped: 1" in printed
    assert "orphan_feature_files_removed: 1" in printed
    assert "orphan_media_files_removed: 1" in printed

    # Eager tasks: the re-queued reference was indexed again in-process.
    assert sorted(store.vector_ids(model_version=version)) == sorted(r.id for r in references)
    assert ReferenceImage.objects.get(id=lost.id).status == ImageStatus.INDEXED
    assert not store.collection_exists(model_version="old-model/1")
    assert store.collection_exists(model_version="rollback-model/1")
    assert not os.path.exists(orphan_features)
    assert not default_storage.exists(orphan_media) and default_storage.exists(fresh_media)
    assert all(default_storage.exists(r.file.name) for r in references)
    assert all(stored_images.features_path_for(sha256=r.sha256).exists() for r in references)
    store.alias_drop(alias="live_rollback")

    call_command("reconcile")  # a second run finds nothing left to do
    printed = capsys.readouterr().out
    assert "missing_requeued: 0" in printed and "orphan_vectors_deleted: 0" in printed
