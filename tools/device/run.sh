#!/usr/bin/env bash
# GPU checks and timings, in one call of the `device` tool (after pack.sh):
#   run command `bash tools/device/run.sh`, carry [".device"], timeout_s 420
# A dry run here (CPU, small sizes, the packed site):
#   DEVICE=cpu QUICK=1 OUT=/tmp/device_out bash tools/device/run.sh
# 1. CUDA paths of the routed and pruned generators against CPU (cuda_check.py);
# 2. pruned latency per frame at MMagic's 64x30 and the calibrated 32x4
#    (prune_report.py, REDS LR size 180x320);
# 3. skip routing on the validation clips and the still clip, with the 64x30
#    replay (route_report.py, the packed routed and dense checkpoints);
# 4. a short multigrid training run through mmengine's runner.
# Steps are independent: one failing does not stop the next. Outputs land in
# $OUT (at most 8 files come back): run.log and one file per step.
set -uo pipefail
cd "$(dirname "$0")/../.."
DEVICE=${DEVICE:-cuda}
QUICK=${QUICK:-0}
PY=${PY:-python3}
OUT=${OUT:-/tmp/device_out}
mkdir -p "$OUT"
export PYTHONPATH="$PWD/.device/site:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
$PY -c 'import pkg_resources' 2>/dev/null || PYTHONPATH="$PYTHONPATH:$PWD/.device/fallback"
export VSR_DEMO_DATA="$PWD/.device/data/demo_reds"
quiet() { grep -v -e 'Warning' -e '_register_pytree_node' -e 'designed for input larger' \
               -e 'warnings.warn' -e '^\s*$'; }
step() { echo "== $1 ($(date +%T))"; }
if [ "$QUICK" = 1 ]; then
  lr=(64 64); frames=4; repeats=1; wide=(16 4); iters=6
else
  lr=(180 320); frames=15; repeats=7; wide=(64 30); iters=60
fi
{
step environment
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv 2>&1
$PY -c 'import sys, numpy, torch; print(sys.version.split()[0], "numpy", numpy.__version__,
"torch", torch.__version__, torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU")
import vsr_multigrid, tolerant  # what the tolerant imports skipped (tools/device/tolerant.py)
print(*tolerant.skipped(), sep="\n")' 2>&1 | quiet

step cuda_check
$PY tools/device/cuda_check.py --device "$DEVICE" 2>&1 | quiet

step "prune_report ${wide[0]}x${wide[1]}"
$PY tools/prune_report.py --device "$DEVICE" --mid-channels "${wide[0]}" \
  --num-blocks "${wide[1]}" --macs 0.5 0.25 --modes aligned rsc --lr-size "${lr[@]}" \
  --frames "$frames" --repeats "$repeats" --out "$OUT/prune_wide.json" 2>&1 | quiet

step 'prune_report 32x4 (calibrated)'
$PY tools/prune_report.py --device "$DEVICE" --mid-channels 32 --num-blocks 4 \
  --macs 0.5 0.25 --modes aligned --lr-size "${lr[@]}" --frames "$frames" \
  --repeats "$repeats" --out "$OUT/prune_calibrated.json" 2>&1 | quiet

for clips in demo_reds demo_still640; do
  step "route_report $clips"
  $PY tools/route_report.py .device/routed_config.py .device/ckpt/routed.pth \
    --dense .device/ckpt/dense.pth --thresholds 0.5 0.7 --repeats "$repeats" \
    --replay-width "${wide[@]}" --device "$DEVICE" --out "/tmp/route_$clips" \
    --cfg-options "val_dataloader.dataset.data_root=$PWD/.device/data/$clips" 2>&1 | quiet
  cp "/tmp/route_$clips/report.md" "$OUT/route_$clips.md"
done

step "multigrid training, $iters iterations"
work=/tmp/device_train
rm -rf "$work"
$PY tools/train.py configs/multigrid/basicvsr_mg-vsr_tiny_demo.py --work-dir "$work" \
  --cfg-options "train_cfg.max_iters=$iters" "train_cfg.val_interval=$iters" \
  "param_scheduler.stock.periods=[$iters]" default_hooks.checkpoint.interval="$iters" \
  2>&1 | quiet | grep -E 'Iter\(|Error|Traceback|Exception|^\s+File ' | tail -40
step done
} 2>&1 | tee "$OUT/run.log"
