#!/usr/bin/env python3
"""The stop row of `scripts/bench.sh` (issue 19): Ctrl+C into a big plain-list run of
`/bin/true` with `--joblog` and `--report`, timed from the signal to batchrun's exit.

    scripts/stop-bench.py [--runs N] [--lines N] [--targets FILE] [--goal SECS] ITEMS NAME=BATCHRUN...

Each run starts `BATCHRUN run --lines --command /bin/true --joblog J --report R ITEMS`, waits
until the joblog holds about --lines lines (by its size: jobs have run for a while, whatever
the machine's load), sends SIGINT once, and waits for the exit through a pidfd. Measured: the
wall time from the signal to the exit, batchrun's CPU time over the same span (its
`/proc/PID/stat` just before the signal, `wait4`'s rusage after, both with the jobs it
reaped: 10 ms ticks), and its peak
RSS. The runners are interleaved round by round. Prints one Markdown row per runner (the
columns of examples/harness.rs) and, with --targets, appends a target row for the first.
Every run must exit 130 with a complete report and joblog, or the script exits 1.
"""
import argparse
import os
import re
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ap = argparse.ArgumentParser()
ap.add_argument("--runs", type=int, default=5)
ap.add_argument("--lines", type=int, default=20000)
ap.add_argument("--targets")
ap.add_argument("--goal", type=float, default=1.0)
ap.add_argument("--workload", default="")
ap.add_argument("items")
ap.add_argument("runners", nargs="+")
a = ap.parse_args()
runners = [r.split("=", 1) for r in a.runners]
total = sum(1 for _ in open(a.items, "rb"))
workload = a.workload or f"Ctrl+C into {total:,} items with --joblog --report: signal → exit"
TICK = os.sysconf("SC_CLK_TCK")


def cpu_of(pid):
    """User + system seconds of a live process and of the children it waited for (as
    `wait4`'s rusage counts them)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / TICK


def one(binary):
    with tempfile.TemporaryDirectory() as d:
        joblog, report = f"{d}/j.csv", f"{d}/r.json"
        p = subprocess.Popen(
            [binary, "run", "--no-progress", "--lines", "--command", "/bin/true",
             "--joblog", joblog, "--report", report, a.items],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        pidfd = os.pidfd_open(p.pid)
        want = a.lines * 60  # a joblog line of this list is about 60 bytes
        while True:
            if select.select([pidfd], [], [], 0.01)[0]:
                sys.exit(f"stop-bench: {binary} ended before the signal")
            try:
                if os.path.getsize(joblog) >= want:
                    break
            except FileNotFoundError:
                pass
        cpu0 = cpu_of(p.pid)
        t0 = time.monotonic()
        os.kill(p.pid, signal.SIGINT)
        select.select([pidfd], [], [])
        wall = time.monotonic() - t0
        os.close(pidfd)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        cpu = ru.ru_utime + ru.ru_stime - cpu0
        # Only the report's head (its counts come before the jobs): this process must stay
        # small, as the next batchrun it starts reports its memory before exec too.
        with open(report, "rb") as f:
            head = f.read(4096).decode(errors="replace")
        m = re.search(r'"total": (\d+)', head)
        reported = int(m.group(1)) if m else None
        with open(joblog, "rb") as f:
            lines = sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 20), b"")) - 1
        ok = p.returncode == 130 and reported == total and lines == total
        if not ok:
            print(f"stop-bench: {binary}: exit {p.returncode}, report total {reported}, "
                  f"joblog {lines} lines (expected 130, {total}, {total})", file=sys.stderr)
        return ok, wall, cpu, ru.ru_maxrss


def dur(s):
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.3f} s"


samples = {name: [] for name, _ in runners}
failed = False
for r in range(a.runs):
    order = runners if r % 2 == 0 else runners[::-1]
    for name, binary in order:
        ok, wall, cpu, rss = one(binary)
        failed |= not ok
        samples[name].append((wall, cpu, rss))
        print(f"stop-bench: {name} run {r + 1}: {dur(wall)} (CPU {dur(cpu)}), peak RSS "
              f"{rss / 1024:.1f} MiB, load {os.getloadavg()[0]:.1f}", file=sys.stderr)
for name, _ in runners:
    s = samples[name]
    walls = sorted(x[0] for x in s)
    print(f"| {workload} | {name} | {len(s)} | {dur(statistics.median(walls))} | "
          f"{dur(walls[0])}–{dur(walls[-1])} | – | {dur(statistics.median(x[1] for x in s))} "
          f"(signal → exit) | {max(x[2] for x in s) / 1024:.1f} MiB |")
if a.targets:
    name = runners[0][0]
    med = statistics.median(x[0] for x in samples[name])
    with open(a.targets, "a") as f:
        f.write(f"| stop | {name}: signal → exit ≤ {a.goal:g} s | {dur(med)} | "
                f"{'met' if med <= a.goal else '**not met**'} |\n")
sys.exit(1 if failed else 0)
