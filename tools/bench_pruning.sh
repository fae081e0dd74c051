#!/usr/bin/env bash
# The SSL pruning benchmark of docs/BENCHMARKS.md, in the calibrated CPU regime:
# from one trained dense tiny BasicVSR, at 50% and 25% of the prunable MACs
# (SHARES, default "0.25 0.5"; 0.1 was added later),
#   ssl      stage 1 (sparsity learning) -> tools/prune.py -> stage 3 with
#            Temporal Finetuning (and, at 25%, without it, and in SSL's RSC
#            stream layout instead of the aligned one);
#   l1       L1-norm filter pruning of the dense model -> fine-tuning;
#   scratch  a uniformly narrower model of the same MACs trained from scratch;
# every method spends the same iterations after the dense training (the
# scratch model the dense model's too). Then tools/test.py scores each final
# checkpoint, tools/psnr_by_frame.py the TF effect, tools/prune_report.py the
# cost, and a table is printed with the dense and bicubic lines.
#
#   bash tools/bench_pruning.sh [DENSE_CHECKPOINT]   # about 90 minutes on 2 CPU cores
# Without DENSE_CHECKPOINT the dense model is trained first: the calibrated
# stock, 1600 iterations on the native-size demo data (18 to 40 minutes of
# training on 2-core EPYC hosts beside another run; docs/BENCHMARKS.md).
# BENCH_ROOT (default work_dirs/bench_pruning), SHARES, STAGE1_ITERS, FINETUNE_ITERS,
# ROUND_TO; RSC=0 leaves out the RSC run (at 25%); METHODS (default "ssl l1
# scratch") picks the methods, so that two shells can share the work once the
# dense model exists (e.g. METHODS=ssl in one, METHODS="l1 scratch" in the
# other, each on one thread; each prints the table of what is finished).
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(bash tools/bootstrap.sh --print-env)"
root="${BENCH_ROOT:-work_dirs/bench_pruning}"
stage1_iters="${STAGE1_ITERS:-300}"
finetune_iters="${FINETUNE_ITERS:-300}"
# Kept channels per group in multiples of 8: odd widths run far slower on
# CPU kernels (tools/prune_report.py, docs/BENCHMARKS.md).
round_to="${ROUND_TO:-8}"
read -r -a methods <<< "${METHODS:-ssl l1 scratch}"
for method in "${methods[@]}"; do
  [[ $method =~ ^(ssl|l1|scratch)$ ]] || { echo "METHODS: unknown method '$method' (expected ssl, l1, scratch)" >&2; exit 1; }
done
want() { [[ " ${methods[*]} " == *" $1 "* ]]; }
mkdir -p "$root"
python tools/make_demo_data.py
# The calibrated regime (issue 7): the dense start is the stock tiny BasicVSR
# at its calibrated budget; the scratch baseline gets those steps too.
stock=configs/basicvsr/basicvsr_tiny_calibrated.py

source tools/bench_lib.sh
dense_iters=$(bench_max_iters "$stock")
dense=$(bench_dense "$root" "$stock" "${1:-}")
train() { bench_train bench_pruning "$@"; }

both=$((stage1_iters + finetune_iters))
read -r -a shares <<< "${SHARES:-0.25 0.5}"
for share in "${shares[@]}"; do
  # The run tag (p25 for 0.25), and SSL's ratio of channels to regularise
  # away: 1 - sqrt(share) to one decimal (0.5 for 25%, 0.3 for 50%, 0.7 for
  # 10%), since most convs lose inputs and outputs alike.
  tag=$(python -c "print(f'p{round($share * 100)}')")
  ratio=$(python -c "print(round(1 - $share ** 0.5, 1))")
  # SSL: the regulariser reaches SSL's limit (0.1) after 200 of the 300 steps.
  if want ssl; then
    train configs/ssl/basicvsr_ssl-stage1_tiny_demo.py "$root/ssl-stage1-$tag" "$stage1_iters" \
      load_from="$dense" model.generator.sparsity.ratio="$ratio" \
      model.generator.sparsity.interval=1 model.generator.sparsity.delta=5e-4
    stage1="$root/ssl-stage1-$tag/iter_$stage1_iters.pth"
    [[ -f "$root/ssl-$tag/channel_spec.json" ]] || python tools/prune.py \
      configs/ssl/basicvsr_ssl-stage1_tiny_demo.py "$stage1" --macs "$share" --round-to "$round_to" --out "$root/ssl-$tag"
    spec="model.generator.channel_spec=$PWD/$root/ssl-$tag/channel_spec.json"
    train configs/ssl/basicvsr_ssl-finetune-tf_tiny_demo.py "$root/ssl-tf-$tag" "$finetune_iters" \
      "$spec" load_from="$root/ssl-$tag/pruned.pth" model.teacher.checkpoint="$stage1"
    if [[ $tag == p25 ]]; then
      train configs/ssl/basicvsr_ssl-finetune_tiny_demo.py "$root/ssl-notf-$tag" \
        "$finetune_iters" "$spec" load_from="$root/ssl-$tag/pruned.pth"
    fi
  fi
  # L1-norm filter pruning of the dense weights, fine-tuned for both stages' steps.
  if want l1; then
    [[ -f "$root/l1-$tag/channel_spec.json" ]] || python tools/prune.py "$stock" "$dense" \
      --criterion l1 --macs "$share" --round-to "$round_to" --out "$root/l1-$tag"
    train configs/ssl/basicvsr_ssl-finetune_tiny_demo.py "$root/l1-ft-$tag" "$both" \
      "model.generator.channel_spec=$PWD/$root/l1-$tag/channel_spec.json" \
      load_from="$root/l1-$tag/pruned.pth"
  fi
  # A uniformly narrower model (the same share of every group) of the same
  # MACs, from random weights, for the dense training's steps plus both stages'.
  if want scratch; then
    [[ -f "$root/narrow-$tag/channel_spec.json" ]] || python tools/prune.py "$stock" "$dense" \
      --criterion l1 --scope group --macs "$share" --round-to "$round_to" --out "$root/narrow-$tag"
    train configs/ssl/basicvsr_ssl-finetune_tiny_demo.py "$root/scratch-$tag" \
      $((dense_iters + both)) "model.generator.channel_spec=$PWD/$root/narrow-$tag/channel_spec.json"
  fi
done

# SSL's own Residual Sparsity Connection layout at 25%, for quality at equal
# MACs (its latency against the aligned layout: tools/prune_report.py).
share=0.25 tag=p25 ratio=0.5
if [[ ${RSC:-1} == 1 ]] && want ssl; then
train configs/ssl/basicvsr_ssl-stage1_tiny_demo.py "$root/ssl-rsc-stage1-$tag" \
  "$stage1_iters" load_from="$dense" model.generator.stream_mode=rsc \
  model.generator.sparsity.ratio="$ratio" model.generator.sparsity.interval=1 \
  model.generator.sparsity.delta=5e-4
rsc_stage1="$root/ssl-rsc-stage1-$tag/iter_$stage1_iters.pth"
[[ -f "$root/ssl-rsc-$tag/channel_spec.json" ]] || python tools/prune.py \
  configs/ssl/basicvsr_ssl-stage1_tiny_demo.py "$rsc_stage1" --macs "$share" --round-to "$round_to" \
  --out "$root/ssl-rsc-$tag" --cfg-options model.generator.stream_mode=rsc
train configs/ssl/basicvsr_ssl-finetune-tf_tiny_demo.py "$root/ssl-rsc-tf-$tag" \
  "$finetune_iters" "model.generator.channel_spec=$PWD/$root/ssl-rsc-$tag/channel_spec.json" \
  load_from="$root/ssl-rsc-$tag/pruned.pth" model.teacher.checkpoint="$rsc_stage1"
fi

python tools/bench_pruning_report.py "$root" --dense "$dense" --stock "$stock" --stage1-iters "$stage1_iters" \
  --finetune-iters "$finetune_iters" --dense-iters "$dense_iters"
