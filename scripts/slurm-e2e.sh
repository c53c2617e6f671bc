#!/usr/bin/env bash
# End-to-end test of `batchrun run --shard auto` and `batchrun merge` on a real Slurm cluster:
# installs Slurm and munge from the distribution's packages (if missing), starts a single-node
# cluster on this machine (no systemd needed; all state in a temporary directory), submits the
# manifest as a 4-task job array with scripts/slurm/submit.sh, and checks that every job ran
# exactly once, `after` chains stayed in one task, and the merged report and exit code are
# right: a run where every job succeeds (merge exits 0) and one where a job fails (merge exits
# 1). Stops the daemons it started, by the pids in their pid files, whatever happens.
#
#   sudo scripts/slurm-e2e.sh        (root: it installs packages and runs the daemons)
#
# Needs a Debian-like system. Safe to run again: it reuses installed packages, never edits
# /etc/slurm, and uses its own munge socket and key, ports and state directories.
set -euo pipefail
start=$(date +%s.%N)
cd "$(dirname "$0")/.."
root=$(pwd)

say() { echo "slurm-e2e: $*" >&2; }
die() {
    say "FAILED: $*"
    exit 1
}
elapsed() { echo "$(date +%s.%N) $start" | awk '{printf "%.1f", $1 - $2}'; }

[ "$(id -u)" -eq 0 ] || die "must run as root (it installs packages and starts daemons)"

# --- packages ---------------------------------------------------------------------------
packages=(slurmctld slurmd slurm-client munge)
command -v python3 >/dev/null || packages+=(python3) # the checks below
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    apt-get update -q || die "apt-get update failed: the Debian registry is needed to install ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" ||
        die "apt-get install ${missing[*]} failed"
fi

if [ ! -x target/debug/batchrun ]; then
    say "building batchrun"
    cargo build --locked -q
fi
export BATCHRUN="$root/target/debug/batchrun"

# --- state ------------------------------------------------------------------------------
state=$(mktemp -d /tmp/batchrun-slurm-e2e.XXXXXX)
chmod 755 "$state" # munged (user munge) must reach its directory inside
mkdir -p "$state"/{munge,ctld,spool,work}
chown munge:munge "$state/munge"
chmod 755 "$state/munge" # the socket must be reachable by all
pidfiles=("$state/slurmd.pid" "$state/slurmctld.pid" "$state/munge/munged.pid")

stop_daemons() {
    local code=$?
    set +e
    if [ -s "$state/slurmctld.pid" ]; then
        scancel --user=root >/dev/null 2>&1
    fi
    local pids=() f pid
    for f in "${pidfiles[@]}"; do
        [ -s "$f" ] || continue
        pid=$(cat "$f")
        # Only a live process that is still the daemon the pid file names.
        case $(cat "/proc/$pid/comm" 2>/dev/null) in
            slurmd | slurmctld | munged) pids+=("$pid") ;;
        esac
    done
    [ ${#pids[@]} -gt 0 ] && kill -TERM "${pids[@]}"
    for pid in "${pids[@]}"; do
        for _ in $(seq 100); do
            [ -e "/proc/$pid" ] || break
            sleep 0.1
        done
        if [ -e "/proc/$pid" ]; then
            say "pid $pid did not stop within 10s of SIGTERM; SIGKILL"
            kill -KILL "$pid"
        fi
    done
    if [ "$code" -ne 0 ]; then
        for log in "$state"/*.log; do
            [ -e "$log" ] && { say "--- $log (last lines)"; tail -n 15 "$log" >&2; }
        done
        say "state kept in $state"
    else
        rm -rf "$state"
    fi
    say "daemons stopped; total time $(elapsed)s"
    exit "$code"
}
trap stop_daemons EXIT
trap "exit 143" TERM INT HUP # so timeout(1) and Ctrl+C still stop the daemons

# --- munge: own key and socket ----------------------------------------------------------
runuser -u munge -- mungekey --create --keyfile="$state/munge/munge.key"
socket="$state/munge/munge.socket"
runuser -u munge -- /usr/sbin/munged --socket="$socket" --key-file="$state/munge/munge.key" \
    --pid-file="$state/munge/munged.pid" --log-file="$state/munge/munged.log" \
    --seed-file="$state/munge/munged.seed"
munge -S "$socket" -n | unmunge -S "$socket" >/dev/null || die "munge does not work"

# --- slurm: single node, own ports ------------------------------------------------------
port=$((20000 + RANDOM % 20000))
export SLURM_CONF="$state/slurm.conf"
mem=$(awk '/MemTotal/ {print int($2 / 1024 / 2)}' /proc/meminfo)
cat >"$SLURM_CONF" <<EOF
ClusterName=batchrun-e2e
SlurmctldHost=localhost
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$state/jobcomp.txt
MpiDefault=none
ReturnToService=2
SlurmdParameters=config_overrides
SchedulerParameters=sched_min_interval=0
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/spool
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/slurmctld.log
SlurmdLogFile=$state/slurmd.log
NodeName=localhost NodeAddr=127.0.0.1 CPUs=4 RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
/usr/sbin/slurmctld -c -f "$SLURM_CONF"
/usr/sbin/slurmd -N localhost -f "$SLURM_CONF"
for i in $(seq 150); do
    node=$(sinfo -h -n localhost -o %T 2>/dev/null || true)
    case $node in
        idle) break ;;
        down* | drain*) scontrol update NodeName=localhost State=RESUME || true ;;
    esac
    [ "$i" -lt 150 ] || die "the node did not become idle (state: '${node:-none}')"
    sleep 0.2
done
say "cluster up after $(elapsed)s"

# --- the manifest -----------------------------------------------------------------------
# 12 independent jobs and 3 chains of 3; every job appends "ID SHARD TASK" to ran.txt.
# $1: the id of a job that fails (its dependents are then skipped), or "".
write_manifest() {
    local fail=$1 cmd id
    cmd='echo $BATCHRUN_JOB_ID $BATCHRUN_SHARD $SLURM_ARRAY_TASK_ID >> ran.txt'
    {
        echo "id,command,shell,after"
        for i in $(seq 12); do
            id="solo-$i"
            if [ "$id" = "$fail" ]; then
                echo "$id,\"$cmd; echo $id breaks >&2; exit 3\",true,"
            else
                echo "$id,\"$cmd\",true,"
            fi
        done
        for c in a b c; do
            for k in 1 2 3; do
                id="chain-$c$k"
                local after=""
                [ "$k" -gt 1 ] && after="chain-$c$((k - 1))"
                if [ "$id" = "$fail" ]; then
                    echo "$id,\"$cmd; exit 3\",true,$after"
                else
                    echo "$id,\"$cmd\",true,$after"
                fi
            done
        done
    } >"$2/jobs.csv"
}

# Waits (bounded) until Slurm no longer lists job $1.
wait_gone() {
    for _ in $(seq 600); do
        [ -z "$(squeue -h -j "$1" 2>/dev/null)" ] && return 0
        sleep 0.2
    done
    squeue >&2 || true
    die "job $1 still queued or running after 120s"
}

# The exit code of job $1 from the job completion log (JobState, ExitCode=code:signal).
exit_code_of() {
    awk -v id="JobId=$1" '$1 == id {for (i = 1; i <= NF; i++) if ($i ~ /^ExitCode=/) {split(substr($i, 10), a, ":"); print a[1]}}' \
        "$state/jobcomp.txt" | tail -n 1
}

# One submission: $1 name, $2 failing job id or "", $3 expected merged exit code,
# $4 expected "succeeded failed skipped" counts.
scenario() {
    local name=$1 fail=$2 want_code=$3 want_counts=$4 dir="$state/work/$1"
    mkdir -p "$dir"
    write_manifest "$fail" "$dir"
    local ids array merge t0
    t0=$(date +%s.%N)
    ids=$(cd "$dir" && "$root/scripts/slurm/submit.sh" 4 jobs.csv)
    read -r array merge <<<"$ids"
    wait_gone "$merge"
    wait_gone "$array"
    say "$name: array $array and merge $merge done in $(echo "$(date +%s.%N) $t0" | awk '{printf "%.1f", $1 - $2}')s"
    local rep="$dir/reports/$array/merged.json"
    [ -s "$rep" ] || { cat "$dir"/slurm-*.out >&2 || true; die "$name: no merged report"; }

    # Every job that was not skipped ran exactly once, and each chain in a single task.
    python3 - "$dir" "$rep" "$fail" "$want_code" "$want_counts" "$array" <<'PY' || die "$name: checks failed"
import glob, json, sys
from collections import Counter
d, rep, fail, want_code, want_counts, array = sys.argv[1:]
lines = [l.split() for l in open(f"{d}/ran.txt")]
runs = Counter(l[0] for l in lines)
ids = [f"solo-{i}" for i in range(1, 13)] + [f"chain-{c}{k}" for c in "abc" for k in (1, 2, 3)]
skipped = set()
if fail.startswith("chain-"):
    c, k = fail[6], int(fail[7])
    skipped = {f"chain-{c}{j}" for j in range(k + 1, 4)}
for i in ids:
    want = 0 if i in skipped else 1
    assert runs[i] == want, f"{i} ran {runs[i]} times, expected {want}"
assert set(runs) <= set(ids), f"unknown ids ran: {set(runs) - set(ids)}"
where = {l[0]: (l[1], l[2]) for l in lines}
for sh, task in where.values():
    k, n = sh.split("/")
    assert n == "4" and k == task, f"shard {sh} ran in array task {task}"
for c in "abc":
    tasks = {where[f"chain-{c}{k}"] for k in (1, 2, 3) if f"chain-{c}{k}" in where}
    assert len(tasks) == 1, f"chain {c} ran in tasks {tasks}"
shards = sorted(glob.glob(f"{d}/reports/{array}/shard-*.json"))
assert len(shards) == 4, shards
for s in shards:
    r = json.load(open(s))
    assert r["shard"]["count"] == 4, s
m = json.load(open(rep))
assert "shard" not in m
assert m["exit_code"] == int(want_code), m["exit_code"]
assert [j["id"] for j in m["jobs"]] == ids, "merged jobs not in manifest order"
got = " ".join(str(m["counts"][k]) for k in ("succeeded", "failed", "skipped"))
assert got == want_counts, f"counts {got}, expected {want_counts}"
assert m["counts"]["total"] == len(ids)
PY
    local code
    code=$(exit_code_of "$merge")
    [ "$code" = "$want_code" ] || die "$name: the merge job exited ${code:-?}, expected $want_code"
    say "$name: ok (merge exit code $code)"
}

scenario all-succeed "" 0 "21 0 0"
scenario one-fails "chain-b2" 1 "19 1 1"
say "PASSED in $(elapsed)s"
