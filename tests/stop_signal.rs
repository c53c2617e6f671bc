//! A job that dies of the signal that stopped the run is `cancelled`, not `failed` (issue 20,
//! problem 3): a cluster engine stopping a task (`scancel`) sends SIGTERM to every process of
//! it at once, so the job may die of it just before or just after batchrun receives its own.
//! Jobs run in their own process groups, so the test signals the job's pid and batchrun's, one
//! right after the other, in both orders.

use crate::util::*;

/// A job that writes its pid to `w.pid` (atomically), then sleeps; its second attempt succeeds.
const MANIFEST: &str = "id,command,retries\n\
    w,\"sh -c 'if [ $BATCHRUN_ATTEMPT = 2 ]; then exit 0; fi; echo $$ > w.tmp; mv w.tmp w.pid; exec sleep 60'\",2\n";

/// The job's pid once it is `sleep` alone: `w.pid` appears while `mv`, the job's child that
/// made it, may still be alive in the job's process group (a stop would then find it left
/// over and say so), and once the shell has execed `sleep` it has reaped `mv`.
fn job_sleeping(t: &TestEnv) -> u32 {
    t.wait_for_file("w.pid");
    let pid: u32 = t.read("w.pid").trim().parse().unwrap();
    let start = std::time::Instant::now();
    while std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default() != "sleep\n" {
        assert!(start.elapsed() < PATIENCE, "job {pid} never became sleep");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    pid
}

/// Starts the run, waits for the job, then signals both (the job first, or batchrun first).
fn stopped_like_scancel(job_first: bool) {
    let t = TestEnv::new();
    t.write("m.csv", MANIFEST);
    let args = [
        "run",
        "--retry-delay",
        "10ms",
        "--report",
        "r.json",
        "m.csv",
    ];
    let live = Live::start(t.cmd(&args), &args);
    let job_pid = job_sleeping(&t);
    if job_first {
        kill(job_pid, libc::SIGTERM);
        kill(live.pid(), libc::SIGTERM);
    } else {
        kill(live.pid(), libc::SIGTERM);
        kill(job_pid, libc::SIGTERM);
    }
    let r = live.finish();
    r.code(130).stderr_has("1 cancelled");
    let rep = t.json("r.json");
    let w = job(&rep, "w");
    assert_eq!(w["status"], "cancelled", "{w}");
    assert_eq!(w["attempts"], 1, "not retried: {w}");
    assert_eq!(w["signal"], libc::SIGTERM, "{w}");
    assert_eq!(w["error"], "killed by SIGTERM, as the run was stopped");
    assert_eq!(rep["counts"]["failed"], 0);
    assert_eq!(rep["outcome"], "interrupted");
    t.assert_nothing_left();
}

#[test]
fn a_job_killed_just_before_batchrun_is_signalled_is_cancelled() {
    stopped_like_scancel(true);
}

#[test]
fn a_job_killed_just_after_batchrun_is_signalled_is_cancelled() {
    stopped_like_scancel(false);
}

/// Without a stop signal to batchrun, a job killed by SIGTERM failed (someone else killed it),
/// and is retried.
#[test]
fn a_job_killed_by_sigterm_alone_failed_and_is_retried() {
    let t = TestEnv::new();
    t.write("m.csv", MANIFEST);
    let args = [
        "run",
        "--retry-delay",
        "10ms",
        "--report",
        "r.json",
        "m.csv",
    ];
    let live = Live::start(t.cmd(&args), &args);
    let job_pid = job_sleeping(&t);
    kill(job_pid, libc::SIGTERM);
    live.finish().code(0);
    let w = job(&t.json("r.json"), "w").clone();
    assert_eq!(w["status"], "succeeded", "{w}");
    assert_eq!(w["attempts"], 2, "{w}");
    t.assert_nothing_left();
}
