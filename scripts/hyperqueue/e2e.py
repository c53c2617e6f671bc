"""Runs a manifest as a HyperQueue task array of `batchrun run --shard auto`, then the merge.

HyperQueue's Python package starts a server and a worker inside this process (LocalCluster);
it has no `hq` command. Task i of a job has HQ_TASK_ID=i, as in `hq submit --array 0-(N-1)`,
so the N shard tasks are the array; the merge is one more task that depends on all of them.
Every shard task exits 0 (its report, or its joblog when it died, carries the result; its exit
code goes to shard-K.code), so the merge task, which HyperQueue runs only after its
dependencies succeeded, always runs; it writes its exit code to merge.code.

    python3 e2e.py WORKDIR SHARDS BATCHRUN     (the manifest is WORKDIR/m.csv)
"""

import sys
from pathlib import Path

from hyperqueue import Job, LocalCluster
from hyperqueue.cluster import WorkerConfig

SHARD = (
    'k=$((HQ_TASK_ID + 1)); '
    '"$BATCHRUN" run --shard auto -j 2 --joblog "shard-$k.joblog" --report "shard-$k.json" m.csv '
    '> "shard-$k.out" 2>&1; echo $? > "shard-$k.code"'
)
MERGE = (
    'joblogs=""; for f in shard-*.joblog; do joblogs="$joblogs --joblog $f"; done; '
    '"$BATCHRUN" merge --report merged.json $joblogs shard-*.json > merge.out 2>&1; '
    'echo $? > merge.code'
)


def main() -> int:
    work, shards, batchrun = Path(sys.argv[1]).resolve(), int(sys.argv[2]), sys.argv[3]
    env = {"BATCHRUN": batchrun, "BATCHRUN_SHARD_COUNT": str(shards)}
    with LocalCluster(server_dir=str(work / "hq-server")) as cluster:
        cluster.start_worker(WorkerConfig(cores=2))
        client = cluster.client()
        job = Job(default_workdir=work, default_env=env, max_fails=None)
        array = [
            job.program(["sh", "-c", SHARD], stdout=None, stderr=None, name=f"shard-{i + 1}")
            for i in range(shards)
        ]
        job.program(["sh", "-c", MERGE], deps=array, stdout=None, stderr=None, name="merge")
        submitted = client.submit(job)
        ok = client.wait_for_jobs([submitted], raise_on_error=False)
        if not ok:
            for task_id, ctx in client.get_failed_tasks(submitted).items():
                print(f"hq-e2e: task {task_id} failed: {ctx.error}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
