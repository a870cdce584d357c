"""Test pictures (copydetect/benchmark/scenes.py makes them) and uploads of them."""

from __future__ import annotations

import io

from copydetect.benchmark.scenes import edited_copy, encode, scene

__all__ = ["edited_copy", "encode", "image_upload", "scene"]


def image_upload(name: str, seed: int = 1, data: bytes | None = None) -> io.BytesIO:
    """A named file-like upload: `data`, or the JPEG of scene `seed`."""
    handle = io.BytesIO(encode(scene(seed)) if data is None else data)
    handle.name = name
    return handle
