"""No tracked file names a path of a developer's machine: commands and printouts in the repository use
paths anyone's checkout has (relative ones, `<checkout>`, a temporary folder made at run time)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
# An absolute path into a home, root's home, a scratch or a workspace folder, as a token of its own (not
# e.g. "tests/workers/").
MACHINE_PATH = re.compile(r"(?<![\w.~-])/(?:work|tmp|home|root|Users)/[\w.-]")
BINARY_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".ico", ".woff", ".woff2", ".ttf", ".npz", ".pt", ".onnx"}


def tracked_files() -> list[Path]:
    if shutil.which("git") is None or not (REPOSITORY / ".git").exists():
        pytest.skip("not a git checkout")
    listing = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPOSITORY, capture_output=True, check=True, text=True
    ).stdout
    return [REPOSITORY / name for name in listing.split("\0") if name]


def test_no_tracked_file_names_a_machine_path():
    offending = []
    for path in tracked_files():
        if path.suffix.lower() in BINARY_SUFFIXES or path == Path(__file__).resolve() or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for line_number, line in enumerate(text.splitlines(), start=1):
            if MACHINE_PATH.search(line):
                offending.append(f"{path.relative_to(REPOSITORY)}:{line_number}: {line.strip()[:120]}")

    assert offending == []


@pytest.mark.parametrize(
    ("line", "flagged"),
    [
        ("see /work/shared/NOTES.md", True),
        ("--data-dir /tmp/bench", True),
        ("corpus in /home/alice/photos", True),
        ("tests/workers/test_webhooks.py", False),
        ("rm -rf /var/lib/apt/lists/*", False),
        ("--data-dir var/bench-milvus-1m", False),
    ],
)
def test_machine_path_pattern(line, flagged):
    assert bool(MACHINE_PATH.search(line)) is flagged
