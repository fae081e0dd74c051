#!/usr/bin/env bash
# tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py args...]
# Same interface as MMagic's script. On CPU-only partitions set GPUS_PER_NODE=0
# and the run uses gloo (MASTER_ADDR is taken from the job's first node).
export MASTER_PORT=${MASTER_PORT:-$((12000 + RANDOM % 20000))}
set -x

PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
PY_ARGS=${@:5}
SRUN_ARGS=${SRUN_ARGS:-""}
PYTHON=${PYTHON:-python}
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
             exec $PYTHON -u tools/train.py ${CONFIG} --work-dir=${WORK_DIR} --launcher=slurm ${PY_ARGS}"
