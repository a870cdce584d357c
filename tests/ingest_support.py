"""Fixtures and helpers shared by the bulk-ingest tests (imported by tests/search and tests/workers conftests)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from tests.images import encode, scene


@pytest.fixture(scope="module")
def ingest_features_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("ingest-features")


@pytest.fixture
def ingest_settings(isc_settings, tmp_path, ingest_features_dir):
    """Real Milvus, temporary media / ingest folders, and the features folder the module's pool writes to."""
    isc_settings.ISC = isc_settings.ISC.replace(
        features_dir=str(ingest_features_dir),
        ingest_dir=str(tmp_path / "ingest"),
        ingest_processes=2,
        ingest_chunk=4,
        import_roots=[str(tmp_path / "import")],
    )
    return isc_settings


@pytest.fixture(scope="module")
def ingest_pool(ingest_features_dir):
    """One real pool of two spawned processes per test module (each start loads the model)."""
    from django.conf import settings

    from copydetect.ingest import IngestPool, WorkerSpec

    isc = settings.ISC
    spec = WorkerSpec(
        descriptor_name=isc.descriptor,
        vit_model=None,
        fusion_dir=isc.fusion_dir,
        device=isc.device,
        features_dir=str(ingest_features_dir),
        max_pixels=isc.max_image_pixels,
        max_file_bytes=isc.max_upload_bytes,
        batch_size=isc.ingest_batch_size,
    )
    pool = IngestPool(spec, processes=2)
    yield pool
    pool.close()


def images_folder(folder: Path, seeds: list[int]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for seed in seeds:
        path = folder / f"img{seed}.jpg"
        path.write_bytes(encode(scene(seed, size=(160, 120))))
        paths.append(path)
    return paths


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, data in entries.items():
            bundle.writestr(name, data)
    return buffer.getvalue()


def image_bytes(seed: int) -> bytes:
    return encode(scene(seed, size=(160, 120)))
