#!/usr/bin/env bash
# The main job on the built-in default: build the demo data from real video,
# train the tiny stock BasicVSR and its multigrid twin side by side, validate
# both on the held-out clips, print the comparison against the bicubic line
# and write frame.png (bicubic | stock | multigrid | ground truth, zoomed).
#
#   bash tools/demo.sh            # one seed each, validated at iterations 400 and 800;
#                                 # 14 minutes on a 2-core AMD EPYC host (2026-12-07),
#                                 # 27 on the 320-px data on a 2.5x slower host (2026-11-26)
#   bash tools/demo.sh --full     # the bench of docs/BENCHMARKS.md in the calibrated
#                                 # regime (1600 stock iterations): every preset, 3 seeds
#                                 # for the stock and the multigrid run (not yet timed
#                                 # as one command; its runs take about 3 hours here)
# The default is the shortened form (configs/basicvsr/basicvsr_tiny_demo.py, 800
# iterations) with the CPU-tuned curriculum (configs/multigrid/
# basicvsr_mg-vsr-cpu_tiny_demo.py); --full uses their *_tiny_calibrated twins.
# Other arguments go to tools/benchmark.py (e.g. --reuse, --cfg-options ...).
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(bash tools/bootstrap.sh --print-env)"
full=0
if [[ "${1:-}" == "--full" ]]; then
  full=1
  shift
fi
root="${DEMO_WORK_ROOT:-work_dirs/demo}"
python tools/make_demo_data.py
if (( full )); then
  python tools/benchmark.py \
      stock=configs/basicvsr/basicvsr_tiny_calibrated.py \
      multigrid=configs/multigrid/basicvsr_mg-vsr-cpu_tiny_calibrated.py \
      mg-vsr=configs/multigrid/basicvsr_mg-vsr_tiny_calibrated.py \
      mg-slowfast=configs/multigrid/basicvsr_mg-slowfast_tiny_calibrated.py \
      mg-largebatch=configs/multigrid/basicvsr_mg-largebatch_tiny_calibrated.py \
      --seeds 0 1 2 --seeded stock multigrid --throughput \
      --work-root "$root" "$@"
  stock="$root/stock-s0" multigrid="$root/multigrid-s0" stock_cfg=basicvsr_tiny_calibrated.py
else
  python tools/benchmark.py \
      stock=configs/basicvsr/basicvsr_tiny_demo.py \
      multigrid=configs/multigrid/basicvsr_mg-vsr-cpu_tiny_demo.py \
      --work-root "$root" --cfg-options train_cfg.val_interval=400 "$@"
  stock="$root/stock" multigrid="$root/multigrid" stock_cfg=basicvsr_tiny_demo.py
fi
# The stock run's dumped config carries any --cfg-options given above.
python tools/visualize_sr.py "$stock/$stock_cfg" \
    stock="$(cat "$stock/last_checkpoint")" \
    multigrid="$(cat "$multigrid/last_checkpoint")" \
    --out "$root/report/frame.png"
