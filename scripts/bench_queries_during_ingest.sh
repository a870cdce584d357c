#!/bin/bash
# Query latency idle and during a 1,000-image bulk ingest, against `make run`'s stack (scripts/run_stack.py).
#
# Usage (from the repository root; RUN picks the seeds, so a second run uses other images):
#     RUN=1 scripts/bench_queries_during_ingest.sh var/bench-queries
#     RUN=2 scripts/bench_queries_during_ingest.sh var/bench-queries
#
# Everything lives under the folder given (data directory, generated images): a fresh SQLite database,
# Milvus Lite on 127.0.0.1:${MILVUS_PORT:-8621}, the site on 127.0.0.1:${WEB_PORT:-8620}, Redis database
# ${REDIS_DB:-8} of the Redis on 6379 (emptied first). References: 60 generated scenes
# (copydetect/benchmark/scenes.py, seeds 50000-50059); the bulk ingest: 1,000 other scenes (seeds
# 60000 + 10000 * (RUN - 1) on). Prints scripts/load_queries.py's line for each phase and the memory of
# each worker.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${1:?a folder for the data and the images}
RUN=${RUN:-1}
cd "$ROOT"
PY=.venv/bin/python
export ISC_DATA_DIR=$WORK/data CELERY_BROKER_URL=redis://127.0.0.1:6379/${REDIS_DB:-8}
export MILVUS_URI=http://127.0.0.1:${MILVUS_PORT:-8621} ISC_WEB_ADDRESS=127.0.0.1:${WEB_PORT:-8620}
SH="$PY manage.py shell -v 0 -c"

scenes() {  # folder first count
  $PY - "$@" <<'PYEOF'
import csv, sys
from pathlib import Path
from copydetect.benchmark.scenes import encode, scene
out, first, count = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
out.mkdir(parents=True, exist_ok=True)
with open(out / "manifest.csv", "w", newline="") as handle:
    writer = csv.writer(handle)
    writer.writerow(["path"])
    for seed in range(first, first + count):
        (out / f"s{seed}.jpg").write_bytes(encode(scene(seed)))
        writer.writerow([f"s{seed}.jpg"])
PYEOF
}
job_wait() {
  for _ in $(seq 1 200); do
    state=$($SH "from search.ingest.models import IngestJob; print(IngestJob.objects.latest('id').state)")
    [ "$state" = "done" ] || [ "$state" = "failed" ] && return; sleep 3
  done
}

rm -rf "$ISC_DATA_DIR" "$WORK/bulk"; mkdir -p "$ISC_DATA_DIR"
[ -d "$WORK/references" ] || scenes "$WORK/references" 50000 60
scenes "$WORK/bulk" $((60000 + 10000 * (RUN - 1))) 1000 && rm "$WORK/bulk/manifest.csv"
redis-cli -n "${REDIS_DB:-8}" flushdb >/dev/null
$PY manage.py migrate -v 0
PASSWORD=$($PY manage.py ensure_admin | sed -n 's/.*password: //p')
TEAM=$($SH "from search.teams.models import Team; print(Team.objects.first().slug)")
$PY scripts/run_stack.py > "$WORK/stack.log" 2>&1 &
STACK=$!
trap 'kill -TERM $STACK; wait $STACK' EXIT
for _ in $(seq 1 120); do curl -s -o /dev/null "http://$ISC_WEB_ADDRESS/accounts/login/" && break; sleep 1; done
sleep 20  # the workers answer
$PY manage.py ingest "$WORK/references" --collection Load --team "$TEAM" --create --no-wait | tail -1
job_wait
COLLECTION=$($SH "from search.collection.models import Collection; print(Collection.objects.get(name='Load').id)")
LOAD="$PY scripts/load_queries.py --url http://$ISC_WEB_ADDRESS --username admin --password $PASSWORD"
LOAD="$LOAD --collection-id $COLLECTION --photos $WORK/references --clients 1 --queries 25 --time-cap 240"
$LOAD --seed $((RUN * 10 + 1)) --label "run $RUN, idle"
$PY manage.py ingest "$WORK/bulk" --collection Load --team "$TEAM" --no-wait | tail -1
sleep 5
$LOAD --seed $((RUN * 10 + 2)) --label "run $RUN, during a 1,000-image ingest"
$SH "from search.ingest.models import IngestJob; j = IngestJob.objects.latest('id'); print(f'ingest: {j.done}/{j.total} done meanwhile')"
STACK=$STACK $PY - <<'PYEOF'
import os
import psutil
for child in psutil.Process(int(os.environ["STACK"])).children():
    command = " ".join(child.cmdline())
    if " worker " in f" {command} ":
        tree = [child, *child.children(recursive=True)]
        rss = sum(p.memory_info().rss for p in tree) / 2**20
        uss = sum(p.memory_full_info().uss for p in tree) / 2**20
        print(f"{command.split('-Q', 1)[1]}: {len(tree)} processes, RSS {rss:.0f} MiB, USS {uss:.0f} MiB")
PYEOF
