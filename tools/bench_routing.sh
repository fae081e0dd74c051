#!/usr/bin/env bash
# The skip-routing benchmark of docs/BENCHMARKS.md, in the calibrated CPU regime:
# from one trained dense tiny BasicVSR,
#   phase 1  the confidence estimators learn with the backbone held
#            (configs/routing/basicvsr_routed-phase1_tiny_demo.py),
#   phase 2  estimators and backbone fine-tuned together at a low LR;
# then tools/route_report.py on the validation clips at several test-time
# thresholds (latency at the calibrated width and replayed at MMagic's 64x30),
# the same with the temporal refresh (every 5th frame runs all blocks), the
# still-background clip, and tools/psnr_by_frame.py for the refresh's effect
# by frame position.
#
#   bash tools/bench_routing.sh [DENSE_CHECKPOINT]   # about 60 minutes on 2 CPU cores with the old 320-px frames; longer on native-size ones
# Without DENSE_CHECKPOINT the dense model is trained first: the calibrated
# stock, 1600 iterations on the native-size demo data (18 to 40 minutes of
# training on 2-core EPYC hosts beside another run; docs/BENCHMARKS.md).
# BENCH_ROOT (default work_dirs/bench_routing), PHASE1_ITERS, PHASE2_ITERS,
# THRESHOLDS (default "0.3 0.5 0.7"), TARGET (executed fraction, default 0.5),
# ROUTING (more routing keys for training and test, e.g. "reuse=True"),
# CHANNEL_SPEC (route a pruned model: tools/prune.py's channel_spec.json,
# aligned layout; DENSE_CHECKPOINT is then its weights, e.g. stage 3's),
# SEED (randomness.seed of both phases; default: drawn per run),
# INDECISION_WEIGHT (phase 2's model.indecision_weight; default 0: off),
# DISTILL_WEIGHT (phase 2 distils the dense start's output with this weight,
# model.teacher; default: off).
# A finished phase 1 is reused when BENCH_ROOT/phase1 holds its last
# checkpoint (e.g. a link to another bench's phase1: same start, new phase 2).
# The configs used are written to BENCH_ROOT (phase1.py, phase2.py).
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(bash tools/bootstrap.sh --print-env)"
root=$(realpath -m "${BENCH_ROOT:-work_dirs/bench_routing}")
phase1_iters="${PHASE1_ITERS:-300}"
phase2_iters="${PHASE2_ITERS:-300}"
read -r -a thresholds <<< "${THRESHOLDS:-0.3 0.5 0.7}"
target="${TARGET:-0.5}"
mkdir -p "$root"
python tools/make_demo_data.py
python tools/make_demo_data.py --still --out data/demo_still
stock=configs/basicvsr/basicvsr_tiny_calibrated.py  # the calibrated regime (issue 7)

source tools/bench_lib.sh
variant="" generator="" dense_config="$stock"
if [[ -n "${CHANNEL_SPEC:-}" ]]; then
  [[ -n "${1:-}" ]] || { echo "CHANNEL_SPEC: give the pruned weights as DENSE_CHECKPOINT" >&2; exit 1; }
  spec=$(realpath "$CHANNEL_SPEC")
  variant="-pruned" generator="channel_spec='$spec', " dense_config="$root/pruned.py"
  cat > "$dense_config" <<CFG
_base_ = '$PWD/configs/ssl/basicvsr_ssl-finetune_tiny_demo.py'
model = dict(generator=dict(channel_spec='$spec'))
CFG
fi
dense=$(bench_dense "$root" "$stock" "${1:-}")
train() { bench_train bench_routing "$@" ${SEED:+randomness.seed=$SEED}; }

# The phase configs with this bench's routing keys (phase 2 also tests).
phase1="$root/phase1.py" phase2="$root/phase2.py"
routing="target=$target${ROUTING:+, $ROUTING}"
cat > "$phase1" <<CFG
_base_ = '$PWD/configs/routing/basicvsr_routed${variant}-phase1_tiny_demo.py'
model = dict(generator=dict(${generator}routing=dict($routing, anneal_iters=$phase1_iters)))
CFG
# Phase 2 anneals the gates' noise away by its halfway point (the forward
# counter continues from phase 1's; the phase-2 config's min_noise=0).
cat > "$phase2" <<CFG
_base_ = '$PWD/configs/routing/basicvsr_routed${variant}-phase2_tiny_demo.py'
model = dict(${INDECISION_WEIGHT:+indecision_weight=$INDECISION_WEIGHT, }${DISTILL_WEIGHT:+teacher=dict(checkpoint='$(realpath "$dense")'), distill_weight=$DISTILL_WEIGHT, }generator=dict(${generator}routing=dict($routing, anneal_iters=$((phase1_iters + phase2_iters / 2)))))
CFG
train "$phase1" "$root/phase1" "$phase1_iters" load_from="$dense"
train "$phase2" "$root/phase2" "$phase2_iters" load_from="$root/phase1/iter_$phase1_iters.pth"
routed="$root/phase2/iter_$phase2_iters.pth"

# The temporal refresh at test time: every 5th frame of each branch runs all blocks.
cat > "$root/phase2-refresh5.py" <<CFG
_base_ = '$phase2'
model = dict(generator=dict(routing=dict(refresh_interval=5)))
CFG

# report OUT [route_report options...]: skipped when OUT/report.json exists.
# Timed: nothing else may run on the machine meanwhile.
report() {
  local out=$1
  shift
  [[ -f "$out/report.json" ]] && return 0
  echo "[bench_routing] $(date +%T) $out"
  python tools/route_report.py "$@" --out "$out"
}
# The validation clips at every threshold, timed at the calibrated width and
# replayed at MMagic's 64x30 (about 25 minutes: 25 frames at 64x30 take about
# 20 s per forward here).
report "$root/report" "$phase2" "$routed" --dense "$dense" --thresholds "${thresholds[@]}"
# The refresh changes quality, not the replay: no 64x30 timing, one repeat.
report "$root/report-refresh5" "$root/phase2-refresh5.py" "$routed" --dense "$dense" \
  --thresholds "${thresholds[@]}" --replay-width 0 0 --repeats 1
# The still-background clip (one clip), replayed at 64x30, one repeat.
report "$root/report-still" "$phase2" "$routed" --dense "$dense" --thresholds "${thresholds[@]}" --repeats 1 \
  --cfg-options "val_dataloader.dataset.data_root=$PWD/data/demo_still"
# The still clip with the refresh (quality only).
report "$root/report-still-refresh5" "$root/phase2-refresh5.py" "$routed" --dense "$dense" \
  --thresholds "${thresholds[@]}" --replay-width 0 0 --repeats 1 \
  --cfg-options "val_dataloader.dataset.data_root=$PWD/data/demo_still"
# PSNR by frame position at the config's threshold (0.5), with and without the refresh.
python tools/psnr_by_frame.py "$stock" "dense=$dense@$dense_config" "routed=$routed@$phase2" \
  "routed-refresh5=$routed@$root/phase2-refresh5.py" --out "$root/frames.json" --plot "$root/frames.png"
