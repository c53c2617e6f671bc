#!/usr/bin/env python3
"""Builds the input of the `batchrun merge` benchmark: a manifest of SHARDS x PER jobs (ids
chosen so every shard holds exactly PER of them, by the partition README documents) and one
synthetic JSON report per shard, shaped as `batchrun run --shard` writes it. Then time:

    scripts/merge-bench.py DIR [SHARDS [PER]]     # default 100 shards of 10,000 jobs
    cd DIR && /usr/bin/time -v batchrun merge --report merged.json shard-*.json
"""
import hashlib
import json
import os
import sys

out = sys.argv[1]
shards = int(sys.argv[2]) if len(sys.argv) > 2 else 100
per = int(sys.argv[3]) if len(sys.argv) > 3 else 10_000
os.makedirs(out, exist_ok=True)


def shard_of(key):
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % shards + 1


by = [[] for _ in range(shards + 1)]
order = []
i = 0
while len(order) < shards * per:
    jid = f"report-{i:07d}"
    s = shard_of(jid)
    if len(by[s]) < per:
        by[s].append(jid)
        order.append(jid)
    i += 1
manifest = "id,command\n" + "".join(f"{j},./report.sh {j}\n" for j in order)
data = manifest.encode()
with open(f"{out}/nightly.csv", "wb") as f:
    f.write(data)
sha = hashlib.sha256(data).hexdigest()
for s in range(1, shards + 1):
    jobs = []
    for n, jid in enumerate(by[s]):
        failed = n % 1000 == 7  # one failure in a thousand, with a stderr tail
        jobs.append({
            "id": jid, "status": "failed" if failed else "succeeded", "attempts": 1,
            "exit_code": 2 if failed else 0, "signal": None,
            "started_at": "2026-11-23T02:00:01Z", "duration_ms": 1234 + n % 100,
            "error": "exit status 2" if failed else None,
            "stderr_tail": "psql: connection refused\n" if failed else None,
            "leaked_processes": 0,
        })
    nfail = sum(j["status"] == "failed" for j in jobs)
    report = {
        "schema": 1, "batchrun_version": "0.1.0", "manifest": "nightly.csv",
        "manifest_sha256": sha, "shard": {"index": s, "count": shards},
        "started_at": "2026-11-23T02:00:00Z", "finished_at": "2026-11-23T02:04:12Z",
        "duration_ms": 252000, "workers": 8, "outcome": "failed" if nfail else "succeeded",
        "exit_code": 1 if nfail else 0,
        "counts": {"total": len(jobs), "succeeded": len(jobs) - nfail, "failed": nfail,
                   "timed_out": 0, "start_failed": 0, "skipped": 0, "cancelled": 0,
                   "not_started": 0, "resumed": 0},
        "jobs": jobs,
    }
    with open(f"{out}/shard-{s:05d}.json", "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
