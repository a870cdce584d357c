"""Turning what a user sends (files, a zip, a server folder) into checked image payloads."""

from __future__ import annotations

import stat
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from django.conf import settings

ARCHIVE_SUFFIXES = {".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".zst"}


IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}


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


def zip_read(archive: BinaryIO, *, limits: UploadLimits) -> Iterator[Payload | Rejection]:
    try:
        bundle = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError):
        raise UploadError("The file is not a readable zip archive.") from None
    with bundle:
        members = [info for info in bundle.infolist() if not info.is_dir()]
        _zip_check(members, limits=limits)
        for info in members:
            rejection = _zip_member_rejection(info, limits=limits)
            if rejection:
                yield rejection
                continue
            try:
                yield Payload(PurePosixPath(info.filename).name, bundle.read(info))
            except (zipfile.BadZipFile, OSError, NotImplementedError, RuntimeError) as exc:
                yield Rejection(info.filename, f"Could not be read from the archive ({exc}).")


def _zip_check(members: list[zipfile.ZipInfo], *, limits: UploadLimits) -> None:
    if not members:
        raise UploadError("The zip archive is empty.")
    if len(members) > limits.max_members:
        raise UploadError(
            f"The zip archive holds {len(members):,} files, more than the limit of {limits.max_members:,}."
        )
    declared = sum(info.file_size for info in members)
    if declared > limits.max_total_bytes:
        raise UploadError(
            f"The zip archive expands to {declared:,} bytes, more than the limit of {limits.max_total_bytes:,}."
        )


def _zip_member_rejection(info: zipfile.ZipInfo, *, limits: UploadLimits) -> Rejection | None:
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


def folder_read(folder: Path, *, allowed_roots: Iterable[Path], limits: UploadLimits) -> Iterator[Payload | Rejection]:
    resolved = folder_resolve(folder, allowed_roots=allowed_roots)
    files = sorted(p for p in resolved.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise UploadError(f"No image files ({', '.join(sorted(IMAGE_SUFFIXES))}) were found in {resolved}.")
    if len(files) > limits.max_members:
        raise UploadError(f"The folder holds {len(files):,} images, more than the limit of {limits.max_members:,}.")
    for path in files:
        if path.is_symlink() and not _is_within(path.resolve(), resolved):
            yield Rejection(
                str(path.relative_to(resolved)), "Symbolic link leading outside the folder; skipped.", "unsafe_path"
            )
            continue
        size = path.stat().st_size
        if size > limits.max_file_bytes:
            yield Rejection(str(path.relative_to(resolved)), _too_large(size, limits.max_file_bytes), "too_large")
            continue
        yield Payload(str(path.relative_to(resolved)), path.read_bytes())


def folder_resolve(folder: Path, *, allowed_roots: Iterable[Path]) -> Path:
    resolved = folder.expanduser().resolve()
    roots = [Path(root).expanduser().resolve() for root in allowed_roots]
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
