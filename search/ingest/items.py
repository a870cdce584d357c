"""A job's item list: listed once from its source into a JSON-lines file with an offset index, read by chunk."""

from __future__ import annotations

import array
import itertools
import json
import os
import uuid
import zipfile
from pathlib import Path

from django.conf import settings
from django.db import transaction

from copydetect.imaging import IMAGE_SUFFIXES
from search.core import uploads
from search.core.uploads import UploadError, zip_member_rejection
from search.ingest.manifest import ManifestError, manifest_parse
from search.ingest.models import IngestError, IngestJob


def ingest_dir() -> Path:
    folder = Path(settings.ISC.ingest_dir)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def zip_directory_check(path: Path) -> list[zipfile.ZipInfo]:
    try:
        with zipfile.ZipFile(path) as bundle:
            members = [info for info in bundle.infolist() if not info.is_dir()]
    except (zipfile.BadZipFile, OSError):
        raise UploadError("The file is not a readable zip archive.") from None
    if not members:
        raise UploadError("The zip archive is empty.")
    limit = settings.ISC.ingest_max_files
    if len(members) > limit:
        raise UploadError(f"The zip archive holds {len(members):,} files, more than the limit of {limit:,}.")
    # What the archive declares; the workers also count what really inflates (copydetect/ingest.py).
    declared, total_limit = sum(info.file_size for info in members), settings.ISC.max_zip_uncompressed_bytes
    if declared > total_limit:
        raise UploadError(f"The zip archive expands to {declared:,} bytes, more than the limit of {total_limit:,}.")
    return members


def items_path(job: IngestJob) -> Path:
    return ingest_dir() / f"job-{job.id}-items.jsonl"


def ingest_items_prepare(job: IngestJob) -> None:
    """Lists the job's items once (a file of one JSON object per line), records the entries refused
    while listing, and sets `total`. Written to a temporary name and renamed, so a crash while
    listing leaves no half list behind."""
    entries, rejections = _source_list(job)
    target = items_path(job)
    suffix = f".{uuid.uuid4().hex}.tmp"
    temporary, temporary_index = target.with_name(target.name + suffix), target.with_name(target.name + ".idx" + suffix)
    # Beside the list, the byte offset of each line (8 bytes each), so a chunk seeks to its cursor
    # instead of reading the list from the start: a million-file job stays linear.
    offsets = array.array("Q")
    with open(temporary, "wb") as handle:
        for position, entry in enumerate(entries):
            offsets.append(handle.tell())
            handle.write((json.dumps({"position": position, **entry}, ensure_ascii=False) + "\n").encode())
    with open(temporary_index, "wb") as handle:
        offsets.tofile(handle)
    os.replace(temporary_index, _index_path(target))
    os.replace(temporary, target)  # last: its presence means the listing is complete
    with transaction.atomic():
        IngestError.objects.filter(job=job, position__lt=0).delete()
        IngestError.objects.bulk_create(
            [
                IngestError(job=job, position=-(i + 1), name=name[:1000], reason=reason)
                for i, (name, reason) in enumerate(rejections)
            ]
        )
        IngestJob.objects.filter(id=job.id).update(total=len(entries), failed=len(rejections))


def _source_list(job: IngestJob) -> tuple[list[dict], list[tuple[str, str]]]:
    limits = uploads.upload_limits()
    source = Path(job.source_path)
    if job.source_kind == IngestJob.Source.ZIP:
        entries, rejections = [], []
        for info in zip_directory_check(source):
            rejection = zip_member_rejection(info, limits=limits)
            if rejection:
                rejections.append((rejection.name, rejection.reason))
            else:
                entries.append({"name": info.filename, "path": str(source), "member": info.filename})
        return entries, rejections
    if job.source_kind == IngestJob.Source.FOLDER:
        return folder_list(source)
    if job.source_kind == IngestJob.Source.MANIFEST:
        try:
            text = source.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ManifestError(f"The manifest cannot be read ({exc}).") from None
        parsed = manifest_parse(text, base_dir=source.parent)
        return [
            {"name": entry.path, "path": entry.path, "external_id": entry.external_id, "metadata": entry.metadata}
            for entry in parsed
        ], []
    raise ValueError(f"Unknown ingest source {job.source_kind!r}.")


def folder_list(folder: Path) -> tuple[list[dict], list[tuple[str, str]]]:
    if not folder.is_dir():
        raise UploadError(f"{folder} is not a folder on the server.")
    root = folder.resolve()
    entries, rejections = [], []
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
        name = str(path.relative_to(folder))
        if path.is_symlink() and root not in path.resolve().parents:
            rejections.append((name, "Symbolic link leading outside the folder; skipped."))
        elif path.is_file():
            entries.append({"name": name, "path": str(path)})
    limit = settings.ISC.ingest_max_files
    if len(entries) > limit:
        raise UploadError(f"The folder holds {len(entries):,} images, more than the limit of {limit:,}.")
    if not entries and not rejections:
        raise UploadError(f"No image files ({', '.join(sorted(IMAGE_SUFFIXES))}) were found in {folder}.")
    return entries, rejections


def ingest_items_read(job: IngestJob, *, start: int, count: int) -> list[dict]:
    target = items_path(job)
    with open(_index_path(target), "rb") as index:
        index.seek(8 * start)
        first = index.read(8)
    if len(first) < 8:
        return []
    with open(target, "rb") as handle:
        handle.seek(array.array("Q", first)[0])
        return [json.loads(line) for line in itertools.islice(handle, count)]


def _index_path(items: Path) -> Path:
    return items.with_name(items.name + ".idx")
