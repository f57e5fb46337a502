#!/bin/sh
# Publishes a finished reproduction run as a results folder: the run's results.json, its per-example files
# gzip-compressed (the report reads runs/KEY-i.jsonl.gz beside results.json), tables.md and the self-contained
# report.html, both rendered from the copied results.json. Checkpoints are not copied (about 12 MB each; the
# spec retrains them with the same weights).
#
#   sh scripts/publish-reproduction.sh [RUN_DIR] [OUT_DIR]       defaults: runs/reproduction-cifar10 docs/reproduction
#   SPEC=examples/other.json sh scripts/publish-reproduction.sh ...
#   PREVIEW=1 sh scripts/publish-reproduction.sh runs/reproduction-cifar10 /tmp/preview
#
# It refuses a run that `opulab run --check` does not report complete (verdicts from the jobs that happened to
# finish first would be biased toward the cheap attacks), unless PREVIEW=1, and a folder over 20 MB.
set -eu
SPEC=${SPEC:-examples/reproduction-cifar10.json}
RUN=${1:-runs/reproduction-cifar10}
OUT=${2:-docs/reproduction}
CLI="node dist/src/cli/main.js"
LIMIT_KB=20480

[ -f dist/src/cli/main.js ] || { echo "dist/src/cli/main.js missing: build first (npx tsc -p tsconfig.json)" >&2; exit 2; }
[ -f "$RUN/results.json" ] || { echo "$RUN/results.json missing: expected the output folder of opulab run $SPEC" >&2; exit 2; }

# last line of --check: "in DIR: A of N models trained and recorded, B of M attack jobs done[, C partly done]"
state=$($CLI run "$SPEC" --out "$RUN" --check | tail -n 1)
complete=$(echo "$state" | sed -n 's/.*: \([0-9]*\) of \([0-9]*\) models trained and recorded, \([0-9]*\) of \([0-9]*\) attack jobs done.*/\1 \2 \3 \4/p' |
  awk '{ print ($1 == $2 && $3 == $4) ? "yes" : "no" }')
if [ "$complete" != yes ]; then
  if [ "${PREVIEW:-}" = 1 ]; then
    echo "preview of an unfinished run ($state)"
  else
    echo "$RUN is not complete ($state); expected every model and attack job done (PREVIEW=1 renders it anyway)" >&2
    exit 2
  fi
fi

mkdir -p "$OUT/runs"
rm -f "$OUT"/runs/*.jsonl.gz
cp "$RUN/results.json" "$OUT/results.json.tmp"
mv "$OUT/results.json.tmp" "$OUT/results.json"
n=0
for f in "$RUN"/runs/*.jsonl; do
  [ -e "$f" ] || continue
  gzip -9 -n -c "$f" > "$OUT/runs/$(basename "$f").gz.tmp"
  mv "$OUT/runs/$(basename "$f").gz.tmp" "$OUT/runs/$(basename "$f").gz"
  n=$((n + 1))
done
echo "copied results.json and $n per-example files (gzip) to $OUT"

$CLI report "$OUT/results.json" --claims --markdown "$OUT/tables.md" --out "$OUT/report.html"

kb=$(du -sk "$OUT" | cut -f1)
echo "$OUT: $kb KiB"
if [ "$kb" -gt "$LIMIT_KB" ]; then
  echo "$OUT is $kb KiB; expected at most $LIMIT_KB KiB (20 MB)" >&2
  exit 2
fi
