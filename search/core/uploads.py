"""Turning what a user sends (files, a zip, a server folder) into checked image payloads."""

from __future__ import annotations

import stat
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from django.conf import settings

ARCHIVE_SUFFIXES = {".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".zst"}


class UploadError(ValueError):
    """The whole upload is unusable; the message is shown to the user."""


@dataclass(frozen=True)
class Payload:
    name: str
    data: bytes


@dataclass(frozen=True)
class Rejection:
    name: str
    reason: str
    # Machine-readable cause for API clients: "too_large", "bad_image", "unsafe_path", "not_accepted".
    code: str = "bad_image"


@dataclass(frozen=True)
class UploadLimits:
    max_file_bytes: int
    max_members: int
    max_total_bytes: int


def files_read(files: Iterable, *, limits: UploadLimits) -> Iterator[Payload | Rejection]:
    """Reads Django UploadedFile objects (or anything with .name, .size and .read())."""
    for uploaded in files:
        name = Path(uploaded.name).name
        if uploaded.size == 0:
            yield Rejection(name, "The file is empty.")
            continue
        if uploaded.size > limits.max_file_bytes:
            yield Rejection(name, _too_large(uploaded.size, limits.max_file_bytes), "too_large")
            continue
        yield Payload(name, uploaded.read())


def zip_member_rejection(info: zipfile.ZipInfo, *, limits: UploadLimits) -> Rejection | None:
    path = PurePosixPath(info.filename.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        return Rejection(info.filename, "Unsafe path in the archive (path traversal); skipped.", "unsafe_path")
    if stat.S_ISLNK(info.external_attr >> 16):
        return Rejection(info.filename, "Symbolic links are not accepted; skipped.", "not_accepted")
    if path.name.startswith(".") or "__MACOSX" in path.parts:
        return Rejection(info.filename, "Hidden or system file; skipped.", "not_accepted")
    if path.suffix.lower() in ARCHIVE_SUFFIXES:
        return Rejection(
            info.filename, "Nested archives are not accepted; unpack it and upload its images.", "not_accepted"
        )
    if info.file_size > limits.max_file_bytes:
        return Rejection(info.filename, _too_large(info.file_size, limits.max_file_bytes), "too_large")
    return None


def folder_resolve(folder: Path, *, allowed_roots: Iterable[Path]) -> Path:
    """An absolute folder under one of the roots, or a relative one taken from the roots (the first where it
    exists): "batch-7" in the team's import folder, not in the server's working directory."""
    roots = [Path(root).expanduser().resolve() for root in allowed_roots]
    folder = folder.expanduser()
    if not folder.is_absolute() and roots:
        folder = next((root / folder for root in roots if (root / folder).is_dir()), roots[0] / folder)
    resolved = folder.resolve()
    if not any(_is_within(resolved, root) for root in roots):
        allowed = ", ".join(str(root) for root in roots) or "(none configured)"
        raise UploadError(f"Server folders can only be imported from under: {allowed} (ISC_IMPORT_ROOTS).")
    if not resolved.is_dir():
        raise UploadError(f"{resolved} is not a folder on the server.")
    return resolved


def _is_within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _too_large(size: int, limit: int) -> str:
    return f"Too large: {size / 1e6:.1f} MB, the limit is {limit / 1e6:.1f} MB."


def upload_limits() -> UploadLimits:
    isc = settings.ISC
    return UploadLimits(
        max_file_bytes=isc.max_upload_bytes,
        max_members=isc.max_zip_members,
        max_total_bytes=isc.max_zip_uncompressed_bytes,
    )
