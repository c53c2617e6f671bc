#!/usr/bin/env bash
# Measures --balance-from against count-based sharding on a skewed manifest: 80 jobs, every
# tenth 20 times slower (sleep 1 against sleep 0.05), 4 shards run one after the other, each
# with -j 1 (as one single-core task each). Prints each shard's wall time and the slowest
# shard's, which sets the wall time of a job array.
#
#   scripts/balance-bench.sh [BATCHRUN]     (default target/release/batchrun, else debug)
set -euo pipefail
cd "$(dirname "$0")/.."
b=${1:-$(pwd)/target/release/batchrun}
[ -x "$b" ] || b=$(pwd)/target/debug/batchrun
dir=$(mktemp -d /tmp/batchrun-balance-bench.XXXXXX)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
{
    echo "id,command"
    for i in $(seq 1 80); do
        if [ $((i % 10)) -eq 0 ]; then echo "job-$i,sleep 1"; else echo "job-$i,sleep 0.05"; fi
    done
} > m.csv
"$b" run -q -j 8 --report history.json m.csv
n=4
for mode in count balanced; do
    for k in $(seq 1 $n); do
        extra=()
        [ "$mode" = balanced ] && extra=(--balance-from history.json)
        "$b" run -q -j 1 --shard "$k/$n" "${extra[@]}" --report "$mode-$k.json" m.csv
    done
done
python3 - "$n" <<'PY'
import json, sys
n = int(sys.argv[1])
for mode in ("count", "balanced"):
    times, slow = [], []
    for k in range(1, n + 1):
        r = json.load(open(f"{mode}-{k}.json"))
        times.append(r["duration_ms"] / 1000)
        slow.append(sum(1 for j in r["jobs"] if j["command"].endswith("sleep 1")))
    shown = ", ".join(f"{t:.2f}s ({s} slow of {c})" for t, s, c in zip(times, slow, [len(json.load(open(f'{mode}-{k}.json'))['jobs']) for k in range(1, n + 1)]))
    print(f"{mode:>9}: slowest shard {max(times):.2f}s; shards: {shown}")
PY
