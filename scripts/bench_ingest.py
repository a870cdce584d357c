#!/usr/bin/env python
"""Bulk ingest against today's per-image path, on real photographs, in one run on the same machine.

Usage (from the repository root):
    nice -n 10 .venv/bin/python scripts/bench_ingest.py --photos data/photos [--count 2000] [--old-count 300]

`--photos` is the output of scripts/fetch_photos.py (its manifest.csv lists the photos). When it holds
fewer than --count photos, the corpus is topped up with crops and rescales of those photos (each a new
file with new bytes, as a real corpus holds several versions of a picture); the printout says how many
are originals. Everything runs against a private SQLite database, media folder and Milvus Lite server
in a temporary folder, so the site's own data is never touched.

Prints images/s overall and per core for
  old: each file as the web upload and the `reference_index` task handle it today (inspect on upload,
       then one task per image: open, embed one, upsert one, extract local features), in one process;
  new: one ingest job (search/ingest/) over a folder: ISC_INGEST_PROCESSES decode processes,
       batched descriptor, local features in the processes, batched Milvus upserts, chunk commits;
and where the time goes per stage in each.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import psutil
from PIL import Image

from workers import ingest as workers_ingest

ROOT = Path(__file__).resolve().parent.parent


def corpus_build(photos: Path, target: Path, count: int, seed: int = 7) -> tuple[list[Path], int]:
    """`count` JPEG files in `target`: every photo of `photos`, then crops / rescales of them."""
    manifest = photos / "manifest.csv"
    with open(manifest, newline="") as handle:
        sources = [photos / row["path"] for row in csv.DictReader(handle)]
    sources = [path for path in sources if path.exists()]
    if not sources:
        sys.exit(f"No photos listed in {manifest}: run scripts/fetch_photos.py --out {photos}")
    target.mkdir(parents=True, exist_ok=True)
    existing = sorted(target.glob("*.jpg"))
    if len(existing) >= count:
        return existing[:count], min(len(sources), count)
    rng = random.Random(seed)
    files = []
    for index in range(count):
        source = sources[index % len(sources)]
        path = target / f"{index:05d}_{source.stem}.jpg"
        files.append(path)
        if path.exists():
            continue
        with Image.open(source) as opened:
            image = opened.convert("RGB")
        if index >= len(sources):
            width, height = image.size
            crop_w, crop_h = int(width * rng.uniform(0.55, 0.95)), int(height * rng.uniform(0.55, 0.95))
            left, top = rng.randrange(width - crop_w + 1), rng.randrange(height - crop_h + 1)
            image = image.crop((left, top, left + crop_w, top + crop_h))
            side = rng.randint(400, 1024)
            scale = side / max(image.size)
            image = image.resize((max(8, round(image.width * scale)), max(8, round(image.height * scale))))
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=rng.randint(85, 95) if index >= len(sources) else 92)
        path.write_bytes(buffer.getvalue())
    return files, min(len(sources), count)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far (a process that has gone counts 0)."""
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def django_setup(work: Path, milvus_uri: str) -> None:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "isc_site.settings",
            "ISC_DATA_DIR": str(work / "data"),
            "DATABASE_URL": f"sqlite:///{work / 'bench.sqlite3'}",
            "MILVUS_URI": milvus_uri,
            "ISC_WARM_UP": "0",
            "CELERY_TASK_ALWAYS_EAGER": "1",
            "LOG_LEVEL": "WARNING",
        }
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def old_path(files: list[Path], collection, features_dir: Path, milvus_pid: int) -> dict:
    """Today's path, timed per stage by hand on each file, then as the real upload + task."""
    from django.conf import settings

    from copydetect.imaging import image_inspect
    from copydetect.verification import local_features_extract, local_features_save
    from search.collection import services as collection_services
    from search.collection.models import ImageStatus
    from search.core.uploads import Payload
    from workers import runtime

    settings.ISC = settings.ISC.replace(features_dir=str(features_dir))
    descriptor, store = runtime.descriptor_get(), runtime.vector_store_get()
    store.collection_ensure(model_version=descriptor.version, dim=descriptor.dim, metric=descriptor.metric)
    max_pixels = settings.ISC.max_image_pixels

    # 1. Stage breakdown of the same work, stage by stage (features to a scratch folder).
    from copydetect.imaging import image_load

    stages = dict.fromkeys(("inspect", "decode", "descriptor", "local_features", "insert"), 0.0)
    scratch = features_dir.parent / "old-stage-features"
    for offset, path in enumerate(files):
        data = path.read_bytes()
        mark = time.perf_counter()
        image_inspect(data, max_pixels=max_pixels)
        stages["inspect"] += time.perf_counter() - mark
        mark = time.perf_counter()
        image = image_load(io.BytesIO(data), max_pixels=max_pixels)
        stages["decode"] += time.perf_counter() - mark
        mark = time.perf_counter()
        vector = descriptor.embed([image])
        stages["descriptor"] += time.perf_counter() - mark
        mark = time.perf_counter()
        local_features_save(local_features_extract(image), scratch / f"{offset}.npz")
        stages["local_features"] += time.perf_counter() - mark
        mark = time.perf_counter()
        store.vectors_upsert(
            model_version=descriptor.version, ids=[10_000_000 + offset], vectors=vector, collection_ids=[0]
        )
        stages["insert"] += time.perf_counter() - mark
    store.vectors_delete(model_version=descriptor.version, ids=[10_000_000 + i for i in range(len(files))])

    # 2. The real thing: upload (inspect + store + row) and the reference_index task, eagerly, per file.
    pids = [os.getpid(), milvus_pid]
    cpu = cpu_seconds(pids)
    started = time.perf_counter()
    for path in files:
        collection_services.reference_images_add(
            actor=collection.created_by, collection=collection, items=[Payload(path.name, path.read_bytes())]
        )
    wall = time.perf_counter() - started
    cpu = cpu_seconds(pids) - cpu
    indexed = collection.references.filter(status=ImageStatus.INDEXED).count()
    return {"files": len(files), "indexed": indexed, "wall": wall, "cpu": cpu, "stages": stages}


def new_path(folder: Path, collection, features_dir: Path, processes: int, milvus_pid: int) -> dict:
    from django.conf import settings

    from search.ingest import services as ingest_services
    from search.ingest.models import IngestJob
    from workers import runtime

    settings.ISC = settings.ISC.replace(features_dir=str(features_dir), ingest_processes=processes)
    descriptor, store = runtime.descriptor_get(), runtime.vector_store_get()
    mark = time.perf_counter()
    pool = workers_ingest.ingest_pool_create(vit_model=runtime.vit_model_for_descriptor())
    # Start the processes and load their models before timing: a worker keeps its pool between jobs.
    pool.run([])
    from copydetect.ingest import IngestItem

    pool.run([IngestItem(position=-1, name="warm-up", path=str(folder / "no-such-file"))] * processes)
    startup = time.perf_counter() - mark

    job = ingest_services.ingest_job_create(
        collection=collection,
        actor=collection.created_by,
        source_kind=IngestJob.Source.FOLDER,
        source_path=str(folder),
        enqueue=False,
    )
    stages: dict[str, float] = {}
    chunks = []

    def on_chunk(report) -> None:
        chunks.append(report)
        for stage, seconds in report.seconds.items():
            stages[stage] = stages.get(stage, 0.0) + seconds

    pids = [os.getpid(), milvus_pid, *pool._executor._processes.keys()]
    cpu = cpu_seconds(pids)
    started = time.perf_counter()
    job = workers_ingest.ingest_job_run(job=job, pool=pool, store=store, descriptor=descriptor, on_chunk=on_chunk)
    wall = time.perf_counter() - started
    cpu = cpu_seconds(pids) - cpu
    pool.close()
    store.collection_flush(model_version=descriptor.version)
    in_milvus = store.vectors_count(model_version=descriptor.version, collection_id=collection.id)
    return {
        "job": job,
        "wall": wall,
        "cpu": cpu,
        "startup": startup,
        "stages": stages,
        "chunks": len(chunks),
        "chunk_size": settings.ISC.ingest_chunk,
        "in_milvus": in_milvus,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=Path, default=ROOT / "data" / "photos")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--old-count", type=int, default=300, help="files through the old per-image path")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--corpus", type=Path, default=ROOT / "var" / "bench-ingest" / "corpus")
    args = parser.parse_args()

    files, originals = corpus_build(args.photos, args.corpus, args.count)
    cores = os.cpu_count() or 1
    print(f"corpus: {len(files)} JPEGs in {args.corpus} ({originals} original photos, the rest crops / rescales)")
    print(f"machine: {cores} cores, load average at start {os.getloadavg()[0]:.1f}")

    from copydetect.milvus_lite import MilvusLiteServer

    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as temp, MilvusLiteServer(Path(temp) / "milvus") as milvus:
        work = Path(temp)
        django_setup(work, milvus.uri)
        from django.contrib.auth import get_user_model

        from search.collection import services as collection_services
        from search.teams import services as teams_services

        owner = get_user_model().objects.create_user("bench")
        team = teams_services.team_create(name="Bench", creator=owner)
        old_collection = collection_services.collection_create(actor=owner, team=team, name="old path")
        new_collection = collection_services.collection_create(actor=owner, team=team, name="new path")

        milvus_pid = milvus.process.pid
        old = old_path(files[: args.old_count], old_collection, work / "features-old", milvus_pid)
        new = new_path(args.corpus, new_collection, work / "features-new", args.processes, milvus_pid)

        old_rate = old["indexed"] / old["wall"]
        job = new["job"]
        new_rate = job.done / new["wall"]
        print()
        print(f"old path (upload + reference_index task per image, 1 process): {old['indexed']}/{old['files']} indexed")
        print(
            f"  {old_rate:.1f} images/s, {old_rate / cores:.1f} images/s per core, {1000 / old_rate:.0f} ms per image"
        )
        old_cpu_rate = old["indexed"] / old["cpu"]
        print(
            f"  CPU: {1000 * old['cpu'] / old['indexed']:.0f} ms per image → {old_cpu_rate:.1f} images per CPU-second"
        )
        total = sum(old["stages"].values())
        print("  per stage (timed separately on the same files, ms per image):")
        for stage, seconds in old["stages"].items():
            print(f"    {stage:<15} {1000 * seconds / old['files']:7.1f} ms  {100 * seconds / total:5.1f} %")
        print()
        print(
            f"new path (ingest job, {args.processes} processes, {new['chunks']} chunks of "
            f"{new['chunk_size']} files): {job.created} created, {job.skipped_duplicates} duplicates, {job.failed} failed; "
            f"{new['in_milvus']} vectors in Milvus"
        )
        print(
            f"  {new_rate:.1f} images/s, {new_rate / cores:.1f} images/s per core, {1000 / new_rate:.1f} ms per image"
        )
        new_cpu_rate = job.done / new["cpu"]
        print(f"  CPU: {1000 * new['cpu'] / job.done:.0f} ms per image → {new_cpu_rate:.1f} images per CPU-second")
        print(f"  pool start-up (processes + models, once per worker process): {new['startup']:.1f} s, not included")
        print("  per stage (pool stages: core-seconds summed over the processes; ms per image):")
        total = sum(new["stages"].values())
        for stage, seconds in new["stages"].items():
            print(f"    {stage:<15} {1000 * seconds / job.done:7.1f} ms  {100 * seconds / total:5.1f} %")
        print()
        print(f"speed-up: {new_rate / old_rate:.2f}x images/s (per core likewise: both used {cores} cores)")
        print(f"speed-up in CPU time per image (robust to other load): {new_cpu_rate / old_cpu_rate:.2f}x")
        print("CPU counts this process, its pool processes and the Milvus Lite server.")
        print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
