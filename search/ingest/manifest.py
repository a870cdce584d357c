"""CSV manifests of a bulk import: one row per image, with the caller's id and metadata."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

MANIFEST_COLUMNS = ("path", "external_id", "metadata")


MANIFEST_ERRORS_SHOWN = 20


class ManifestError(ValueError):
    """The manifest cannot be used as it is; the message names the bad lines."""


@dataclass(frozen=True)
class ManifestEntry:
    line: int
    path: str
    external_id: str | None = None
    metadata: dict | None = None


def manifest_parse(text: str, *, base_dir: Path) -> list[ManifestEntry]:
    """Rows of a CSV manifest: `path` (relative to `base_dir` unless absolute), optional `external_id`
    and `metadata` (a JSON object). Every bad row is reported, with its line number."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    columns = [name.strip() for name in (reader.fieldnames or [])]
    if "path" not in columns:
        raise ManifestError(
            "The manifest needs a header row with a 'path' column (optional: external_id, metadata); "
            f"found {', '.join(columns) or 'no header'}."
        )
    unknown = sorted(set(columns) - set(MANIFEST_COLUMNS))
    if unknown:
        raise ManifestError(
            f"Unknown manifest column(s): {', '.join(unknown)}; allowed: {', '.join(MANIFEST_COLUMNS)}."
        )
    entries, problems = [], []
    for row in reader:
        line = reader.line_num
        row = {(key or "").strip(): value for key, value in row.items()}
        if "" in row:  # csv puts extra fields under the key None
            problems.append(f"line {line}: more fields than columns")
            continue
        path = (row.get("path") or "").strip()
        if not path:
            problems.append(f"line {line}: empty path")
            continue
        external_id = (row.get("external_id") or "").strip() or None
        if external_id and len(external_id) > 200:
            problems.append(f"line {line}: external_id longer than 200 characters")
            continue
        metadata, problem = _metadata_parse(row.get("metadata"))
        if problem:
            problems.append(f"line {line}: {problem}")
            continue
        resolved = Path(path).expanduser()
        if not resolved.is_absolute():
            resolved = base_dir / resolved
        entries.append(ManifestEntry(line=line, path=str(resolved), external_id=external_id, metadata=metadata))
    if problems:
        shown = "; ".join(problems[:MANIFEST_ERRORS_SHOWN])
        more = f"; … and {len(problems) - MANIFEST_ERRORS_SHOWN} more" if len(problems) > MANIFEST_ERRORS_SHOWN else ""
        raise ManifestError(f"{len(problems)} bad row(s) in the manifest: {shown}{more}.")
    if not entries:
        raise ManifestError("The manifest lists no images.")
    return entries


def _metadata_parse(raw: str | None) -> tuple[dict | None, str]:
    raw = (raw or "").strip()
    if not raw:
        return None, ""
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        return None, f"metadata is not valid JSON ({exc.msg} at character {exc.pos})"
    if not isinstance(value, dict):
        return None, 'metadata must be a JSON object, e.g. {"source": "scan"}'
    return value, ""
