#!/usr/bin/env bash
# batchrun's performance benchmark (issue 5). One command builds in release mode and measures,
# interleaved, batchrun against the floor (examples/floor.rs: std::process::Command and nothing
# else) and against every peer that is installed: xargs -P, GNU parallel, rust-parallel.
#
# Setup, once per machine (the script skips a missing peer with a note; it never installs):
#   apt-get update && apt-get install -y findutils parallel   # xargs, GNU parallel
#   cargo install rust-parallel                               # needs only crates.io
# hyperfine is not needed: examples/harness.rs interleaves the commands round by round (hyperfine
# runs all repetitions of one command before the next) and measures the runner process alone,
# excluding its children (see the harness's module doc).
#
# Usage:
#   scripts/bench.sh [--runs N] [--out FILE] [--update]
#       the full benchmark (about 25 minutes on 2 cores); the report goes to stdout and to
#       target/bench/report.md (or FILE); --update also replaces the results section of
#       BENCHMARKS.md.
#   scripts/bench.sh --only issue19 [--smoke] [--release]
#       only the block of issue 19 below (the 1M soak and the check of 1M rows of both
#       shapes): about 20 minutes in full mode on a quiet machine.
#   scripts/bench.sh --only w1 [--runs N]
#       only W1 (its three tables: 2 workers; the default output mode, --output none and
#       --report with --joblog; 8 workers): about 6 minutes with 10 runs.
#   scripts/bench.sh --smoke [--release]
#       every workload at tiny sizes, one run each, in well under a minute (CI). Exits non-zero
#       if any command failed; the figures are not checked against targets. Builds with the
#       dev profile, which CI's `cargo test` has already built, unless --release is given.
#
# Workloads (issue 5): W1 10,000 x /bin/true at 2 and 8 workers; W2 2,000 jobs through
# /bin/sh -c; W3 200 x sleep 0.05 at 8 workers; W4 peak RSS for 100,000 jobs; W5 runner CPU
# while 8 jobs sleep 3 s; W6 check / dry-run of a 100,000-row manifest with long chains and wide
# fans; W7 second SIGINT to exit with 8 running jobs, and a 200 ms timeout; plus the pool's
# throughput without child processes. Issue 10 added: W1 in the default output mode (and,
# since the release's seventh session, with --report and --joblog), W4 with
# --report and --joblog, and W8: check, --dry-run and a (deadline-stopped) run of 1,000,000
# rows, for peak RSS and time. Issue 19 added: Ctrl+C into a run of 1,000,000 items (signal to
# exit), --dry-run --resume with the joblog a stopped run leaves, and merge of 1,000,000 jobs in
# 100 reports (against jq -s); and (their own block, near the end) W9, a soak of
# 1,000,000 x /bin/true (`run --lines`, -j 2, --report and --joblog) with RSS and threads
# sampled every second and zombies counted, against xargs -P 2 -n 1 on the same items (about
# 7 + 9 minutes on a quiet 2-core machine, from W1's rates; 24 + over 30 minutes measured at
# load 10), and W10, check of 1,000,000 rows of both row shapes (about 1 minute). The full run
# takes about 50 minutes with them on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."

smoke=0
release=1
runs=""
out=""
update=0
only=""
while [ $# -gt 0 ]; do
    case "$1" in
        --smoke) smoke=1; release=0 ;;
        --release) release=1 ;;
        --runs) runs="$2"; shift ;;
        --out) out="$2"; shift ;;
        --update) update=1 ;;
        --only) only="$2"; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done

if [ "$smoke" = 1 ]; then
    R=${runs:-1}; WARM=0; SLOW=1
    N1=200; N2=50; N3=16; N4=2000; N6=2000; N8=20000; DL8=1s; SLEEP5=0.3; R4=1; R5=1; R7=1; R8=1
    POOL_JOBS=100000; POOL_REPEATS=1
    N9=2000; N10=20000; R10=1
else
    R=${runs:-10}; WARM=1; SLOW=3
    N1=10000; N2=2000; N3=200; N4=100000; N6=100000; N8=1000000; DL8=20s; SLEEP5=3; R4=3; R5=3; R7=10; R8=3
    POOL_JOBS=1000000; POOL_REPEATS=5
    N9=1000000; N10=1000000; R10=5
fi
IDEAL3=$(awk -v n="$N3" 'BEGIN { printf "%.4f", n / 8 * 0.05 }')

if [ "$release" = 1 ]; then
    echo "== building (release)" >&2
    cargo build --release --quiet --bin batchrun --example floor --example harness --example pool_throughput
    T=target/release
else
    echo "== building (dev profile: the figures mean nothing)" >&2
    cargo build --quiet --bin batchrun --example floor --example harness --example pool_throughput
    T=target/debug
fi
BR=$PWD/$T/batchrun
FLOOR=$PWD/$T/examples/floor
H=$PWD/$T/examples/harness
W=${BENCH_DIR:-$PWD/target/bench}
rm -rf "$W"
mkdir -p "$W"
out=${out:-$W/report.md}
RESULTS=$W/results.md
TARGETS=$W/targets.md
TSV=$W/raw.tsv
: >"$RESULTS"
: >"$TARGETS"
failed=0

# Peers: name, how to tell it is there.
have() { command -v "$1" >/dev/null 2>&1; }
HAVE_XARGS=0; have xargs && HAVE_XARGS=1
HAVE_PARALLEL=0; have parallel && parallel --version 2>/dev/null | grep -q 'GNU parallel' && HAVE_PARALLEL=1
HAVE_RP=0; have rust-parallel && HAVE_RP=1
notes=()
[ "$HAVE_XARGS" = 1 ] || notes+=("xargs not installed: skipped (apt-get install findutils)")
[ "$HAVE_PARALLEL" = 1 ] || notes+=("GNU parallel not installed: skipped (apt-get install parallel)")
[ "$HAVE_RP" = 1 ] || notes+=("rust-parallel not installed: skipped (cargo install rust-parallel)")
for n in "${notes[@]}"; do echo "bench.sh: note: $n" >&2; done

# The runs: harness time with common options, the rows going to $RESULTS.
measure() {
    if ! "$H" time --warmup "$WARM" --targets "$TARGETS" --tsv "$TSV" "$@" >>"$RESULTS"; then
        failed=1
        echo "bench.sh: a command failed in: $*" >&2
    fi
}
# Peer commands for a workload: peers J LINES PROGRAM... (xargs and friends append one
# argument per input line).
peers=()
add_peers() {
    local j=$1 lines=$2 slow=$3
    shift 3
    peers=()
    [ "$HAVE_XARGS" = 1 ] && peers+=(xargs "xargs -P$j -n1 -a $lines $*")
    [ "$HAVE_RP" = 1 ] && peers+=(rust-parallel "rust-parallel -j$j -i $lines $*")
    [ "$HAVE_PARALLEL" = 1 ] && peers+=("parallel:$slow" "parallel --will-cite -j$j -a $lines $*")
    return 0
}
run_opts="--no-progress --output none"
# 1234567 -> 1,234,567 (for every number on stdin)
group() { sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|[^0-9]\)/\1,\2\3/' -e 'ta'; }

# ---- issue 19: the 1M soak (W9) and check of 1M rows of both shapes (W10) ----------------
# Kept in this block so that other workloads merge around it. W9 is not driven by the
# harness (one long run each, sampled from outside): batchrun and xargs run once each, and
# a sampler reads /proc/PID/status (VmRSS, VmHWM, Threads) and counts the runner's zombie
# children every second; the peak is /usr/bin/time's %M when it is installed, else the last
# VmHWM sampled. The samples at 10 %, 50 % and 90 % of the run show whether RSS is flat.

# Samples runner PID every second into FILE until it exits: "secs rss_kib hwm_kib threads zombies".
issue19_sample() {
    local pid=$1 file=$2 t=0 rss hwm thr z
    : >"$file"
    while [ -r "/proc/$pid/status" ]; do
        rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
        hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
        thr=$(awk '/^Threads:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
        z=$(ps -o stat= --ppid "$pid" 2>/dev/null | grep -c '^Z' || true)
        [ -n "$rss" ] && echo "$t $rss $hwm $thr $z" >>"$file"
        sleep 1
        t=$((t + 1))
    done
}

# One soak run: issue19_soak_one NAME EXPECTED_EXIT COMMAND...; a row in $RESULTS and the
# samples in $W/w9-NAME.samples.
issue19_soak_one() {
    local name=$1 expect=$2 tfile=$W/w9-$1.time sfile=$W/w9-$1.samples
    shift 2
    local start end code=0 tpid pid=""
    start=$(date +%s.%N)
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f '%M' -o "$tfile" "$@" >/dev/null 2>"$W/w9-$name.err" &
        tpid=$!
        for _ in $(seq 100); do pid=$(pgrep -P "$tpid" | head -1 || true); [ -n "$pid" ] && break; sleep 0.05; done
    else
        "$@" >/dev/null 2>"$W/w9-$name.err" &
        tpid=$!
        pid=$tpid
    fi
    [ -n "$pid" ] && issue19_sample "$pid" "$sfile" &
    local spid=$!
    wait "$tpid" || code=$?
    end=$(date +%s.%N)
    wait "$spid" 2>/dev/null || true
    # Zombies left once the runner is gone: any zombie whose parent is this shell or init
    # and that the run left behind would show here.
    local zend
    zend=$(ps -eo stat=,ppid= | awk -v p=$$ '$1 ~ /^Z/ && ($2 == p || $2 == 1)' | wc -l)
    if [ "$code" != "$expect" ]; then
        failed=1
        echo "bench.sh: W9 $name exited $code (expected $expect)" >&2
    fi
    local peak
    peak=$([ -s "$tfile" ] && tail -1 "$tfile" || awk 'END { print $3 }' "$sfile")
    # RSS (MiB) and threads at 10 %, 50 % and 90 % of the samples; zombies seen at most.
    local at
    at=$(awk '{ r[NR] = $2; t[NR] = $4; if ($5 > z) z = $5 }
        END {
            if (NR == 0) { print "– | – | –"; exit }
            s = ""; th = ""
            split("0.1 0.5 0.9", q, " ")
            for (k = 1; k <= 3; k++) {
                i = int(NR * q[k]); if (i < 1) i = 1
                s = s (k > 1 ? " / " : "") sprintf("%.1f", r[i] / 1024)
                th = th (k > 1 ? " / " : "") t[i]
            }
            printf "%s | %s | %d", s, th, z
        }' "$sfile")
    printf '| W9 %s × /bin/true, 2 workers, soak | %s | 1 | %.3f s | %s | %s | %.1f MiB |\n' \
        "$(group <<<"$N9")" "$name" "$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')" "$at" "$zend" \
        "$(awk -v k="${peak:-0}" 'BEGIN { print k / 1024 }')" >>"$W9_RESULTS"
}

# W9: a full run of N9 x /bin/true with --report and --joblog, against xargs on the same items.
issue19_soak() {
    echo "== W9: soak, $N9 x /bin/true, --report and --joblog, against xargs" >&2
    "$H" manifest lines "$N9" "$W/w9.lines" x
    W9_RESULTS=$W/w9.md
    : >"$W9_RESULTS"
    rm -f "$W/w9.joblog"
    issue19_soak_one batchrun 0 "$BR" run -j2 --no-progress --output none --lines --command /bin/true \
        --report "$W/w9.json" --joblog "$W/w9.joblog" "$W/w9.lines"
    if [ "$HAVE_XARGS" = 1 ]; then
        issue19_soak_one xargs 0 xargs -P2 -n1 -a "$W/w9.lines" /bin/true
    fi
    local jobs
    jobs=$(grep -c . "$W/w9.joblog" 2>/dev/null || echo 0)
    # The joblog has a header line and one line per job.
    if [ "$jobs" != $((N9 + 1)) ]; then
        failed=1
        echo "bench.sh: W9 joblog has $jobs lines (expected $((N9 + 1)))" >&2
    fi
    {
        echo
        echo "W9 soak (one run each; RSS and threads sampled every second, at 10 % / 50 % / 90 % of the run; peak RSS from /usr/bin/time):"
        echo
        echo "| workload | runner | runs | wall | RSS at 10/50/90 % (MiB) | threads at 10/50/90 % | zombies seen (during) | zombies at the end | peak RSS |"
        echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
        cat "$W9_RESULTS"
    } >>"$EXTRA"
}

# W10: check of N10 rows of both row shapes: W8's (jobK,/bin/true,10s) and issue 19's
# (row-0000001,/bin/echo 1,30s). There is no peer: batchrun against the goal (1.0 s, 64 MiB).
issue19_check() {
    echo "== W10: check of $N10 rows, both row shapes" >&2
    "$H" manifest ids "$N10" "$W/w10-ids.csv" /bin/true
    awk -v n="$N10" 'BEGIN { print "id,command,timeout"; for (i = 1; i <= n; i++) printf "row-%07d,/bin/echo %d,30s\n", i, i }' >"$W/w10-rows.csv"
    measure --runs "$R10" --warmup 0 --sample-ms 5 --workload "W10 check of $N10 rows, both shapes" \
        --check 'rss:check jobK,/bin/true,10s<=64' --check 'wall:check jobK,/bin/true,10s<=1.0' \
        --check 'rss:check row-0000001,/bin/echo 1,30s<=64' --check 'wall:check row-0000001,/bin/echo 1,30s<=1.0' \
        "check jobK,/bin/true,10s" "$BR check $W/w10-ids.csv" \
        "check row-0000001,/bin/echo 1,30s" "$BR check $W/w10-rows.csv"
}
EXTRA=$W/extra.md
: >"$EXTRA"
# ---- end of issue 19's block ---------------------------------------------------------------

# W1 (also alone: --only w1).
w1() {
    echo "== W1: $N1 x /bin/true" >&2
    "$H" manifest direct "$N1" "$W/w1.csv" /bin/true
    "$H" manifest lines "$N1" "$W/w1.lines" x
    add_peers 2 "$W/w1.lines" "$SLOW" /bin/true
    measure --runs "$R" --workload "W1 $N1 × /bin/true, 2 workers" --baseline floor \
        --check 'ratio:batchrun<=1.10' --check 'faster:batchrun<xargs' \
        --check 'faster:batchrun<rust-parallel' --check 'faster:batchrun<parallel' \
        floor "$FLOOR $N1 2" \
        "floor + process_group(0)" "$FLOOR $N1 2 --pgroup" \
        "floor + forced fork" "$FLOOR $N1 2 --fork" \
        batchrun "$BR run -j2 $run_opts $W/w1.csv" \
        "batchrun --output group" "$BR run -j2 --no-progress $W/w1.csv" \
        "${peers[@]}"
    # What users run: the default output mode (group), with the progress bar off as in cron.
    # ... and with a JSON report and a joblog: jobs then start through the spawner processes.
    measure --runs "$R" --workload "W1 $N1 × /bin/true, 2 workers, default output" --baseline floor \
        --check 'ratio:batchrun (default output)<=1.10' --check 'ratio:batchrun --output none<=1.05' \
        --check 'ratio:batchrun --report --joblog<=1.10' \
        --check 'faster:batchrun (default output)<xargs' \
        floor "$FLOOR $N1 2" \
        "batchrun (default output)" "$BR run -j2 --no-progress $W/w1.csv" \
        "batchrun --output none" "$BR run -j2 $run_opts $W/w1.csv" \
        "batchrun --report --joblog" "$BR run -j2 --no-progress --report $W/w1r.json --joblog $W/w1j.log $W/w1.csv" \
        "${peers[@]:0:2}"
    add_peers 8 "$W/w1.lines" "$SLOW" /bin/true
    measure --runs "$R" --workload "W1 $N1 × /bin/true, 8 workers" --baseline floor \
        --check 'ratio:batchrun<=1.10' --check 'faster:batchrun<xargs' \
        --check 'faster:batchrun<rust-parallel' --check 'faster:batchrun<parallel' \
        floor "$FLOOR $N1 8" \
        batchrun "$BR run -j8 $run_opts $W/w1.csv" \
        "${peers[@]}"
}

# --only NAME runs one block alone; the workloads up to the pool's are not indented under it.
if [ -z "$only" ]; then

w1

echo "== W2: $N2 jobs through /bin/sh -c" >&2
"$H" manifest shell "$N2" "$W/w2.csv" true
"$H" manifest lines "$N2" "$W/w2.lines" x
"$H" manifest lines "$N2" "$W/w2.cmds" true
peers=()
[ "$HAVE_XARGS" = 1 ] && peers+=(xargs "xargs -P2 -n1 -a $W/w2.lines /bin/sh -c true")
[ "$HAVE_RP" = 1 ] && peers+=(rust-parallel "rust-parallel -j2 -s --shell-path /bin/sh -i $W/w2.cmds")
[ "$HAVE_PARALLEL" = 1 ] && peers+=("parallel:$SLOW" "env PARALLEL_SHELL=/bin/sh parallel --will-cite -j2 -a $W/w2.cmds")
measure --runs "$R" --workload "W2 $N2 × sh -c true, 2 workers" --baseline floor \
    --check 'faster:batchrun<xargs' \
    --check 'faster:batchrun<rust-parallel' --check 'faster:batchrun<parallel' \
    floor "$FLOOR $N2 2 -- /bin/sh -c true" \
    batchrun "$BR run -j2 $run_opts $W/w2.csv" \
    "${peers[@]}"

echo "== W3: $N3 x sleep 0.05, 8 workers" >&2
"$H" manifest direct "$N3" "$W/w3.csv" "sleep 0.05"
"$H" manifest lines "$N3" "$W/w3.lines" 0.05
add_peers 8 "$W/w3.lines" "$R" sleep
measure --runs "$R" --workload "W3 $N3 × sleep 0.05, 8 workers" --baseline floor --ideal "$IDEAL3" \
    --check 'ratio:batchrun<=1.01' \
    floor "$FLOOR $N3 8 -- sleep 0.05" \
    batchrun "$BR run -j8 $run_opts $W/w3.csv" \
    "${peers[@]}"

echo "== W4: peak RSS, $N4 jobs" >&2
"$H" manifest direct "$N4" "$W/w4.csv" /bin/true
"$H" manifest lines "$N4" "$W/w4.lines" x
peers=()
[ "$HAVE_XARGS" = 1 ] && peers+=(xargs:1 "xargs -P2 -n1 -a $W/w4.lines /bin/true")
[ "$HAVE_RP" = 1 ] && peers+=(rust-parallel:1 "rust-parallel -j2 -i $W/w4.lines /bin/true")
measure --runs "$R4" --warmup 0 --sample-ms 5 --workload "W4 $N4 × /bin/true, 2 workers (RSS)" \
    --check 'rss:batchrun<=20' \
    "/bin/true alone (one child)" "/bin/true" \
    batchrun "$BR run -j2 $run_opts $W/w4.csv" \
    "batchrun --report r.json" "$BR run -j2 $run_opts --report $W/w4.json $W/w4.csv" \
    "batchrun --report r.json --joblog j.csv" "$BR run -j2 $run_opts --report $W/w4r.json --joblog $W/w4.joblog $W/w4.csv" \
    "${peers[@]}"

echo "== W5: runner CPU while 8 jobs sleep $SLEEP5 s" >&2
"$H" manifest direct 8 "$W/w5.csv" "sleep $SLEEP5"
"$H" manifest lines 8 "$W/w5.lines" "$SLEEP5"
add_peers 8 "$W/w5.lines" "$R5" sleep
measure --runs "$R5" --warmup 0 --workload "W5 8 × sleep $SLEEP5, 8 workers (CPU)" \
    --check 'cpu:batchrun<=0.020' \
    floor "$FLOOR 8 8 -- sleep $SLEEP5" \
    batchrun "$BR run -j8 $run_opts $W/w5.csv" \
    "${peers[@]}"

echo "== W6: check and dry-run of a $N6-row manifest with dependencies" >&2
"$H" manifest deps "$N6" "$W/w6.csv"
measure --runs "$R" --workload "W6 $N6 rows, chain of $((N6 / 2)) + fans of 998" \
    --check 'wall:batchrun check<=0.5' --check 'wall:batchrun run --dry-run<=0.5' \
    "batchrun check" "$BR check $W/w6.csv" \
    "batchrun run --dry-run" "$BR run --dry-run $W/w6.csv" \
    "batchrun check, W4's $N4 rows without after" "$BR check $W/w4.csv"

echo "== W8: check, dry-run and a run of $N8 rows (id,command,timeout)" >&2
"$H" manifest ids "$N8" "$W/w8.csv" /bin/true
# The run stops at its deadline (exit 124) with most jobs not started: the report still lists
# every job, so its peak RSS is what a run of that many jobs holds.
measure --runs "$R8" --warmup 0 --sample-ms 5 --workload "W8 $N8 rows, id,command,timeout" \
    --check 'rss:batchrun check<=64' --check 'wall:batchrun check<=1.0' \
    --check 'rss:batchrun run --dry-run<=64' \
    "batchrun check" "$BR check $W/w8.csv" \
    "batchrun run --dry-run" "$BR run --dry-run $W/w8.csv"
rm -f "$W/w8.joblog"
measure --runs 1 --warmup 0 --sample-ms 5 --expect 124 --workload "W8 $N8 rows, run with --report and --joblog, stopped by --deadline $DL8" \
    --check 'rss:batchrun run<=100' \
    "batchrun run" "$BR run -j2 $run_opts --deadline $DL8 --report $W/w8.json --joblog $W/w8.joblog $W/w8.csv"

echo "== W7: second SIGINT, and a 200 ms timeout" >&2
"$H" sigint --runs "$R7" --targets "$TARGETS" "$BR" >>"$RESULTS" || failed=1
"$H" timeout --runs "$R7" --targets "$TARGETS" "$BR" >>"$RESULTS" || failed=1

echo "== pool throughput: $POOL_JOBS no-op jobs on 2 threads" >&2
if pool=$("$T/examples/pool_throughput" "$POOL_JOBS" 2 "$POOL_REPEATS"); then
    echo "$pool" >&2
    rate=$(sed -n 's/.*median \([0-9]*\) jobs\/s.*/\1/p' <<<"$pool")
    range=$(sed -n 's/.*best \([0-9]*\), worst \([0-9]*\).*/\2 \1/p' <<<"$pool")
    range=$(sed 's/ /–/' <<<"$range" | group)
    printf '| pool %s no-op jobs, 2 threads (jobs/s) | WorkerPool::run_each | %s | %s/s | %s/s | – | – | – |\n' \
        "$(group <<<"$POOL_JOBS")" "$POOL_REPEATS" "$(group <<<"$rate")" "$range" >>"$RESULTS"
    if [ "${rate:-0}" -ge 1000000 ]; then ok=met; else ok='**not met**'; fi
    printf '| pool | ≥ 1,000,000 jobs/s | %s/s | %s |\n' "$(group <<<"$rate")" "$ok" >>"$TARGETS"
else
    failed=1
fi

# ---- issue 19, after the run: stop, resume and merge of a million jobs (helper tail19) ----
# Ctrl+C into a plain-list run of /bin/true with --joblog and --report (signal → exit, by
# scripts/stop-bench.py); --dry-run --resume with the joblog a stopped run leaves (most of its
# lines not_started); merge of the reports of S19 shards of P19 jobs (scripts/merge-bench.py,
# one failure in a thousand: merge exits 1) against jq -s concatenating the same reports.
if [ "$smoke" = 1 ]; then
    N19=5000; L19=200; S19=4; P19=250; R19=1; DL19=1s
else
    N19=1000000; L19=20000; S19=100; P19=10000; R19=5; DL19=4s
fi
echo "== issue 19: stop, --dry-run --resume and merge of $N19 jobs" >&2
seq 1 "$N19" >"$W/i19.lines"
python3 scripts/stop-bench.py --runs "$R19" --lines "$L19" --targets "$TARGETS" --goal 1.0 \
    --workload "Ctrl+C into $(group <<<"$N19") items with --joblog --report: signal → exit" \
    "$W/i19.lines" "batchrun=$BR" >>"$RESULTS" || failed=1
# The joblog a stopped run leaves: the deadline stops it (exit 124; a tiny list may finish).
rm -f "$W/i19.joblog"
code=0
"$BR" run --no-progress --output none --deadline "$DL19" --lines --command /bin/true \
    --joblog "$W/i19.joblog" "$W/i19.lines" 2>/dev/null || code=$?
if [ "$code" != 0 ] && [ "$code" != 124 ]; then
    echo "bench.sh: the run that makes the issue-19 joblog exited $code" >&2
    failed=1
fi
peers=()
if [ "$HAVE_PARALLEL" = 1 ]; then
    # GNU parallel's joblog of the same jobs (it logs only jobs that ran: the successes).
    awk -F, 'NR > 1 && $2 == "succeeded" { printf "%s\t:\t0\t0.001\t0\t0\t0\t0\t/bin/true %s\n", $1, $1 }
        BEGIN { print "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand" }' \
        "$W/i19.joblog" >"$W/i19.parallel-joblog"
    peers+=("parallel --dry-run --resume:1" "parallel --will-cite --dry-run --resume --joblog $W/i19.parallel-joblog -a $W/i19.lines /bin/true")
fi
measure --runs "$R19" --warmup 0 --sample-ms 5 \
    --workload "--dry-run --resume, $(group <<<"$N19") items, a $(wc -l <"$W/i19.joblog" | group)-line joblog" \
    --check 'wall:batchrun --dry-run --resume<=2.0' --check 'rss:batchrun --dry-run --resume<=64' \
    "batchrun --dry-run --resume" "$BR run --dry-run --resume --joblog $W/i19.joblog --lines --command /bin/true $W/i19.lines" \
    "${peers[@]}"
python3 scripts/merge-bench.py "$W/m19" "$S19" "$P19"
measure --runs "$R19" --warmup 0 --sample-ms 5 --expect 1 \
    --workload "merge of $(group <<<"$((S19 * P19))") jobs in $S19 reports, with the manifest" \
    --check 'wall:batchrun merge<=2.0' --check 'rss:batchrun merge<=100' \
    "batchrun merge" "$BR merge --manifest $W/m19/nightly.csv --report $W/m19.json $W/m19"
if have jq; then
    measure --runs 1 --warmup 0 --sample-ms 5 \
        --workload "merge of $(group <<<"$((S19 * P19))") jobs in $S19 reports, with the manifest" \
        "jq -s (jobs concatenated, nothing checked)" "jq -s '{jobs: [.[].jobs[]]}' $W/m19/shard-*.json"
else
    echo "bench.sh: note: jq not installed: merge's alternative skipped (apt-get install jq)" >&2
fi
# ---- end of issue 19 (tail19) ----
fi # [ -z "$only" ]

case "$only" in
    "") issue19_check; issue19_soak ;;
    issue19) issue19_check; issue19_soak ;;
    w1) w1 ;;
    *) echo "bench.sh: unknown --only $only (known: issue19, w1)" >&2; exit 2 ;;
esac

# The report.
ver() { "$@" 2>/dev/null | head -1 || true; }
{
    echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC'). Machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), Linux $(uname -r), load average at the end $(cut -d' ' -f1-3 /proc/loadavg)."
    echo "Mode: $([ "$smoke" = 1 ] && echo 'smoke (tiny sizes, one run: the figures mean nothing)' || echo "full, $R interleaved runs per command unless the runs column says otherwise (GNU parallel: $SLOW in W1 and W2)"), $([ "$release" = 1 ] && echo release || echo dev) build."
    echo
    echo "Versions: $("$BR" --version), $(rustc --version | cut -d' ' -f1-2), $([ "$HAVE_XARGS" = 1 ] && ver xargs --version || echo 'xargs: absent'), $([ "$HAVE_PARALLEL" = 1 ] && ver parallel --version || echo 'GNU parallel: absent'), $([ "$HAVE_RP" = 1 ] && ver rust-parallel --version || echo 'rust-parallel: absent')."
    for n in "${notes[@]}"; do echo; echo "Note: $n."; done
    echo
    echo "| workload | runner | runs | median | min–max | vs floor | runner CPU | peak RSS |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|"
    cat "$RESULTS"
    echo
    echo "| workload | target | measured (median) | |"
    echo "|---|---|---|---|"
    cat "$TARGETS"
    cat "$EXTRA"
} >"$out"
cat "$out"

if [ "$update" = 1 ]; then
    awk -v f="$out" '
        /<!-- results:start -->/ { print; while ((getline l < f) > 0) print l; skip = 1; next }
        /<!-- results:end -->/ { skip = 0 }
        !skip' BENCHMARKS.md >"$W/BENCHMARKS.md" && mv "$W/BENCHMARKS.md" BENCHMARKS.md
    echo "bench.sh: BENCHMARKS.md updated" >&2
fi
if [ "$failed" != 0 ]; then
    echo "bench.sh: some commands failed (see above)" >&2
    exit 1
fi
