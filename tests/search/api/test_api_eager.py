"""The API over real engines, tasks run eagerly (in process): real SSCD descriptor, Milvus Lite, OpenCV."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from search.collection import services as collection_services
from search.collection.models import ReferenceImage
from tests.images import edited_copy, encode, image_upload, scene
from workers import runtime

pytestmark = pytest.mark.django_db(transaction=True)


def test_references_then_a_query_with_wait_returns_the_true_reference_first(api, collection, isc_settings, eager_tasks):
    seeds = range(100, 106)
    files = [image_upload(f"ref{seed}.jpg", seed) for seed in seeds]
    response = api.post(f"/api/collections/{collection.id}/references/batch/", {"files": files}, format="multipart")
    assert response.status_code == 201 and len(response.json()["created"]) == len(seeds)
    indexed = api.get(f"/api/collections/{collection.id}/references/?status=indexed").json()
    assert indexed["count"] == len(seeds), api.get(f"/api/collections/{collection.id}/references/").json()

    copy = image_upload("meme.jpg", data=encode(edited_copy(scene(102))))
    response = api.post(f"/api/collections/{collection.id}/queries/?wait=10", {"file": copy}, format="multipart")
    assert response.status_code == 201, response.json()
    result = response.json()
    assert result["status"] == "indexed" and result["finished"]
    best = result["matches"][0]
    assert best["reference"]["original_name"] == "ref102.jpg"
    assert best["is_copy"] and best["verified"] and best["inliers"] >= 8
    assert len(best["keypoint_pairs"]) == best["inliers"]
    assert all(0.0 <= value <= 1.0 for pair in best["keypoint_pairs"] for value in pair)
    assert all(other["final_score"] < best["final_score"] for other in result["matches"][1:])


def test_a_deleted_reference_keeps_its_vector_until_the_purge_removes_vector_file_and_features(
    api, collection, isc_settings, eager_tasks
):
    files = [image_upload(f"ref{seed}.jpg", seed) for seed in (410, 411)]
    created = api.post(
        f"/api/collections/{collection.id}/references/batch/", {"files": files}, format="multipart"
    ).json()["created"]
    reference = ReferenceImage.objects.get(id=created[0]["id"])
    store, version = runtime.vector_store_get(), runtime.descriptor_get().version
    assert store.vectors_count(model_version=version, collection_id=collection.id) == 2
    assert default_storage.exists(reference.file.name) and Path(reference.local_features).exists()

    assert api.delete(f"/api/references/{reference.id}/").status_code == 204
    assert store.vectors_count(model_version=version, collection_id=collection.id) == 2, "restorable until the purge"

    after_grace = timezone.now() + timedelta(days=isc_settings.ISC.reference_delete_grace_days, minutes=1)
    assert collection_services.references_purge_expired(now=after_grace) == 1

    assert store.vectors_count(model_version=version, collection_id=collection.id) == 1
    assert not default_storage.exists(reference.file.name)
    assert not Path(reference.local_features).exists()
    assert list(ReferenceImage.objects.filter(collection=collection).values_list("id", flat=True)) == [created[1]["id"]]
