#!/usr/bin/env python
"""Milvus Lite against Milvus standalone as the embedded server of `make run`, side by side in one run.

    nice -n 10 .venv/bin/python scripts/bench_milvus_stack.py --photos data/photos --redis-db 11

For each server, in turn and on the same machine:
1. the server alone in a temporary folder: seconds until it serves a client, its resident memory idle;
2. the whole stack as `make run` starts it (scripts/run_stack.py with ISC_MILVUS=lite|standalone, a
   private database, data folder, Redis database and ports): ingest of the photos with
   `manage.py ingest` (images/s), then live query latency with scripts/load_queries.py at one and at
   four clients, and the Milvus process's resident memory after all of it.
Nothing of the site's own data is touched; every process started is stopped at the end.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from copydetect.milvus_lite import MilvusLiteServer, free_port, wait_for_port
from copydetect.milvus_standalone import MilvusStandaloneServer
from copydetect.vector_store import server_answers

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def tree_rss_gib(pid: int) -> float:
    try:
        process = psutil.Process(pid)
        members = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    return sum(member.memory_info().rss for member in members if member.is_running()) / 2**30


def server_alone(kind: str, folder: Path) -> tuple[float, float]:
    """(seconds until a client is served, resident GiB a few seconds later) of a fresh server."""
    started = time.perf_counter()
    if kind == "standalone":
        server = MilvusStandaloneServer(folder, password="bench-only-password").start()
        token = server.token
    else:
        server = MilvusLiteServer(folder).start()
        token = ""
    try:
        while not server_answers(uri=server.uri, token=token, timeout=5):
            time.sleep(0.1)
        seconds = time.perf_counter() - started
        time.sleep(5)
        return seconds, tree_rss_gib(server.process.pid)
    finally:
        server.stop()


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}")
    return result.stdout


def milvus_process(stack: psutil.Process, kind: str) -> psutil.Process | None:
    for child in stack.children(recursive=True):
        command = " ".join(child.cmdline())
        if (kind == "lite" and "milvus-lite" in command) or (kind == "standalone" and "run standalone" in command):
            return child
    return None


def stack_run(kind: str, folder: Path, args: argparse.Namespace, web_port: int) -> dict[str, str]:
    milvus_port = free_port()
    env = {
        **os.environ,
        "ISC_MILVUS": kind,
        "ISC_DATA_DIR": str(folder),
        "DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}",
        "MILVUS_URI": f"http://127.0.0.1:{milvus_port}",
        "CELERY_BROKER_URL": f"redis://127.0.0.1:6379/{args.redis_db}",
        "ISC_WEB_ADDRESS": f"127.0.0.1:{web_port}",
    }
    env.pop("MILVUS_TOKEN", None)
    import redis

    redis.Redis(db=args.redis_db).flushdb()
    folder.mkdir(parents=True, exist_ok=True)
    manage(env, "migrate", "--noinput")
    login = manage(env, "ensure_admin", "--username", "bench", "--team", "Bench")
    password = re.search(r"password: (\S+)", login).group(1)
    log = open(folder / "stack.log", "w")
    stack = subprocess.Popen(
        [PYTHON, "scripts/run_stack.py"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    results: dict[str, str] = {}
    try:
        wait_for_port(web_port, timeout=300)
        if kind == "standalone":
            env["MILVUS_TOKEN"] = "root:" + (folder / "milvus-standalone" / "root-password").read_text().strip()
        started = time.perf_counter()
        out = manage(
            env, "ingest", "--collection", "Bench", "--team", "bench", "--create", "--as", "bench", str(args.photos)
        )
        seconds = time.perf_counter() - started
        created = re.search(r"([\d,]+) added", out)
        count = int(created.group(1).replace(",", "")) if created else 0
        results["ingest"] = f"{count} images in {seconds:.1f} s = {count / seconds:.2f} images/s (manage.py ingest)"
        collection_id = manage(
            env,
            "shell",
            "-c",
            "from search.collection.models import Collection; print(Collection.objects.get(name='Bench').id)",
        ).split()[-1]  # the shell prints its automatic imports first
        for clients, queries in ((1, args.queries), (4, args.queries * 2)):
            load = subprocess.run(
                [PYTHON, "scripts/load_queries.py", "--url", f"http://127.0.0.1:{web_port}", "--username", "bench"]
                + ["--password", password, "--collection-id", collection_id, "--photos", str(args.photos)]
                + ["--clients", str(clients), "--queries", str(queries), "--time-cap", "300", "--seed", "1"],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            results[f"{clients} client(s)"] = " | ".join((load.stdout.strip().splitlines() or [load.stderr[-500:]])[:3])
        milvus = milvus_process(psutil.Process(stack.pid), kind)
        results["milvus RSS after"] = f"{tree_rss_gib(milvus.pid):.2f} GiB" if milvus else "not found"
    finally:
        os.killpg(stack.pid, signal.SIGTERM)
        try:
            stack.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(stack.pid, signal.SIGKILL)
        log.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=Path, required=True, help="scripts/fetch_photos.py output")
    parser.add_argument("--redis-db", type=int, required=True, help="a Redis database number of your own")
    parser.add_argument("--queries", type=int, default=10, help="uploads at one client (twice as many at four)")
    parser.add_argument("--web-port", type=int, default=8610)
    parser.add_argument("--keep", type=Path, help="keep the stacks' folders here (default: a temporary folder)")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-milvus-stack-") as temp:
        base = args.keep or Path(temp)
        for index, kind in enumerate(("lite", "standalone")):
            seconds, rss = server_alone(kind, base / f"alone-{kind}")
            print(f"[{kind}] start until it serves: {seconds:.1f} s; idle resident memory {rss:.2f} GiB", flush=True)
            for name, value in stack_run(kind, base / f"stack-{kind}", args, args.web_port + index).items():
                print(f"[{kind}] {name}: {value}", flush=True)
            print(f"[{kind}] load average {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
