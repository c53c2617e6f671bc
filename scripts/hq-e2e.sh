#!/usr/bin/env bash
# End-to-end test of `batchrun run --shard auto` and `batchrun merge` on a real HyperQueue:
# installs HyperQueue's Python package (PyPI `hyperqueue`, which starts a server and a worker
# inside the Python process: LocalCluster; it has no `hq` command) into a virtual environment,
# and runs scripts/hyperqueue/e2e.py: a task array of N shards (HQ_TASK_ID 0..N-1, with
# BATCHRUN_SHARD_COUNT), then a merge task depending on all of them. Three runs of one manifest
# (independent jobs and `after` chains): every job succeeds (merge exits 0); one job fails
# (merge exits 1); a job kills its shard's batchrun with SIGKILL, so that shard leaves only its
# joblog (merge --joblog recovers what it finished, exits 1 and says so). Checks that no job
# ran twice, every job ran in the first two runs, chains stayed in one shard, every result in
# the killed shard's joblog is in the merged report, and the merge's exit code.
#
#   scripts/hq-e2e.sh          (needs python3 with venv, and PyPI reachable the first time)
#
# Stops only what it started: the Python driver (by its pid), whose LocalCluster stops the
# server and worker it started when it ends.
set -euo pipefail
start=$(date +%s.%N)
cd "$(dirname "$0")/.."
root=$(pwd)

say() { echo "hq-e2e: $*" >&2; }
die() {
    say "FAILED: $*"
    exit 1
}
elapsed() { echo "$(date +%s.%N) $start" | awk '{printf "%.1f", $1 - $2}'; }

# --- HyperQueue (a virtual environment kept under target/, reused) -------------------------
venv="$root/target/hq-venv"
if ! "$venv/bin/python" -c 'import hyperqueue' 2>/dev/null; then
    say "installing hyperqueue 0.27.0 into $venv"
    python3 -m venv "$venv" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
    "$venv/bin/pip" install -q "hyperqueue==0.27.0" ||
        die "pip install hyperqueue failed: the Python registry is needed the first time"
fi

if [ ! -x target/debug/batchrun ]; then
    say "building batchrun"
    cargo build --locked -q
fi
batchrun="$root/target/debug/batchrun"

state=$(mktemp -d /tmp/batchrun-hq-e2e.XXXXXX)
driver=""
cleanup() {
    local code=$?
    set +e
    if [ -n "$driver" ] && kill -0 "$driver" 2>/dev/null; then
        kill -TERM "$driver"
        wait "$driver" 2>/dev/null
    fi
    if [ "$code" -eq 0 ]; then rm -rf "$state"; else say "state kept in $state"; fi
    exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

shards=4
# 24 independent jobs and 4 chains of 3 (`after`); each job appends its id and shard to
# ran.txt. $1 = the id of a job that fails, $2 = the id of a job that kills its batchrun (the
# end of a chain, so the chain's first jobs are in the joblog when it does).
manifest() {
    local fail=$1 boom=$2 id after
    cmd() {
        local c="echo \$BATCHRUN_JOB_ID \$BATCHRUN_SHARD >> ran.txt"
        [ "$1" = "$fail" ] && c="$c; exit 3"
        [ "$1" = "$boom" ] && c="$c; kill -KILL \$PPID"
        echo "\"sh -c '$c'\""
    }
    echo "id,command,after"
    for i in $(seq 1 24); do
        echo "job-$i,$(cmd "job-$i"),"
    done
    for c in 1 2 3 4; do
        after=""
        for x in a b c; do
            echo "chain-$c-$x,$(cmd "chain-$c-$x"),$after"
            after="chain-$c-$x"
        done
    done
}

# run NAME FAIL BOOM EXPECTED_MERGE_CODE
run() {
    local name=$1 fail=$2 boom=$3 want=$4 work="$state/$1"
    mkdir -p "$work"
    manifest "$fail" "$boom" > "$work/m.csv"
    "$venv/bin/python" scripts/hyperqueue/e2e.py "$work" "$shards" "$batchrun" \
        > "$work/driver.out" 2>&1 &
    driver=$!
    wait "$driver" || die "$name: the HyperQueue driver failed: $(tail -5 "$work/driver.out")"
    driver=""
    local got
    got=$(cat "$work/merge.code" 2>/dev/null) || die "$name: the merge task did not run"
    [ "$got" = "$want" ] || die "$name: merge exited $got, expected $want: $(cat "$work/merge.out")"
    python3 - "$work" "$shards" "$boom" <<'PY' || die "$name: checks failed"
import collections, json, sys
work, n, boom = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rep = json.load(open(f"{work}/merged.json"))
ran = collections.Counter()
shard_of = {}
for line in open(f"{work}/ran.txt"):
    job, shard = line.split()
    ran[job] += 1
    shard_of[job] = shard
twice = [j for j, c in ran.items() if c > 1]
assert not twice, f"ran twice: {twice}"
jobs = {j["id"]: j for j in rep["jobs"]}
assert len(jobs) == 36, len(jobs)
assert rep["merged"]["shards"] == n, rep["merged"]
for c in range(1, 5):  # a chain runs in one shard
    assert len({shard_of.get(f"chain-{c}-{x}") for x in "abc"} - {None}) <= 1, c
for j in jobs.values():  # every result in the report is of a job that ran (or never started)
    if j["status"] in ("succeeded", "failed"):
        assert ran[j["id"]] == 1, j
if boom == "-":
    assert sorted(ran) == sorted(jobs), set(jobs) ^ set(ran)
    assert rep["merged"]["recovered_from_joblogs"] == [], rep["merged"]
else:
    # The killed shard's finished jobs come from its joblog; none of them is lost.
    assert len(rep["merged"]["recovered_from_joblogs"]) == 1, rep["merged"]
    assert jobs[boom]["status"] == "not_started", jobs[boom]
    chain = boom.rsplit("-", 1)[0]
    for x in "ab":
        assert jobs[f"{chain}-{x}"]["status"] == "succeeded", jobs[f"{chain}-{x}"]
    # Every result that reached the killed shard's joblog is in the merge (a job that was
    # still running when batchrun was killed has none: it stays not_started).
    k = rep["merged"]["recovered_from_joblogs"][0]
    logged = {}
    for line in list(open(f"{work}/shard-{k}.joblog"))[1:]:
        f = line.strip().split(",")
        logged[f[0]] = f[1]
    assert logged, "the killed shard's joblog is empty"
    lost = {j: s for j, s in logged.items() if jobs[j]["status"] != s}
    assert not lost, f"joblog results lost in the merge: {lost}"
print(f"hq-e2e: {rep['counts']}", file=sys.stderr)
PY
    say "$name: merge exited $got as expected ($(elapsed)s)"
}

run all-succeed - - 0
run one-fails job-7 - 1
run shard-killed - chain-2-c 1
grep -q "recovered from its joblog" "$state/shard-killed/merge.out" ||
    die "shard-killed: merge did not say which shard it recovered"
say "passed in $(elapsed)s"
