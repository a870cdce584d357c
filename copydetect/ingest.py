"""The per-file half of a bulk ingest, run in a pool of worker processes: read, hash, decode, extract
local features, embed. Django-free: the site turns the outcomes into rows and Milvus writes.

Each process builds its own descriptor once (ONNX Runtime / torch with one thread), so a pool of N
processes keeps N cores busy without the threads of one process fighting over them. Files travel as
paths (a folder or manifest entry) or as (archive, member) pairs; only the bytes of good files, the
vector and small facts come back to the parent.
"""

from __future__ import annotations

import multiprocessing
import os
import time
import zipfile
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from copydetect.imaging import ImageRejected, image_decode, sha256_of
from copydetect.signals import image_signals_compute

STAGES = ("read", "decode", "signals", "local_features", "descriptor")


@dataclass(frozen=True)
class IngestItem:
    position: int  # index in the job's item list: the identity of the item across re-runs
    name: str  # what the user sees (member name or relative path)
    path: str  # a file, or the zip archive holding `member`
    member: str | None = None


@dataclass(frozen=True)
class WorkerSpec:
    """What each pool process needs to build its engines; plain values, so it pickles under spawn."""

    descriptor_name: str
    vit_model: str | None
    fusion_dir: str | None
    device: str
    features_dir: str
    max_pixels: int
    max_file_bytes: int
    batch_size: int = 32


@dataclass
class ItemOutcome:
    position: int
    name: str
    data: bytes = b""
    sha256: str = ""
    width: int = 0
    height: int = 0
    extension: str = ""
    vector: np.ndarray | None = None
    features_path: str = ""
    # Hash signals (copydetect/signals.py), as an uploaded reference's worker computes them.
    pdq: str = ""
    pdq_quality: int | None = None
    md5: str = ""
    error: str = ""  # set when the file is unusable; the reason shown to the user


@dataclass
class BatchResult:
    outcomes: list[ItemOutcome]
    seconds: dict[str, float] = field(default_factory=dict)


# ---------------------------------------------------------------- inside a pool process

_engines: dict = {}


def worker_init(spec: WorkerSpec) -> None:
    import cv2

    _parent_watch()
    # One process per core: inner thread pools would only oversubscribe the cores.
    cv2.setNumThreads(1)
    from copydetect.descriptors import descriptor_build

    _engines["spec"] = spec
    _engines["descriptor"] = descriptor_build(
        name=spec.descriptor_name, vit_model=spec.vit_model, fusion_dir=spec.fusion_dir, device=spec.device, threads=1
    )
    _engines["archives"] = {}


def _parent_watch(interval: float = 2.0) -> None:
    """Exits when the parent dies: a Celery child killed by its main process runs no clean-up, and
    the pool's queues keep their pipes open, so nothing else would tell this process to stop."""
    import threading

    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def batch_process(items: Sequence[IngestItem]) -> BatchResult:
    """Reads, decodes and describes `items` (in this process); unusable files come back with a reason."""
    from copydetect.verification import local_features_extract, local_features_save

    spec: WorkerSpec = _engines["spec"]
    seconds = dict.fromkeys(STAGES, 0.0)
    outcomes, images = [], []
    for item in items:
        outcome = ItemOutcome(position=item.position, name=item.name)
        outcomes.append(outcome)
        started = time.perf_counter()
        try:
            outcome.data = _bytes_read(item, max_bytes=spec.max_file_bytes)
        except (OSError, ValueError, zipfile.BadZipFile, NotImplementedError, RuntimeError) as exc:
            outcome.error = _read_error(exc)
            continue
        finally:
            seconds["read"] += time.perf_counter() - started
        started = time.perf_counter()
        try:
            decoded = image_decode(outcome.data, max_pixels=spec.max_pixels)
        except ImageRejected as exc:
            outcome.error, outcome.data = str(exc), b""
            continue
        finally:
            seconds["decode"] += time.perf_counter() - started
        outcome.sha256 = sha256_of(outcome.data)
        outcome.width, outcome.height = decoded.width, decoded.height
        outcome.extension = {"JPEG": "jpg", "MPO": "jpg", "TIFF": "tif"}.get(
            decoded.format_name, decoded.format_name.lower()
        )
        started = time.perf_counter()
        signals = image_signals_compute(image=decoded.image, data=outcome.data)
        outcome.pdq, outcome.pdq_quality, outcome.md5 = signals.pdq, signals.pdq_quality, signals.md5 or ""
        seconds["signals"] += time.perf_counter() - started
        started = time.perf_counter()
        features_path = features_path_for(spec.features_dir, outcome.sha256)
        if not features_path.exists():  # the same bytes in another collection share their features
            local_features_save(local_features_extract(decoded.image), features_path)
        outcome.features_path = str(features_path)
        seconds["local_features"] += time.perf_counter() - started
        images.append((outcome, decoded.image))
    started = time.perf_counter()
    if images:
        vectors = _engines["descriptor"].embed([image for _, image in images], batch_size=spec.batch_size)
        for (outcome, _), vector in zip(images, vectors):
            outcome.vector = vector
    seconds["descriptor"] += time.perf_counter() - started
    return BatchResult(outcomes=outcomes, seconds=seconds)


def features_path_for(features_dir: str | Path, sha256: str) -> Path:
    """Same layout as the per-image path (search.core.stored_images.features_path_for)."""
    return Path(features_dir) / sha256[:2] / f"{sha256}.npz"


def _bytes_read(item: IngestItem, *, max_bytes: int) -> bytes:
    if item.member is None:
        size = os.stat(item.path).st_size
        if size > max_bytes:
            raise ValueError(f"Too large: {size / 1e6:.1f} MB, the limit is {max_bytes / 1e6:.1f} MB.")
        with open(item.path, "rb") as handle:
            return handle.read()
    archives: dict[str, zipfile.ZipFile] = _engines["archives"]
    if item.path not in archives:
        archives.clear()  # one archive at a time per process: a job reads one
        archives[item.path] = zipfile.ZipFile(item.path)
    archive = archives[item.path]
    info = archive.getinfo(item.member)
    if info.file_size > max_bytes:
        raise ValueError(f"Too large: {info.file_size / 1e6:.1f} MB, the limit is {max_bytes / 1e6:.1f} MB.")
    return zip_member_read(archive, info, max_bytes=max_bytes)


MEMBER_READ_CHUNK = 1 << 16


def zip_member_read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, *, max_bytes: int) -> bytes:
    """The member's bytes, inflated a small piece at a time and counted as they come.

    The sizes an archive declares are not trusted: `ZipFile.read` inflates whatever a compressed block
    holds before cutting it to the declared size, so a member declaring 4 kB can take gigabytes of memory.
    Here at most one piece beyond `max_bytes` is ever held.
    """
    pieces, total = [], 0
    with archive.open(info) as member:
        while piece := member.read(MEMBER_READ_CHUNK):
            total += len(piece)
            if total > max_bytes:
                raise ValueError(f"Too large: more than {max_bytes / 1e6:.1f} MB once inflated, the limit.")
            pieces.append(piece)
    return b"".join(pieces)


def _read_error(exc: Exception) -> str:
    if isinstance(exc, FileNotFoundError):
        return "File not found."
    if isinstance(exc, IsADirectoryError):
        return "Is a folder, not a file."
    if isinstance(exc, PermissionError):
        return "Permission denied."
    if isinstance(exc, ValueError) and str(exc).startswith("Too large"):
        return str(exc)
    return f"Could not be read ({exc})."


# ---------------------------------------------------------------- in the parent


class IngestPool:
    """A pool of `processes` engine-holding processes; `run` splits a chunk evenly across them."""

    def __init__(self, spec: WorkerSpec, *, processes: int) -> None:
        self.spec = spec
        self.processes = max(1, processes)
        # Spawned, not forked: the parent may hold ONNX / torch thread pools that a fork would copy
        # in an unusable state.
        context = multiprocessing.get_context("spawn")
        with _children_allowed():
            self._executor = ProcessPoolExecutor(
                max_workers=self.processes, mp_context=context, initializer=worker_init, initargs=(spec,)
            )

    def run(self, items: Sequence[IngestItem]) -> BatchResult:
        if not items:
            return BatchResult(outcomes=[], seconds=dict.fromkeys(STAGES, 0.0))
        parts = [list(items[i :: self.processes]) for i in range(self.processes)]
        with _children_allowed():  # the executor starts its processes lazily, on first submit
            futures = [self._executor.submit(batch_process, part) for part in parts if part]
        results = [future.result() for future in futures]
        outcomes = sorted((o for r in results for o in r.outcomes), key=lambda o: o.position)
        # Per-stage time summed over the processes: core-seconds spent in each stage.
        seconds = {stage: sum(r.seconds.get(stage, 0.0) for r in results) for stage in STAGES}
        return BatchResult(outcomes=outcomes, seconds=seconds)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


class _children_allowed:
    """Lets a daemonic process (a Celery prefork child) start the pool's processes.

    multiprocessing refuses children of daemonic processes so that none are orphaned when the
    daemon is killed; the pool's processes exit on their own when their parent's pipe closes.
    """

    def __enter__(self):
        process = multiprocessing.current_process()
        # Billiard (Celery's pool) leaves its own AuthenticationString here, which multiprocessing's
        # spawn refuses to pickle; the same key as multiprocessing's type works.
        self._config = process._config
        self._config["authkey"] = multiprocessing.process.AuthenticationString(bytes(process.authkey))
        self._daemon = self._config.get("daemon")
        self._config["daemon"] = False

    def __exit__(self, *exc):
        if self._daemon is not None:
            self._config["daemon"] = self._daemon
        else:
            self._config.pop("daemon", None)
