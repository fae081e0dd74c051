#!/usr/bin/env bash
# Pack what the lent GPU machine lacks into .device/ (git-ignored), for the
# `device` tool's `carry`: the pure-Python packages mmagic needs that its image
# does not hold (mmengine, mmagic, mmcv's Python code without its compiled
# ops, and their small pure-Python dependencies), a sitecustomize that
# installs tools/device/tolerant.py, the demo clips the checks read, and the
# routed and dense checkpoints the routing report times.
#
#   bash tools/device/pack.sh [ROUTED_CKPT] [DENSE_CKPT]
#
# Then, with the device tool: run command `bash tools/device/run.sh`,
# carry [".device"]. Everything here is read from this machine's
# environment (tools/bootstrap.sh) and demo data (tools/make_demo_data.py).
set -euo pipefail
cd "$(dirname "$0")/../.."
routed=${1:-work_dirs/bench16-s2/phase2/iter_2400.pth}
dense=${2:-work_dirs/bench9c/dense_basicsr_stock_sc.pth}
eval "$(bash tools/bootstrap.sh --print-env | tail -1)"
site=$(python -c 'import mmengine, os; print(os.path.dirname(os.path.dirname(mmengine.__file__)))')
rm -rf .device && mkdir -p .device/site .device/data .device/ckpt
# Pure-Python packages absent from the GPU image (its KINDS.md lists the rest).
for pkg in mmengine mmcv mmagic addict yapf yapf_third_party termcolor platformdirs \
           importlib_metadata lazy_importer; do
  [ -e "$site/$pkg" ] || [ -e "$site/$pkg.py" ] || { echo "missing $site/$pkg" >&2; exit 1; }
  cp -r "$site/$pkg" .device/site/
  # Their metadata too: yapf reads its own at import.
  for info in "$site/$pkg"-*.dist-info; do [ -e "$info" ] && cp -r "$info" .device/site/; done
done
# Compiled code built here would not load there (another Python and torch);
# mmagic's demos, tools and resources are not needed.
find .device/site \( -name '__pycache__' -o -name '*.so' -o -name csrc \) -prune -exec rm -rf {} +
rm -rf .device/site/mmagic/.mim/{demo,tools,resources}
# mmengine resolves "mmagic::" config bases through pkg_resources, which
# setuptools 81+ no longer has: run.sh falls back to this pinned one.
mkdir -p .device/fallback
cp -r "$site/setuptools" "$site/pkg_resources" "$site"/setuptools-*.dist-info .device/fallback/
rm -rf .device/fallback/setuptools/tests .device/fallback/setuptools/*.exe
find .device/fallback -name '__pycache__' -prune -exec rm -rf {} +
cp tools/device/tolerant.py .device/site/
printf 'import tolerant\ntolerant.install()\n' > .device/site/sitecustomize.py
# Demo data: the validation clips and three training clips (disk layout:
# the image has no lmdb), and the still-background clip.
mini=.device/data/demo_reds
mkdir -p "$mini/train_sharp" "$mini/train_sharp_bicubic/X4"
cp data/demo_reds/meta_info_val.txt "$mini/"
head -3 data/demo_reds/meta_info_train.txt > "$mini/meta_info_train.txt"
for clip in $(cut -d' ' -f1 "$mini/meta_info_val.txt" "$mini/meta_info_train.txt"); do
  cp -r "data/demo_reds/train_sharp/$clip" "$mini/train_sharp/"
  cp -r "data/demo_reds/train_sharp_bicubic/X4/$clip" "$mini/train_sharp_bicubic/X4/"
done
cp -r data/demo_still640 .device/data/
# Checkpoints: the generator weights alone (no optimizer state).
python - "$routed" .device/ckpt/routed.pth "$dense" .device/ckpt/dense.pth <<'PY'
import sys
import torch
from vsr_multigrid.compat.checkpoint import generator_weights
for src, dst in zip(sys.argv[1::2], sys.argv[2::2]):
    weights = generator_weights(src)
    torch.save({'state_dict': {f'generator.{k}': v for k, v in weights.items()},
                'meta': {'source': src}}, dst)
PY
sed "s|$PWD/|../|" "$(dirname "$(dirname "$routed")")/phase2.py" > .device/routed_config.py
du -sh .device .device/*
