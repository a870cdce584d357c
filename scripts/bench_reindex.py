"""Reindex throughput: references per second moved from sscd_distilled to sscd, batch by batch.

    .venv/bin/python scripts/bench_reindex.py [--references 256] [--batch-size 32]

Runs the same batch step the Celery task runs (`workers.reindex.reindex_step`), in this process, against
a private Milvus Lite and a throw-away SQLite database; also times the descriptor alone on the same
images, so the overhead of reading files, Milvus upserts and bookkeeping shows.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--references", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    from copydetect.milvus_lite import MilvusLiteServer

    with tempfile.TemporaryDirectory(prefix="bench-reindex-") as scratch:
        scratch_path = Path(scratch)
        with MilvusLiteServer(scratch_path / "milvus") as server:
            os.environ.update(
                {
                    "DJANGO_SETTINGS_MODULE": "isc_site.settings",
                    "ISC_DATA_DIR": str(scratch_path / "var"),
                    "DATABASE_URL": f"sqlite:///{scratch_path / 'db.sqlite3'}",
                    "MILVUS_URI": server.uri,
                    "ISC_DESCRIPTOR": "sscd_distilled",
                    "ISC_WARM_UP": "0",
                    "CELERY_TASK_ALWAYS_EAGER": "1",
                }
            )
            import django

            django.setup()
            run(args.references, args.batch_size)


def run(count: int, batch_size: int) -> None:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.core.management import call_command

    from copydetect.benchmark.scenes import encode, scene
    from search.collection.models import Collection, ReferenceImage
    from search.reindex import selectors as reindex_selectors
    from search.reindex import services as reindex_services
    from workers import runtime
    from workers.images import image_open
    from workers.reindex import reindex_step

    call_command("migrate", verbosity=0)
    owner = get_user_model().objects.create(username="bench")
    collection = Collection.objects.create(owner=owner, name="bench")
    for seed in range(count):
        name = default_storage.save(f"references/{seed}.jpg", ContentFile(encode(scene(seed))))
        ReferenceImage.objects.create(
            collection=collection, file=name, original_name=name, sha256=f"{seed:064d}", width=480, height=360
        )
    runtime.live_version_get()  # the distilled version is live
    settings.ISC = settings.ISC.replace(descriptor="sscd")
    runtime.engines_reset()
    descriptor = runtime.descriptor_get()
    images = [image_open(reference) for reference in ReferenceImage.objects.order_by("id")[:64]]
    descriptor.embed(images[:4])  # warm-up
    started = time.perf_counter()
    descriptor.embed(images, batch_size=batch_size)
    embed_ms = (time.perf_counter() - started) * 1000 / len(images)

    job, _ = reindex_services.reindex_job_start(batch_size=batch_size, enqueue=False)
    started = time.perf_counter()
    cursor = 0
    while cursor is not None:
        cursor = reindex_step(job_id=job.id, cursor=cursor)
    elapsed = time.perf_counter() - started
    job.refresh_from_db()
    assert job.state == "done" and job.done == count, (job.state, job.done, job.error)
    print(
        f"{count} references, batches of {batch_size}: {elapsed:.1f} s = {count / elapsed:.1f} images/s "
        f"(swap, flush and the final check included); sscd alone: {embed_ms:.1f} ms/image "
        f"= {1000 / embed_ms:.1f} images/s; live is now {reindex_selectors.index_version_live_get().version}"
    )


if __name__ == "__main__":
    main()
