#!/usr/bin/env bash
# tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py args...]
# tools/slurm_train.sh PARTITION JOB_NAME OPTIONS.yml [BasicSR train args...]
# The first: MMagic's interface. The second, for a BasicSR option file, runs
# python -m vsr_multigrid.basicsr_ext.train -opt OPTIONS.yml --launcher slurm
# (experiments/ under the current directory). On CPU-only partitions set
# GPUS_PER_NODE=0 and the run uses gloo (MASTER_ADDR is taken from the job's
# first node).
export MASTER_PORT=${MASTER_PORT:-$((12000 + RANDOM % 20000))}
set -x

PARTITION=$1
JOB_NAME=$2
CONFIG=$3
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
PYTHON=${PYTHON:-python}
if [[ $CONFIG == *.yml || $CONFIG == *.yaml ]]; then
  TRAIN="$PYTHON -u -m vsr_multigrid.basicsr_ext.train -opt ${CONFIG} --launcher slurm ${*:4}"
else
  TRAIN="$PYTHON -u tools/train.py ${CONFIG} --work-dir=$4 --launcher=slurm ${*:5}"
fi
if [ "$GPUS_PER_NODE" -gt 0 ]; then
  GRES="--gres=gpu:${GPUS_PER_NODE}"
  TASKS_PER_NODE=$GPUS_PER_NODE
else
  GRES=""
  TASKS_PER_NODE=${TASKS_PER_NODE:-1}
fi

PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH \
srun -p "${PARTITION}" \
    --job-name="${JOB_NAME}" \
    ${GRES} \
    --ntasks="${GPUS}" \
    --ntasks-per-node="${TASKS_PER_NODE}" \
    --cpus-per-task="${CPUS_PER_TASK}" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    bash -c "export MASTER_ADDR=\$(scontrol show hostnames \"\$SLURM_JOB_NODELIST\" | head -n1); \
             exec $TRAIN"
