#!/bin/bash
# opulab on a Slurm cluster: one array task per shard of an experiment spec, then a dependent merge job.
#
#   sbatch --array=0-7 scripts/slurm/opulab-array.sh SPEC.json OUT
#
# Task i runs `opulab run SPEC --shard i/N --out OUT/shard-i` (N = the array size, recorded in OUT/shards on
# first use) with --workers = the task's CPUs. The lowest task of the array submits the merge job
# (--dependency=afterok on the array): when every shard is done it runs `opulab merge` into OUT/merged and renders
# OUT/merged/report.html.
#
# A task that fails or is cancelled: resubmit just that task (`sbatch --array=3 scripts/slurm/opulab-array.sh
# SPEC.json OUT`); its journal resumes (finished jobs are skipped) and it submits a new merge job, which merges
# once every shard is done. Nothing is duplicated: merge deduplicates journal entries by content hash.
#
# Environment (exported to the tasks by sbatch):
#   OPULAB_DATA_DIR   the dataset folder on the shared filesystem (else ~/.cache/opulab on each node)
#   OPULAB_WORKERS    worker threads per task (default: $SLURM_CPUS_PER_TASK)
#   OPULAB_SHARDS     number of shards when it differs from the array size (e.g. --array=0-7%2 still means 8)
#   OPULAB_CMD        how to call opulab (default: npx --no-install opulab, from the submission directory)
#
#SBATCH --job-name=opulab
#SBATCH --cpus-per-task=2
#SBATCH --output=slurm-opulab-%A_%a.out
set -euo pipefail

die() { echo "opulab-array.sh: $*" >&2; exit 2; }
read -r -a OPULAB <<< "${OPULAB_CMD:-npx --no-install opulab}"

mode=shard
if [ "${1:-}" = "--merge" ]; then mode=merge; shift; fi
[ $# -eq 2 ] || die "usage: sbatch --array=0-(N-1) $0 SPEC.json OUT   (got $# arguments)"
SPEC=$1
OUT=$2
[ -f "$SPEC" ] || die "spec file not found: $SPEC"
mkdir -p "$OUT"

if [ "$mode" = merge ]; then
  [ -f "$OUT/shards" ] || die "$OUT/shards missing: no shard has started"
  N=$(cat "$OUT/shards")
  dirs=()
  missing=()
  for ((i = 0; i < N; i++)); do
    dirs+=("$OUT/shard-$i")
    [ -f "$OUT/shard-$i/.opulab-shard-done" ] || missing+=("$i")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "opulab-array.sh: shards not finished yet: ${missing[*]} of $N; resubmit them with sbatch --array=$(IFS=,; echo "${missing[*]}") $0 $SPEC $OUT (their merge job follows)" >&2
    exit 3
  fi
  "${OPULAB[@]}" merge "${dirs[@]}" --out "$OUT/merged"
  "${OPULAB[@]}" report "$OUT/merged/results.json" --out "$OUT/merged/report.html"
  exit 0
fi

[ -n "${SLURM_ARRAY_TASK_ID:-}" ] || die "not an array task: submit with sbatch --array=0-(N-1) $0 SPEC OUT"
I=$SLURM_ARRAY_TASK_ID
# The shard count is fixed by the first task that starts; a resubmitted single task reads it back.
if [ -f "$OUT/shards" ]; then
  N=$(cat "$OUT/shards")
  [ -z "${OPULAB_SHARDS:-}" ] || [ "$OPULAB_SHARDS" = "$N" ] || die "OPULAB_SHARDS=$OPULAB_SHARDS but $OUT was started with $N shards"
else
  N=${OPULAB_SHARDS:-${SLURM_ARRAY_TASK_COUNT:-}}
  [ -n "$N" ] || die "cannot tell the number of shards: set OPULAB_SHARDS"
  tmp="$OUT/.shards.$SLURM_JOB_ID"
  echo "$N" > "$tmp"
  mv -f "$tmp" "$OUT/shards"
  N=$(cat "$OUT/shards")
fi
[ "$I" -lt "$N" ] || die "array index $I is not below the number of shards $N"

# The lowest task of this array submits the merge step, which waits for the whole array to succeed.
if [ "$I" = "${SLURM_ARRAY_TASK_MIN:-0}" ]; then
  sbatch --parsable --job-name=opulab-merge --cpus-per-task=1 --dependency="afterok:$SLURM_ARRAY_JOB_ID" \
    --kill-on-invalid-dep=yes --output="$OUT/slurm-merge-%j.out" "$0" --merge "$SPEC" "$OUT" \
    | sed 's/^/merge job: /'
fi

rm -f "$OUT/shard-$I/.opulab-shard-done"
"${OPULAB[@]}" run "$SPEC" --out "$OUT/shard-$I" --shard "$I/$N" --workers "${OPULAB_WORKERS:-${SLURM_CPUS_PER_TASK:-1}}"
touch "$OUT/shard-$I/.opulab-shard-done"
