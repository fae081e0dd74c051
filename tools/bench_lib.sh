# Shared by the tools/bench_*.sh scripts (source it after `cd` to the repo).
#
# bench_train TAG CONFIG WORK_DIR ITERS [cfg options...]: tools/train.py with a
# cosine over ITERS, validation and a checkpoint every 100 iterations, logged
# to WORK_DIR.log. Skipped when its last checkpoint exists; resumed from the
# latest one when interrupted (then load_from, the starting point, is dropped).
#
# Two shells may share a bench (tools/bench_pruning.sh's METHODS): a run is
# trained under a lock on WORK_DIR.lock, so a shell that reaches a run another
# shell is training waits for it and then finds it done.
bench_train() {
  mkdir -p "$(dirname "$3")"
  ( flock 9; _bench_train_unlocked "$@" ) 9> "$3.lock"
}

_bench_train_unlocked() {
  local tag=$1 config=$2 work=$3 iters=$4
  shift 4
  [[ -f "$work/iter_$iters.pth" ]] && return 0
  local options=("$@") resume=()
  if [[ -f "$work/last_checkpoint" ]]; then
    resume=(--resume)
    options=()
    for option in "$@"; do [[ $option == load_from=* ]] || options+=("$option"); done
  fi
  echo "[$tag] $(date +%T) training $work ($iters iterations)"
  python tools/train.py "$config" --work-dir "$work" "${resume[@]}" --cfg-options \
    train_cfg.max_iters="$iters" "param_scheduler.periods=[$iters]" \
    train_cfg.val_interval=100 default_hooks.checkpoint.interval=100 "${options[@]}" \
    >> "$work.log" 2>&1 || { tail -30 "$work.log"; exit 1; }
}

# bench_dense ROOT STOCK_CONFIG [CHECKPOINT]: prints the dense checkpoint a
# bench starts from: CHECKPOINT if given, else ROOT/dense trained once with
# STOCK_CONFIG as it stands (its own train_cfg.max_iters).
bench_dense() {
  local root=$1 stock=$2 dense=${3:-}
  if [[ -z "$dense" ]]; then
    local iters
    iters=$(bench_max_iters "$stock")
    [[ -f "$root/dense/iter_$iters.pth" ]] || python tools/train.py "$stock" --work-dir "$root/dense" >&2
    dense="$root/dense/iter_$iters.pth"
  fi
  echo "$dense"
}

# bench_max_iters CONFIG: prints the config's train_cfg.max_iters.
bench_max_iters() {
  python -W ignore -c "import sys; from mmengine import Config; print(Config.fromfile(sys.argv[1]).train_cfg.max_iters)" "$1"
}
