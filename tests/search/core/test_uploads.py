import io
import os
import zipfile

import pytest

from search.core.uploads import Payload, Rejection, UploadError, UploadLimits, files_read, folder_read, zip_read
from tests.images import encode, scene

LIMITS = UploadLimits(max_file_bytes=2_000_000, max_members=50, max_total_bytes=20_000_000)


def _zip(entries: dict[str, bytes]) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, data in entries.items():
            bundle.writestr(name, data)
    buffer.seek(0)
    return buffer


def test_zip_members_become_payloads_named_by_their_file_name():
    items = list(zip_read(_zip({"a/one.jpg": encode(scene(1)), "two.png": encode(scene(2), "PNG")}), limits=LIMITS))
    assert [item.name for item in items] == ["one.jpg", "two.png"]
    assert all(isinstance(item, Payload) and item.data for item in items)


def test_an_empty_zip_is_an_error():
    with pytest.raises(UploadError, match="empty"):
        list(zip_read(_zip({}), limits=LIMITS))


def test_a_file_that_is_not_a_zip_is_an_error():
    with pytest.raises(UploadError, match="not a readable zip"):
        list(zip_read(io.BytesIO(b"PK\x03\x04 but not really"), limits=LIMITS))


def test_path_traversal_and_nested_archives_are_skipped_with_reasons():
    bundle = _zip(
        {
            "../../etc/evil.jpg": encode(scene(1)),
            "/abs/path.jpg": encode(scene(2)),
            "inner.zip": _zip({"x.jpg": encode(scene(3))}).getvalue(),
            "ok.jpg": encode(scene(4)),
        }
    )
    items = list(zip_read(bundle, limits=LIMITS))
    rejected = {item.name: item.reason for item in items if isinstance(item, Rejection)}
    assert "path traversal" in rejected["../../etc/evil.jpg"]
    assert "path traversal" in rejected["/abs/path.jpg"]
    assert "Nested archives" in rejected["inner.zip"]
    assert [item.name for item in items if isinstance(item, Payload)] == ["ok.jpg"]


def test_a_zip_bomb_is_refused_from_its_declared_sizes():
    limits = UploadLimits(max_file_bytes=50_000_000, max_members=50, max_total_bytes=1_000_000)
    with pytest.raises(UploadError, match="expands to"):
        list(zip_read(_zip({"zeros.bmp": b"\x00" * 2_000_000}), limits=limits))


def test_too_many_members_is_refused():
    limits = UploadLimits(max_file_bytes=1000, max_members=3, max_total_bytes=10_000)
    with pytest.raises(UploadError, match="more than the limit"):
        list(zip_read(_zip({f"{i}.jpg": b"x" for i in range(4)}), limits=limits))


class _Uploaded(io.BytesIO):
    def __init__(self, name: str, data: bytes):
        super().__init__(data)
        self.name, self.size = name, len(data)


def test_oversized_files_are_rejected_and_the_rest_kept():
    limits = UploadLimits(max_file_bytes=1000, max_members=10, max_total_bytes=10_000)
    items = list(files_read([_Uploaded("big.jpg", b"x" * 5000), _Uploaded("small.jpg", b"y" * 10)], limits=limits))
    assert isinstance(items[0], Rejection) and "Too large" in items[0].reason
    assert items[1] == Payload("small.jpg", b"y" * 10)


def test_server_folders_outside_the_allowed_roots_are_refused(tmp_path):
    allowed = tmp_path / "imports"
    (allowed / "batch").mkdir(parents=True)
    (allowed / "batch" / "a.jpg").write_bytes(encode(scene(1)))
    (allowed / "batch" / "notes.txt").write_text("ignored")
    items = list(folder_read(allowed / "batch", allowed_roots=[allowed], limits=LIMITS))
    assert [item.name for item in items] == ["a.jpg"]
    with pytest.raises(UploadError, match="can only be imported from under"):
        list(folder_read(allowed / "..", allowed_roots=[allowed], limits=LIMITS))
    with pytest.raises(UploadError, match="No image files"):
        (allowed / "empty").mkdir()
        list(folder_read(allowed / "empty", allowed_roots=[allowed], limits=LIMITS))


def test_symlinks_leaving_the_folder_are_skipped(tmp_path):
    allowed = tmp_path / "imports"
    allowed.mkdir()
    outside = tmp_path / "secret.jpg"
    outside.write_bytes(encode(scene(2)))
    os.symlink(outside, allowed / "link.jpg")
    (allowed / "real.jpg").write_bytes(encode(scene(3)))
    items = list(folder_read(allowed, allowed_roots=[allowed], limits=LIMITS))
    assert {item.name: type(item).__name__ for item in items} == {"link.jpg": "Rejection", "real.jpg": "Payload"}
