#!/usr/bin/env bash
# The main job on the built-in default: build the demo data from real video,
# train the tiny stock BasicVSR and its multigrid twin side by side, validate
# both on the held-out clip and print the comparison (PNG in the report dir).
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(bash tools/bootstrap.sh --print-env)"
python tools/make_demo_data.py
python tools/benchmark.py \
    stock=configs/basicvsr/basicvsr_tiny_demo.py \
    multigrid=configs/multigrid/basicvsr_mg-vsr_tiny_demo.py \
    --work-root "${DEMO_WORK_ROOT:-work_dirs/demo}" "$@"
