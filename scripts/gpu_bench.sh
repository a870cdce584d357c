#!/usr/bin/env bash
# ViT throughput on the GPU machine (issue: GPU path ready to measure), in one short call.
#
# 1. Here (CPU):  scripts/gpu_bench.sh prepare
#    → var/gpu_bench/init  (DINOv2-S/14 as an int8 pack, ~22 MB, from var/models/dinov2-s14 made by setup_vit)
# 2. On the GPU machine (device tool, carry ["var/gpu_bench"], timeout ~300 s):
#        scripts/gpu_bench.sh run [N]
#    rebuilds a transformers folder from the pack and runs scripts/bench_vit_throughput.py on CPU and CUDA
#    (GPU JPEG decoding through torchvision when it imports there); the report goes to $OUT/vit_throughput.txt.
# Environment: PYTHON (default .venv/bin/python, else python3).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
CARRY=var/gpu_bench
case "${1:-}" in
prepare)
    init=${INIT:-var/models/dinov2-s14}
    [[ -f $init/config.json ]] || "$PYTHON" manage.py setup_vit --out "$init"
    rm -rf "$CARRY" && mkdir -p "$CARRY"
    "$PYTHON" -c "from copydetect.training.model import init_pack; init_pack('$init', '$CARRY/init')"
    cp "$init"/preprocessor_config.json "$init"/descriptor.json "$CARRY/" 2>/dev/null || true
    du -sh "$CARRY"
    ;;
run)
    n=${2:-2048}
    model=$(mktemp -d)
    PYTHONPATH=. "$PYTHON" -c "
from copydetect.training.model import backbone_load
backbone_load('$CARRY/init').save_pretrained('$model')"
    cp "$CARRY"/*.json "$model/" 2>/dev/null || true
    out=${OUT:-var}
    nvidia-smi --query-gpu=name,memory.total,memory.used --format=csv,noheader | tee "$out/vit_throughput.txt" || true
    PYTHONPATH=. "$PYTHON" scripts/bench_vit_throughput.py --model "$model" --n "$n" 2>&1 | grep -v "Loading weights" | tee -a "$out/vit_throughput.txt"
    ;;
*)
    sed -n '2,11p' "$0"; exit 2 ;;
esac
