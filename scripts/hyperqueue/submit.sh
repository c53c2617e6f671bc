#!/bin/sh
# batchrun on HyperQueue (`hq` command): one task of a task array per shard, then the merge.
#
#   scripts/hyperqueue/submit.sh 8 nightly.csv     (with an `hq server` and workers running)
#
# --shard auto reads HQ_TASK_ID as a 0-based index, so the array must be 0-(N-1), and N from
# BATCHRUN_SHARD_COUNT, which `--env` sets here. This `hq` recipe is not run by CI (the Python
# package CI installs has no `hq` command); scripts/hq-e2e.sh drives the same task array
# through HyperQueue's Python API instead.
set -eu
n=${1:?usage: submit.sh N MANIFEST}
manifest=${2:?usage: submit.sh N MANIFEST}
mkdir -p reports
hq submit --wait --array "0-$((n - 1))" --env "BATCHRUN_SHARD_COUNT=$n" -- \
    sh -c 'k=$((HQ_TASK_ID + 1)); batchrun run --shard auto --joblog "reports/shard-$k.joblog" --report "reports/shard-$k.json" "$1"; test -s "reports/shard-$k.json"' \
    sh "$manifest" || echo "a shard ended without a report: merge recovers it from its joblog" >&2
joblogs=$(for f in reports/shard-*.joblog; do test -e "$f" && printf ' --joblog %s' "$f"; done)
# shellcheck disable=SC2086 # word splitting of $joblogs is wanted
exec batchrun merge --manifest "$manifest" --report reports/merged.json $joblogs reports
