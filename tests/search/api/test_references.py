import io
from datetime import timedelta

import pytest
from django.utils import timezone

from search.collection.models import ImageStatus, ReferenceImage
from search.queries.models import Match
from tests.images import encode, image_upload, scene

pytestmark = pytest.mark.django_db


def _references_url(collection) -> str:
    return f"/api/collections/{collection.id}/references/"


def test_uploading_one_reference_stores_it_pending(api, collection, media_root):
    response = api.post(_references_url(collection), {"file": image_upload("cat.jpg", 1)}, format="multipart")
    assert response.status_code == 201
    body = response.json()
    assert body["original_name"] == "cat.jpg" and body["status"] == "pending"
    assert (body["width"], body["height"]) == (480, 360) and body["file_url"].startswith("http://testserver/")
    assert ReferenceImage.objects.get(id=body["id"]).collection == collection


def test_uploading_the_same_bytes_again_is_a_duplicate_naming_the_existing_reference(api, collection, media_root):
    first = api.post(_references_url(collection), {"file": image_upload("a.jpg", 1)}, format="multipart").json()
    response = api.post(_references_url(collection), {"file": image_upload("b.jpg", 1)}, format="multipart")
    assert response.status_code == 409
    assert response.json()["code"] == "duplicate" and response.json()["existing_id"] == first["id"]


@pytest.mark.parametrize(
    ("data", "code", "status"),
    [
        (b"just some text", "bad_image", 400),
        (encode(scene(1))[:400], "bad_image", 400),
        (b"", "bad_image", 400),
    ],
)
def test_a_bad_image_is_refused_with_its_code(api, collection, media_root, data, code, status):
    response = api.post(_references_url(collection), {"file": image_upload("x.jpg", data=data)}, format="multipart")
    assert response.status_code == status and response.json()["code"] == code
    assert not ReferenceImage.objects.exists()


def test_a_file_over_the_byte_limit_is_too_large(api, collection, media_root, settings):
    settings.ISC = settings.ISC.replace(max_upload_bytes=1000)
    response = api.post(_references_url(collection), {"file": image_upload("big.jpg")}, format="multipart")
    assert response.status_code == 413 and response.json()["code"] == "too_large"
    assert "the limit is" in response.json()["detail"], "the same message as on the web page"


def test_an_image_over_the_pixel_limit_is_too_large(api, collection, media_root, settings):
    settings.ISC = settings.ISC.replace(max_image_pixels=100_000)
    response = api.post(_references_url(collection), {"file": image_upload("wide.jpg")}, format="multipart")
    assert response.status_code == 413 and response.json()["code"] == "too_large"


def test_no_file_is_missing_file(api, collection):
    response = api.post(_references_url(collection), {}, format="multipart")
    assert response.status_code == 400 and response.json()["code"] == "missing_file"


def test_json_instead_of_multipart_is_unsupported_media_type(api, collection):
    response = api.post(_references_url(collection), {"file": "x"}, format="json")
    assert response.status_code == 415 and response.json()["code"] == "unsupported_media_type"


def test_a_batch_reports_each_file(api, collection, media_root, settings):
    settings.ISC = settings.ISC.replace(max_upload_bytes=60_000)
    api.post(_references_url(collection), {"file": image_upload("known.jpg", 5)}, format="multipart")
    files = [
        image_upload("new1.jpg", 1),
        image_upload("new2.jpg", 2),
        image_upload("again.jpg", 5),
        image_upload("notes.jpg", data=b"not an image"),
        image_upload("huge.png", data=b"\x89PNG" + b"0" * 70_000),
    ]
    response = api.post(f"{_references_url(collection)}batch/", {"files": files}, format="multipart")
    assert response.status_code == 201
    report = response.json()
    assert sorted(r["original_name"] for r in report["created"]) == ["new1.jpg", "new2.jpg"]
    assert report["duplicates"] == ["again.jpg"]
    assert {r["name"]: r["code"] for r in report["rejected"]} == {"notes.jpg": "bad_image", "huge.png": "too_large"}
    assert collection.references.count() == 3


def test_a_batch_with_nothing_new_answers_200(api, collection, media_root):
    files = [image_upload("bad.jpg", data=b"nope")]
    response = api.post(f"{_references_url(collection)}batch/", {"files": files}, format="multipart")
    assert response.status_code == 200 and response.json()["created"] == []


def test_a_batch_over_the_file_limit_is_too_many_files(api, collection, media_root, settings):
    settings.ISC_API = {**settings.ISC_API, "MAX_BATCH_FILES": 2}
    files = [image_upload(f"r{i}.jpg", i) for i in range(3)]
    response = api.post(f"{_references_url(collection)}batch/", {"files": files}, format="multipart")
    assert response.status_code == 400 and response.json()["code"] == "too_many_files"
    assert not ReferenceImage.objects.exists()


def test_an_empty_batch_is_missing_file(api, collection):
    response = api.post(f"{_references_url(collection)}batch/", {}, format="multipart")
    assert response.status_code == 400 and response.json()["code"] == "missing_file"


def test_listing_references_with_their_status_and_a_filter(api, collection, media_root):
    for seed in range(3):
        api.post(_references_url(collection), {"file": image_upload(f"r{seed}.jpg", seed)}, format="multipart")
    ReferenceImage.objects.filter(original_name="r1.jpg").update(status=ImageStatus.INDEXED)
    everything = api.get(_references_url(collection)).json()
    assert everything["count"] == 3
    assert {r["original_name"]: r["status"] for r in everything["results"]} == {
        "r0.jpg": "pending",
        "r1.jpg": "indexed",
        "r2.jpg": "pending",
    }
    indexed = api.get(f"{_references_url(collection)}?status=indexed").json()
    assert [r["original_name"] for r in indexed["results"]] == ["r1.jpg"]


def test_an_unknown_status_filter_is_invalid_parameter(api, collection):
    response = api.get(f"{_references_url(collection)}?status=done")
    assert response.status_code == 400 and response.json()["code"] == "invalid_parameter"


def test_deleting_a_reference_takes_it_out_of_the_results_and_restoring_brings_it_back(api, searched_query):
    # The purge after the grace period (vector, file, features) runs through the real task in test_api_eager.py.
    reference = searched_query.matches.order_by("rank").first().reference
    matches_url = f"/api/queries/{searched_query.id}/matches/"
    before = [m["reference"]["id"] for m in api.get(matches_url).json()["results"]]

    assert api.delete(f"/api/references/{reference.id}/").status_code == 204

    deleted = api.get(f"/api/references/{reference.id}/").json()
    assert deleted["deleted_at"] is not None
    assert deleted["purge_after"] > deleted["deleted_at"]
    assert reference.id not in [m["reference"]["id"] for m in api.get(matches_url).json()["results"]]
    assert Match.objects.filter(reference_id=reference.id).exists(), "kept until the purge, for the restore"

    restored = api.post(f"/api/references/{reference.id}/restore/")
    assert restored.status_code == 200
    assert (restored.json()["deleted_at"], restored.json()["purge_after"]) == (None, None)
    assert [m["reference"]["id"] for m in api.get(matches_url).json()["results"]] == before


def test_deleting_twice_is_a_no_op_and_a_reference_not_deleted_restores_as_it_is(api, searched_query):
    reference = searched_query.matches.order_by("rank").first().reference
    assert api.post(f"/api/references/{reference.id}/restore/").json()["deleted_at"] is None
    assert api.delete(f"/api/references/{reference.id}/").status_code == 204
    first = ReferenceImage.objects.get(id=reference.id).deleted_at
    assert api.delete(f"/api/references/{reference.id}/").status_code == 204
    assert ReferenceImage.objects.get(id=reference.id).deleted_at == first


def test_restoring_after_the_grace_period_is_restore_expired(api, searched_query, settings):
    reference = searched_query.matches.order_by("rank").first().reference
    api.delete(f"/api/references/{reference.id}/")
    long_ago = timezone.now() - timedelta(days=settings.ISC.reference_delete_grace_days, minutes=1)
    ReferenceImage.objects.filter(id=reference.id).update(deleted_at=long_ago)

    response = api.post(f"/api/references/{reference.id}/restore/")

    assert response.status_code == 409 and response.json()["code"] == "restore_expired"
    assert ReferenceImage.objects.get(id=reference.id).deleted_at == long_ago


def test_retrieving_one_reference(api, collection, media_root):
    created = api.post(_references_url(collection), {"file": image_upload("a.jpg")}, format="multipart").json()
    assert api.get(f"/api/references/{created['id']}/").json() == created


def test_the_file_url_sends_the_image_to_a_token_client(api, collection, media_root):
    data = encode(scene(4))
    created = api.post(_references_url(collection), {"file": image_upload("a.jpg", data=data)}, format="multipart")
    response = api.get(created.json()["file_url"], HTTP_ACCEPT="image/jpeg")
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert b"".join(response.streaming_content) == data
    assert response["Cache-Control"] == "private, max-age=86400"


def test_a_thumbnail_is_a_small_jpeg(api, collection, media_root):
    from PIL import Image

    created = api.post(
        _references_url(collection), {"file": image_upload("a.png", data=encode(scene(4), "PNG"))}, format="multipart"
    )
    response = api.get(f"{created.json()['file_url']}?variant=thumb")
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert max(Image.open(io.BytesIO(b"".join(response.streaming_content))).size) == 256


def test_a_file_of_an_unknown_variant_or_gone_from_disk_is_an_error_with_a_code(api, collection, media_root):
    created = api.post(_references_url(collection), {"file": image_upload("a.jpg", 4)}, format="multipart").json()
    response = api.get(f"{created['file_url']}?variant=huge")
    assert response.status_code == 400 and response.json()["code"] == "invalid_parameter"
    ReferenceImage.objects.get(id=created["id"]).file.delete(save=False)
    response = api.get(created["file_url"], HTTP_ACCEPT="image/jpeg")
    assert response.status_code == 404 and response.json()["code"] == "file_missing"
