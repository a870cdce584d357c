"""Private image files: membership-checked, DEBUG off, X-Accel-Redirect, and web-safe cached derivatives."""

import io

import pytest
from django.urls import reverse
from PIL import Image

from search.collection import services as collection_services
from search.core import media
from search.core.uploads import Payload
from search.queries import services as queries_services
from search.teams.models import Role
from tests.factories import UserFactory, collection_for
from tests.images import encode, scene

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer(client):
    user = UserFactory()
    client.force_login(user)
    return user


def _reference(collection, data: bytes, name="r.tif"):
    return collection_services.reference_images_add(
        actor=collection.created_by, collection=collection, items=[Payload(name, data)]
    ).created[0]


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_there_is_no_public_media_url(client, viewer, media_root):
    reference = _reference(collection_for(viewer, Role.VIEWER), encode(scene(1)), "r.jpg")
    assert client.get("/media/" + reference.file.name).status_code == 404
    assert client.get("/files/" + reference.file.name).status_code == 404


def test_a_tiff_reference_gets_a_jpeg_preview_and_thumbnail_made_once(client, viewer, media_root):
    collection = collection_for(viewer, Role.VIEWER)
    reference = _reference(collection, encode(scene(2), "TIFF"))
    assert reference.file.name.endswith(".tif")
    preview = client.get(reverse("search:image_file", args=["reference", reference.id, "preview"]))
    assert preview.status_code == 200 and preview["Content-Type"] == "image/jpeg"
    picture = Image.open(io.BytesIO(_body(preview)))
    assert picture.format == "JPEG" and picture.size == (480, 360), "smaller than 1024 px: kept at its size"
    thumb = client.get(reverse("search:image_file", args=["reference", reference.id, "thumb"]))
    assert Image.open(io.BytesIO(_body(thumb))).size == (256, 192)
    cached = sorted(p.name for p in (media_root / "derived").rglob("*.jpg"))
    assert cached == sorted([f"{reference.sha256}_1024.jpg", f"{reference.sha256}_256.jpg"])
    stamp = (media_root / "derived" / reference.sha256[:2] / f"{reference.sha256}_256.jpg").stat().st_mtime_ns
    client.get(reverse("search:image_file", args=["reference", reference.id, "thumb"]))
    assert (media_root / "derived" / reference.sha256[:2] / f"{reference.sha256}_256.jpg").stat().st_mtime_ns == stamp
    original = client.get(reverse("search:image_file", args=["reference", reference.id, "original"]))
    assert original["Content-Type"] == "image/tiff" and _body(original) == encode(scene(2), "TIFF")
    assert "private" in original["Cache-Control"]


def test_webp_and_bmp_queries_preview_as_jpeg(client, viewer, media_root):
    collection = collection_for(viewer, Role.UPLOADER)
    for image_format, seed in (("WEBP", 3), ("BMP", 4)):
        query, _ = queries_services.query_image_add(
            actor=viewer,
            collection=collection,
            payload=Payload(f"q.{image_format.lower()}", encode(scene(seed), image_format)),
        )
        response = client.get(reverse("search:image_file", args=["query", query.id, "preview"]))
        assert Image.open(io.BytesIO(_body(response))).format == "JPEG", image_format


def test_the_result_page_draws_keypoints_over_the_preview(client, viewer, media_root):
    collection = collection_for(viewer, Role.VIEWER)
    reference = _reference(collection, encode(scene(5)), "r.jpg")
    query, _ = queries_services.query_image_add(
        actor=collection.created_by, collection=collection, payload=Payload("q.tif", encode(scene(6), "TIFF"))
    )
    queries_services.query_results_record(
        query_id=query.id,
        descriptor_version="v",
        search_ms=1,
        results=[queries_services.MatchResult(reference.id, 0.9, True, 9, 0.5, [[0.5, 0.5, 0.5, 0.5]], 0.9)],
    )
    page = client.get(reverse("search:query_detail", args=[query.id])).content.decode()
    assert f'<image href="{reverse("search:image_file", args=["query", query.id, "preview"])}"' in page
    assert f'<image href="{reverse("search:image_file", args=["reference", reference.id, "preview"])}"' in page
    assert ".tif" not in page.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert "Confirm copy" not in page, "a viewer gets no verdict buttons"


def test_files_are_served_with_debug_off(client, viewer, media_root, settings):
    settings.DEBUG = False
    reference = _reference(collection_for(viewer, Role.VIEWER), encode(scene(7)), "r.jpg")
    for variant in ("original", "thumb", "preview"):
        response = client.get(reverse("search:image_file", args=["reference", reference.id, variant]))
        assert response.status_code == 200 and response["Content-Type"] == "image/jpeg", variant
        assert Image.open(io.BytesIO(_body(response))).format == "JPEG"


def test_with_an_accel_prefix_the_web_server_sends_the_file(client, viewer, media_root, settings):
    settings.DEBUG = False
    settings.ISC = settings.ISC.replace(media_accel_prefix="/protected/")
    reference = _reference(collection_for(viewer, Role.VIEWER), encode(scene(8), "PNG"), "r.png")
    original = client.get(reverse("search:image_file", args=["reference", reference.id, "original"]))
    assert original.status_code == 200 and original.content == b""
    assert original["X-Accel-Redirect"] == f"/protected/{reference.file.name}"
    assert original["Content-Type"] == "image/png"
    thumb = client.get(reverse("search:image_file", args=["reference", reference.id, "thumb"]))
    assert thumb["X-Accel-Redirect"] == f"/protected/derived/{reference.sha256[:2]}/{reference.sha256}_256.jpg"
    assert (media_root / "derived" / reference.sha256[:2] / f"{reference.sha256}_256.jpg").exists()


def test_another_team_and_visitors_get_no_file(client, media_root, settings):
    settings.ISC = settings.ISC.replace(media_accel_prefix="/protected/")
    owner = UserFactory()
    reference = _reference(collection_for(owner, Role.ADMIN), encode(scene(9)), "r.jpg")
    urls = [reverse("search:image_file", args=["reference", reference.id, v]) for v in ("original", "thumb", "preview")]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and "X-Accel-Redirect" not in response
    stranger = UserFactory()
    collection_for(stranger, Role.ADMIN)  # an admin, but of another team
    client.force_login(stranger)
    for url in urls:
        response = client.get(url)
        assert response.status_code == 404 and "X-Accel-Redirect" not in response
    assert client.get(reverse("search:image_file", args=["reference", reference.id, "huge"])).status_code == 404
    assert client.get(reverse("search:image_file", args=["other", reference.id, "thumb"])).status_code == 404


def test_deleting_a_collection_drops_derivatives_no_other_collection_shows(
    isc_settings, eager_tasks, django_capture_on_commit_callbacks
):
    media_root = isc_settings.MEDIA_ROOT
    shared, alone = encode(scene(20)), encode(scene(21))
    first, second = collection_for(UserFactory()), collection_for(UserFactory())
    kept = _reference(second, shared, "s.jpg")
    for reference in (_reference(first, shared, "s.jpg"), _reference(first, alone, "a.jpg")):
        media.derived_file(image=reference, variant="thumb")
    with django_capture_on_commit_callbacks(execute=True):
        collection_services.collection_delete(actor=first.created_by, collection=first)
    left = [p.name for p in (media_root / "derived").rglob("*.jpg")]
    assert left == [f"{kept.sha256}_256.jpg"]


def test_a_banner_gets_a_thumbnail_and_preview_with_room_across_and_draws_at_a_readable_height(
    client, viewer, media_root
):
    from copydetect.benchmark.synthetic import textured_scene

    collection = collection_for(viewer, Role.VIEWER)
    banner = encode(textured_scene(5, size=(20000, 100)), "PNG")
    query, _ = queries_services.query_image_add(
        actor=collection.created_by, collection=collection, payload=Payload("banner.png", banner)
    )
    thumb = Image.open(io.BytesIO(_body(client.get(reverse("search:image_file", args=["query", query.id, "thumb"])))))
    assert thumb.size == (256, 64), "the middle of the banner at 4:1, not 256 × 1"
    preview = client.get(reverse("search:image_file", args=["query", query.id, "preview"]))
    width, height = Image.open(io.BytesIO(_body(preview))).size
    assert height >= 80 and width / height == pytest.approx(200, rel=0.02), (width, height)

    reference = _reference(collection, encode(scene(5)), "r.jpg")
    queries_services.query_results_record(
        query_id=query.id,
        descriptor_version="v",
        search_ms=1,
        results=[queries_services.MatchResult(reference.id, 0.9, True, 9, 0.5, [[0.5, 0.5, 0.5, 0.5]], 0.9)],
    )
    page = client.get(reverse("search:query_detail", args=[query.id]))
    assert '<div class="pair wide">' in page.content.decode()
    [view] = page.context["views"]
    assert view.query_height == 64 and view.query_width == 64 * 200, "true proportions, 64 px high, scrolls"
    assert view.reference_height == 260 and view.wide
    assert view.lines == [(32 * 200, 32, view.reference_x + 0.5 * view.reference_width, 130)]
