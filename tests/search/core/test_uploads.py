import io
import zipfile
from pathlib import Path

import pytest

from search.core.uploads import (
    Payload,
    Rejection,
    UploadError,
    UploadLimits,
    files_read,
    folder_resolve,
    zip_member_rejection,
)
from tests.images import encode, scene

LIMITS = UploadLimits(max_file_bytes=2_000_000, max_members=50, max_total_bytes=20_000_000)


class _Uploaded(io.BytesIO):
    def __init__(self, name: str, data: bytes):
        super().__init__(data)
        self.name, self.size = name, len(data)


def test_oversized_files_are_rejected_and_the_rest_kept():
    limits = UploadLimits(max_file_bytes=1000, max_members=10, max_total_bytes=10_000)
    items = list(files_read([_Uploaded("big.jpg", b"x" * 5000), _Uploaded("small.jpg", b"y" * 10)], limits=limits))
    assert isinstance(items[0], Rejection) and "Too large" in items[0].reason
    assert items[1] == Payload("small.jpg", b"y" * 10)


def test_an_empty_file_is_rejected_alone():
    items = list(files_read([_Uploaded("empty.jpg", b""), _Uploaded("a.jpg", b"z")], limits=LIMITS))
    assert items == [Rejection("empty.jpg", "The file is empty."), Payload("a.jpg", b"z")]


def _member(name: str, data: bytes = b"x") -> zipfile.ZipInfo:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr(name, data)
    return zipfile.ZipFile(buffer).infolist()[0]


def test_path_traversal_absolute_paths_nested_archives_and_hidden_files_are_refused_with_reasons():
    reasons = {
        name: zip_member_rejection(_member(name), limits=LIMITS)
        for name in ["../../etc/evil.jpg", "/abs/path.jpg", "C:/x.jpg", "inner.zip", "__MACOSX/._a.jpg", "ok.jpg"]
    }
    assert "path traversal" in reasons["../../etc/evil.jpg"].reason
    assert "path traversal" in reasons["/abs/path.jpg"].reason
    assert "path traversal" in reasons["C:/x.jpg"].reason
    assert "Nested archives" in reasons["inner.zip"].reason
    assert "Hidden or system file" in reasons["__MACOSX/._a.jpg"].reason
    assert reasons["ok.jpg"] is None


def test_a_member_declaring_more_than_the_file_limit_is_refused():
    limits = UploadLimits(max_file_bytes=1000, max_members=10, max_total_bytes=10_000)
    rejection = zip_member_rejection(_member("big.jpg", encode(scene(1))), limits=limits)
    assert rejection.code == "too_large" and "Too large" in rejection.reason


def test_server_folders_outside_the_allowed_roots_are_refused(tmp_path):
    allowed = tmp_path / "imports"
    (allowed / "batch").mkdir(parents=True)
    assert folder_resolve(allowed / "batch", allowed_roots=[allowed]) == (allowed / "batch").resolve()
    with pytest.raises(UploadError, match="can only be imported from under"):
        folder_resolve(allowed / "..", allowed_roots=[allowed])
    with pytest.raises(UploadError, match="not a folder"):
        folder_resolve(allowed / "missing", allowed_roots=[allowed])


def test_a_relative_folder_is_taken_from_the_allowed_roots_not_the_working_directory(tmp_path, monkeypatch):
    first, second = tmp_path / "imports-a" / "team", tmp_path / "imports-b" / "team"
    (second / "batch" / "day1").mkdir(parents=True)
    (tmp_path / "cwd" / "batch").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "cwd")
    roots = [first, second]
    assert folder_resolve(Path("batch/day1"), allowed_roots=roots) == (second / "batch" / "day1").resolve()
    assert folder_resolve(Path("./batch"), allowed_roots=roots) == (second / "batch").resolve()
    with pytest.raises(UploadError, match="not a folder"):
        folder_resolve(Path("missing"), allowed_roots=roots)
    with pytest.raises(UploadError, match="can only be imported from under"):
        folder_resolve(Path("../../imports-b"), allowed_roots=roots)
