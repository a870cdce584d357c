"""Listing a job's source: what a zip or a folder holds, and what is refused before a worker reads a byte."""

import io
import os
import zipfile

import pytest

from search.core.uploads import UploadError
from search.ingest.items import folder_list, zip_directory_check
from tests.images import encode, scene


def _zip(path, entries: dict[str, bytes]):
    with zipfile.ZipFile(path, "w") as bundle:
        for name, data in entries.items():
            bundle.writestr(name, data)
    return path


def test_an_empty_zip_and_a_file_that_is_not_a_zip_are_refused(tmp_path):
    with pytest.raises(UploadError, match="empty"):
        zip_directory_check(_zip(tmp_path / "empty.zip", {}))
    (tmp_path / "fake.zip").write_bytes(b"PK\x03\x04 but not really")
    with pytest.raises(UploadError, match="not a readable zip"):
        zip_directory_check(tmp_path / "fake.zip")


def test_too_many_members_are_refused(tmp_path, settings):
    settings.ISC = settings.ISC.replace(ingest_max_files=3)
    with pytest.raises(UploadError, match="more than the limit of 3"):
        zip_directory_check(_zip(tmp_path / "many.zip", {f"{i}.jpg": b"x" for i in range(4)}))


def test_a_zip_bomb_is_refused_from_its_declared_sizes(tmp_path, settings):
    settings.ISC = settings.ISC.replace(max_zip_uncompressed_bytes=1_000_000)
    with pytest.raises(UploadError, match="expands to 2,000,000 bytes"):
        zip_directory_check(_zip(tmp_path / "bomb.zip", {"zeros.bmp": b"\x00" * 2_000_000}))


def test_members_are_listed_by_their_path(tmp_path):
    members = zip_directory_check(_zip(tmp_path / "ok.zip", {"a/one.jpg": encode(scene(1)), "two.png": b"y"}))
    assert [info.filename for info in members] == ["a/one.jpg", "two.png"]


def test_a_folder_lists_its_images_and_skips_symlinks_leaving_it(tmp_path):
    folder = tmp_path / "imports"
    (folder / "batch").mkdir(parents=True)
    (folder / "batch" / "a.jpg").write_bytes(encode(scene(1)))
    (folder / "batch" / "notes.txt").write_text("ignored")
    outside = tmp_path / "secret.jpg"
    outside.write_bytes(encode(scene(2)))
    os.symlink(outside, folder / "link.jpg")
    entries, rejections = folder_list(folder)
    assert [entry["name"] for entry in entries] == ["batch/a.jpg"]
    assert rejections == [("link.jpg", "Symbolic link leading outside the folder; skipped.")]
    (folder / "empty").mkdir()
    with pytest.raises(UploadError, match="No image files"):
        folder_list(folder / "empty")


def test_tiff_is_an_image_wherever_images_are_listed(tmp_path):
    folder = tmp_path / "tiffs"
    folder.mkdir()
    image = io.BytesIO()
    scene(3).save(image, format="TIFF")
    (folder / "scan.tif").write_bytes(image.getvalue())
    entries, _ = folder_list(folder)
    assert [entry["name"] for entry in entries] == ["scan.tif"]
