#!/bin/bash
# cnnfeat on a SLURM job array: task i extracts shard i of SHARDS, then a dependent job merges.
#
#   sbatch examples/slurm-array.sh                 # submits the array and the merge job
#
# The array indices must be 0..SHARDS-1 (cnnfeat's shard indices are 0-based and read from
# SLURM_ARRAY_TASK_ID). A requeued or re-submitted task continues its shard with --resume; a shard
# that already finished is reused. IMAGES and OUT must be on a file system all nodes share.
#
# cnnfeat is started with `exec node …/bin/cnnfeat.js` (a clone of the repository with `npm ci`
# done, on the shared file system): the script becomes node, so the SIGTERM SLURM sends at the
# time limit, on preemption or on scancel reaches cnnfeat, which stops at its next checkpoint
# (exit 143) and is resumed when the task is requeued. `npx cnnfeat` would pass it no signal.
#SBATCH --job-name=cnnfeat-extract
#SBATCH --array=0-7
#SBATCH --cpus-per-task=4
#SBATCH --mem=4G
#SBATCH --time=08:00:00
#SBATCH --requeue
#SBATCH --output=cnnfeat-%A_%a.log
set -euo pipefail

SHARDS=8                                   # keep equal to the --array range above
IMAGES=${IMAGES:-$HOME/data/images}        # <class>/<image> folders
OUT=${OUT:-$HOME/data/features}
CNNFEAT=${CNNFEAT:-$HOME/cnnfeat/bin/cnnfeat.js}   # bin/cnnfeat.js of the clone
CNNFEAT_ARGS=${CNNFEAT_ARGS:-}             # more extract options, e.g. "--model mobilenet-v2 --batch-size 64"
export CNNFEAT_CACHE=${CNNFEAT_CACHE:-$HOME/.cache/cnnfeat}

if [[ -z "${SLURM_ARRAY_TASK_ID:-}" ]]; then
  echo "submit with sbatch (needs SLURM_ARRAY_TASK_ID)" >&2
  exit 2
fi

# Task 0 submits the merge once, to run when every task of the array has succeeded.
if [[ "$SLURM_ARRAY_TASK_ID" == 0 ]]; then
  sbatch --dependency="afterok:${SLURM_ARRAY_JOB_ID}" --job-name=cnnfeat-merge --output=cnnfeat-merge-%j.log \
    --wrap "exec node '$CNNFEAT' merge '$OUT'/shard-* -o '$OUT/all' --overwrite"
fi

# shellcheck disable=SC2086 # CNNFEAT_ARGS is split into options on purpose
exec node "$CNNFEAT" extract "$IMAGES" -o "$OUT/shard-$SLURM_ARRAY_TASK_ID" --shards "$SHARDS" --resume $CNNFEAT_ARGS
