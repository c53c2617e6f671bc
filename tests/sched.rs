//! Scheduling: `after` order, skip propagation, cycles, `--limit` groups, retries, fail-fast,
//! `--max-failures`, `--deadline`, and `--command` templates. Jobs record what happened in files
//! of the test directory; tests wait for those files, never for a guessed time.

use std::time::{Duration, Instant};

use crate::util::*;

/// A shell job body that appends its id to `order.txt`.
const APPEND_ID: &str = "echo $BATCHRUN_JOB_ID >> order.txt";

/// A shell job body that marks itself started, then runs until SIGTERM (batchrun's).
const SLOW: &str = "\"touch started.$BATCHRUN_JOB_ID; exec sleep 300\"";

/// Waits until `cond` holds, failing the test after [`PATIENCE`].
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < PATIENCE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits until no process is left in the test directory (jobs orphaned by a `kill -9`ed
/// batchrun, once the test let them end).
pub fn wait_nothing_left(t: &TestEnv) {
    let start = Instant::now();
    loop {
        let left = t.live_processes();
        if left.is_empty() {
            return;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "processes still left behind: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The lines of a file of the test directory (none if it is missing).
pub fn lines(t: &TestEnv, rel: &str) -> Vec<String> {
    t.read(rel).lines().map(str::to_string).collect()
}

/// The ids of the jobs of a parsed JSON report, in report order.
pub fn report_ids(report: &serde_json::Value) -> Vec<String> {
    report["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap().to_string())
        .collect()
}

/// Asserts that none of the files exist (no job that must not run has run).
fn assert_absent(t: &TestEnv, files: &[&str]) {
    for f in files {
        assert!(!t.path(f).exists(), "{f} exists: a job ran that must not");
    }
}

#[test]
fn dependencies_run_in_order_through_a_chain_and_a_fan_in() {
    let t = TestEnv::new();
    // A chain listed backwards (d after c after b after a), two independent jobs, and a fan-in
    // over the chain's end and both independent jobs. Four workers: without `after`, d would
    // start first.
    t.write(
        "m.csv",
        format!(
            "id,shell,after,command\n\
             d,yes,c,{APPEND_ID}\n\
             c,yes,b,{APPEND_ID}\n\
             b,yes,a,{APPEND_ID}\n\
             a,yes,,{APPEND_ID}\n\
             x,yes,,{APPEND_ID}\n\
             y,yes,,{APPEND_ID}\n\
             all,yes,d x y,{APPEND_ID}\n"
        ),
    );
    let r = t.run(&["run", "-j", "4", "--report", "r.json", "m.csv"]);
    r.code(0);
    let order = lines(&t, "order.txt");
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(sorted, ["a", "all", "b", "c", "d", "x", "y"], "{order:?}");
    let pos = |id: &str| order.iter().position(|l| l == id).unwrap();
    assert!(
        pos("a") < pos("b") && pos("b") < pos("c") && pos("c") < pos("d"),
        "chain out of order: {order:?}"
    );
    assert_eq!(order.last().unwrap(), "all", "fan-in ran early: {order:?}");
    let rep = t.json("r.json");
    assert_eq!(rep["counts"]["succeeded"], 7);
    assert_eq!(report_ids(&rep), ["d", "c", "b", "a", "x", "y", "all"]);
}

#[test]
fn one_worker_starts_jobs_in_the_order_dry_run_prints() {
    let t = TestEnv::new();
    t.write(
        "m.csv",
        "id,shell,after,command\n\
         a,yes,,echo {id} >> order.txt\n\
         b,yes,a,echo {id} >> order.txt\n\
         c,yes,,echo {id} >> order.txt\n\
         d,yes,b,echo {id} >> order.txt\n",
    );
    let dry = t.run(&["run", "--dry-run", "m.csv"]);
    dry.code(0);
    let planned: Vec<String> = dry
        .stdout
        .lines()
        .map(|l| l.split_whitespace().nth(1).unwrap().replace('\'', ""))
        .collect();
    // Manifest order as far as `after` allows: b is released by a and comes before c.
    assert_eq!(planned, ["a", "b", "c", "d"]);
    t.run(&["run", "-j", "1", "m.csv"]).code(0);
    // One worker: when a ends, b and c are both ready and the worker is free; b comes first.
    assert_eq!(lines(&t, "order.txt"), planned);
}

#[test]
fn a_failure_skips_its_dependents_transitively_while_independent_jobs_go_on() {
    let t = TestEnv::new();
    // ind1 only ends once the joblog says c was skipped: it is still running when a fails,
    // and ind2 starts after the failure.
    t.write(
        "m.csv",
        "id,shell,after,command\n\
         a,yes,,\"echo broken >&2; exit 3\"\n\
         b,yes,a,touch b.ran\n\
         c,yes,b,touch c.ran\n\
         ind1,yes,,\"while ! grep -q '^c,skipped,' log.csv 2>/dev/null; do sleep 0.02; done; touch ind1.ran\"\n\
         ind2,yes,ind1,touch ind2.ran\n",
    );
    let r = t.run(&[
        "run", "-j", "2", "--joblog", "log.csv", "--report", "r.json", "m.csv",
    ]);
    r.code(1);
    let rep = t.json("r.json");
    assert_eq!(rep["outcome"], "failed");
    assert_eq!(
        rep["counts"],
        serde_json::json!({"total": 5, "succeeded": 2, "failed": 1, "timed_out": 0,
            "start_failed": 0, "skipped": 2, "cancelled": 0, "not_started": 0, "resumed": 0})
    );
    let a = job(&rep, "a");
    assert_eq!(a["status"], "failed");
    assert_eq!(a["exit_code"], 3);
    assert_eq!(a["stderr_tail"], "broken\n");
    let b = job(&rep, "b");
    assert_eq!(b["status"], "skipped");
    assert_eq!(b["error"], "dependency 'a' failed");
    assert_eq!(b["attempts"], 0);
    assert!(b["started_at"].is_null() && b["exit_code"].is_null(), "{b}");
    let c = job(&rep, "c");
    assert_eq!(c["status"], "skipped");
    assert_eq!(c["error"], "dependency 'b' skipped");
    assert_eq!(c["attempts"], 0);
    assert_eq!(job_status(&rep, "ind1"), "succeeded");
    assert_eq!(job_status(&rep, "ind2"), "succeeded");
    assert_absent(&t, &["b.ran", "c.ran"]);
    assert!(t.path("ind1.ran").exists() && t.path("ind2.ran").exists());
    r.stderr_has("batchrun: failed a: exit status 3")
        .stderr_has("batchrun: skipped b: dependency 'a' failed")
        .stderr_has("batchrun: skipped c: dependency 'b' skipped");
    t.assert_nothing_left();
}

#[test]
fn cycles_and_unknown_ids_are_reported_with_their_ids_and_nothing_runs() {
    let t = TestEnv::new();
    t.write(
        "m.csv",
        "id,command,after\n\
         a,touch ran-a,\n\
         x,touch ran-x,z\n\
         y,touch ran-y,x\n\
         z,touch ran-z,y\n\
         self,touch ran-self,self\n\
         w,touch ran-w,x\n\
         u,touch ran-u,nope a\n",
    );
    let expected = [
        "m.csv:3: column 'after': dependency cycle: x -> z -> y -> x (expected `after` to form no cycle)",
        "m.csv:6: column 'after': dependency cycle: self -> self (expected `after` to form no cycle)",
        "m.csv:8: column 'after': unknown id 'nope' (expected the id of a job in this manifest)",
        "batchrun: 3 problems in m.csv; nothing was run",
    ];
    for args in [
        &["run", "m.csv"][..],
        &["run", "--dry-run", "m.csv"],
        &["check", "m.csv"],
    ] {
        let r = t.run(args);
        r.code(2);
        // w waits on the cycle without being in it: it is not reported.
        assert_eq!(r.stderr.lines().collect::<Vec<_>>(), expected, "{args:?}");
        assert_eq!(r.stdout, "", "{args:?}");
    }
    assert_absent(
        &t,
        &[
            "ran-a", "ran-x", "ran-y", "ran-z", "ran-self", "ran-w", "ran-u",
        ],
    );
}

/// A group job: counts itself into `cur.GROUP` (under `flock`), records the count in
/// `seen.GROUP`, marks itself started, waits for `release`, then counts itself out.
const GROUP_JOB: &str = "\"flock cnt.lock sh -c 'n=$(( $(cat cur.$0 2>/dev/null || echo 0) + 1 )); echo $n > cur.$0; echo $n >> seen.$0' {group}; \
touch started.$BATCHRUN_JOB_ID; while [ ! -e release ]; do sleep 0.02; done; \
flock cnt.lock sh -c 'echo $(( $(cat cur.$0) - 1 )) > cur.$0' {group}\"";

/// A job in no group: marks itself started and waits for `release`.
const FREE_JOB: &str =
    "\"touch started.$BATCHRUN_JOB_ID; while [ ! -e release ]; do sleep 0.02; done\"";

#[test]
fn group_limits_cap_overlap_while_other_jobs_run_freely() {
    let t = TestEnv::new();
    let mut m = String::from("id,shell,group,command\n");
    for i in 1..=5 {
        m.push_str(&format!("db{i},yes,db,{GROUP_JOB}\n"));
    }
    for i in 1..=3 {
        m.push_str(&format!("web{i},yes,web,{GROUP_JOB}\n"));
    }
    for i in 1..=2 {
        m.push_str(&format!("free{i},yes,,{FREE_JOB}\n"));
    }
    t.write("m.csv", m);
    // Ten workers for ten jobs: only the limits hold jobs back.
    let args = [
        "run", "-j", "10", "--limit", "db=2", "--limit", "web=1", "--report", "r.json", "m.csv",
    ];
    let live = Live::start(t.cmd(&args), &args);
    // The first two db jobs, the first web job and both free jobs run at the same time: the
    // free jobs, which come after every group job in the manifest, are not held up.
    for id in ["db1", "db2", "web1", "free1", "free2"] {
        t.wait_for_file(&format!("started.{id}"));
    }
    // A broken limit would have started the later group jobs before the free ones.
    assert_absent(
        &t,
        &[
            "started.db3",
            "started.db4",
            "started.db5",
            "started.web2",
            "started.web3",
        ],
    );
    t.write("release", "");
    let r = live.finish();
    r.code(0);
    let rep = t.json("r.json");
    assert_eq!(rep["counts"]["succeeded"], 10);
    for (group, limit, jobs) in [("db", 2, 5), ("web", 1, 3)] {
        let seen: Vec<u32> = lines(&t, &format!("seen.{group}"))
            .iter()
            .map(|l| l.trim().parse().unwrap())
            .collect();
        assert_eq!(seen.len(), jobs, "{group}: {seen:?}");
        assert_eq!(
            seen.iter().max(),
            Some(&limit),
            "{group} ran more (or fewer) than {limit} at once: {seen:?}"
        );
        assert_eq!(t.read(&format!("cur.{group}")).trim(), "0");
    }
    t.assert_nothing_left();
}

#[test]
fn limit_naming_no_group_is_a_usage_error() {
    let t = TestEnv::new();
    t.write("g.csv", "id,command,group\na,touch ran,db\nb,touch ran,\n");
    for cmd in ["run", "check"] {
        let r = t.run(&[cmd, "--limit", "db=1", "--limit", "web=1", "g.csv"]);
        r.code(2);
        assert_eq!(
            r.stderr,
            "--limit: web=1: no job is in group 'web' (expected one of the manifest's groups: db)\n\
             batchrun: 1 problem in g.csv; nothing was run\n"
        );
    }
    t.write("n.csv", "id,command\na,touch ran\n");
    t.run(&["run", "--limit", "db=1", "n.csv"])
        .code(2)
        .stderr_has(
            "--limit: db=1: no job is in group 'db' (expected one of the manifest's groups: none)",
        );
    t.run(&["run", "--limit", "db=0", "g.csv"])
        .code(2)
        .stderr_has("--limit 'db=0' is not GROUP=N");
    assert_absent(&t, &["ran"]);
}

#[test]
fn retries_until_success_and_until_exhausted() {
    let t = TestEnv::new();
    t.write(
        "m.csv",
        "id,shell,retries,timeout,command\n\
         flaky,yes,3,,\"echo $BATCHRUN_ATTEMPT >> flaky.txt; [ $(wc -l < flaky.txt) -ge 3 ]\"\n\
         dflt,yes,,,\"echo $BATCHRUN_ATTEMPT >> dflt.txt; [ $(wc -l < dflt.txt) -ge 2 ]\"\n\
         doomed,yes,2,,\"echo $BATCHRUN_ATTEMPT >> doomed.txt; echo boom $BATCHRUN_ATTEMPT >&2; exit 4\"\n\
         slowpoke,yes,1,500ms,\"exec sleep 30\"\n\
         once,yes,0,,\"echo $BATCHRUN_ATTEMPT >> once.txt; exit 1\"\n",
    );
    let r = t.run(&[
        "run",
        "-j",
        "4",
        "--retries",
        "1",
        "--retry-delay",
        "10ms",
        "--grace",
        "1s",
        "--report",
        "r.json",
        "m.csv",
    ]);
    r.code(1);
    let rep = t.json("r.json");

    // Succeeds on its third attempt; it saw BATCHRUN_ATTEMPT 1, 2, 3.
    let flaky = job(&rep, "flaky");
    assert_eq!(flaky["status"], "succeeded");
    assert_eq!(flaky["attempts"], 3);
    assert_eq!(flaky["exit_code"], 0);
    assert!(flaky["error"].is_null());
    assert_eq!(t.read("flaky.txt"), "1\n2\n3\n");
    r.stderr_has("flaky: attempt 1/4 failed (exit status 1); retrying in")
        .stderr_has("flaky: attempt 2/4 failed (exit status 1); retrying in");

    // No `retries` value: --retries 1 applies.
    let dflt = job(&rep, "dflt");
    assert_eq!(dflt["status"], "succeeded");
    assert_eq!(dflt["attempts"], 2);
    assert_eq!(t.read("dflt.txt"), "1\n2\n");

    // Retries exhausted: attempts = retries + 1, the last attempt's exit code and stderr.
    let doomed = job(&rep, "doomed");
    assert_eq!(doomed["status"], "failed");
    assert_eq!(doomed["attempts"], 3);
    assert_eq!(doomed["exit_code"], 4);
    assert_eq!(doomed["error"], "exit status 4");
    assert_eq!(doomed["stderr_tail"], "boom 3\n");
    assert_eq!(t.read("doomed.txt"), "1\n2\n3\n");
    r.stderr_has("batchrun: failed (attempt 3/3) doomed: exit status 4")
        .stderr_has("    | boom 3");

    // A timeout is retried too.
    let slow = job(&rep, "slowpoke");
    assert_eq!(slow["status"], "timed_out");
    assert_eq!(slow["attempts"], 2);
    r.stderr_has("batchrun: timed_out (attempt 2/2) slowpoke: timed out after 500ms");

    // retries=0 overrides --retries 1.
    let once = job(&rep, "once");
    assert_eq!(once["status"], "failed");
    assert_eq!(once["attempts"], 1);
    assert_eq!(t.read("once.txt"), "1\n");
    r.stderr_has("batchrun: failed once: exit status 1");

    assert_eq!(
        rep["counts"],
        serde_json::json!({"total": 5, "succeeded": 2, "failed": 2, "timed_out": 1,
            "start_failed": 0, "skipped": 0, "cancelled": 0, "not_started": 0, "resumed": 0})
    );
    t.assert_nothing_left();
}

#[test]
fn a_job_that_fails_while_the_run_is_interrupted_is_not_retried() {
    let t = TestEnv::new();
    t.write(
        "m.csv",
        "id,shell,retries,command\n\
         j1,yes,3,\"echo $BATCHRUN_ATTEMPT >> j1.txt; touch started.j1; while [ ! -e release ]; do sleep 0.02; done; exit 1\"\n\
         j2,yes,,touch ran.j2\n",
    );
    let args = [
        "run",
        "-j",
        "1",
        "--retry-delay",
        "10ms",
        "--report",
        "r.json",
        "m.csv",
    ];
    let mut live = Live::start(t.cmd(&args), &args);
    t.wait_for_file("started.j1");
    kill(live.pid(), libc::SIGINT);
    live.wait_stderr("waiting for 1 running job to finish");
    // Only now does j1 fail: the run is already stopping.
    t.write("release", "");
    let r = live.finish();
    r.code(130);
    let rep = t.json("r.json");
    assert_eq!(rep["outcome"], "interrupted");
    let j1 = job(&rep, "j1");
    assert_eq!(j1["status"], "failed");
    assert_eq!(j1["attempts"], 1);
    assert_eq!(j1["exit_code"], 1);
    assert_eq!(t.read("j1.txt"), "1\n");
    assert_eq!(job_status(&rep, "j2"), "not_started");
    assert_absent(&t, &["ran.j2"]);
    assert!(!r.stderr.contains("retrying in"), "{}", r.stderr);
    t.assert_nothing_left();
}

#[test]
fn a_retry_waiting_out_its_delay_is_dropped_on_interrupt() {
    let t = TestEnv::new();
    t.write(
        "m.csv",
        "id,shell,retries,command\nj1,yes,3,\"echo $BATCHRUN_ATTEMPT >> j1.txt; exit 1\"\n",
    );
    // The first retry would come after at least 150 s (1h, capped at 5m, jitter 50-100 %).
    let args = ["run", "--retry-delay", "1h", "--report", "r.json", "m.csv"];
    let mut live = Live::start(t.cmd(&args), &args);
    live.wait_stderr("j1: attempt 1/4 failed (exit status 1); retrying in");
    let t0 = Instant::now();
    kill(live.pid(), libc::SIGINT);
    let r = live.finish();
    r.code(130);
    assert!(t0.elapsed() < Duration::from_secs(30), "{:?}", t0.elapsed());
    let rep = t.json("r.json");
    let j1 = job(&rep, "j1");
    assert_eq!(j1["status"], "failed");
    assert_eq!(j1["attempts"], 1);
    assert_eq!(
        j1["error"],
        "exit status 1 (retry not attempted: the run was stopped)"
    );
    assert_eq!(t.read("j1.txt"), "1\n");
    t.assert_nothing_left();
}

#[test]
fn fail_fast_cancels_running_jobs_and_starts_nothing_more() {
    let t = TestEnv::new();
    // bad fails once both slow jobs run; later waits on slow1, which never succeeds.
    t.write(
        "m.csv",
        format!(
            "id,shell,after,command\n\
             slow1,yes,,{SLOW}\n\
             slow2,yes,,{SLOW}\n\
             bad,yes,,\"while [ ! -e started.slow1 ] || [ ! -e started.slow2 ]; do sleep 0.02; done; echo giving up >&2; exit 1\"\n\
             later,yes,slow1,touch ran.later\n"
        ),
    );
    let t0 = Instant::now();
    let r = t.run(&[
        "run",
        "-j",
        "3",
        "--fail-fast",
        "--grace",
        "1s",
        "--report",
        "r.json",
        "m.csv",
    ]);
    r.code(1);
    assert!(
        t0.elapsed() < Duration::from_secs(30),
        "took {:?}",
        t0.elapsed()
    );
    r.stderr_has(
        "batchrun: 1 failure reached the limit of 1: stopping the run, terminating 2 running jobs",
    );
    let rep = t.json("r.json");
    assert_eq!(rep["outcome"], "failed");
    assert_eq!(rep["exit_code"], 1);
    assert_eq!(job_status(&rep, "bad"), "failed");
    for id in ["slow1", "slow2"] {
        let j = job(&rep, id);
        assert_eq!(j["status"], "cancelled", "{j}");
        assert_eq!(j["signal"], 15, "{j}");
        assert_eq!(j["error"], "terminated: the run was stopped");
    }
    let later = job(&rep, "later");
    assert_eq!(later["status"], "not_started");
    assert_eq!(later["attempts"], 0);
    assert_absent(&t, &["ran.later"]);
    assert_eq!(rep["counts"]["cancelled"], 2);
    assert_eq!(rep["counts"]["not_started"], 1);
    t.assert_nothing_left();
}

#[test]
fn fail_fast_with_one_worker_starts_nothing_after_the_failure() {
    let t = TestEnv::new();
    t.write("m.csv", "id,command\nbad,false\nlater,touch ran.later\n");
    let r = t.run(&[
        "run",
        "-j",
        "1",
        "--fail-fast",
        "--grace",
        "1s",
        "--report",
        "r.json",
        "m.csv",
    ]);
    r.code(1);
    let rep = t.json("r.json");
    assert_eq!(job_status(&rep, "bad"), "failed");
    assert_eq!(job_status(&rep, "later"), "not_started");
    assert_absent(&t, &["ran.later"]);
    t.assert_nothing_left();
}

#[test]
fn max_failures_stops_the_run_after_the_nth_failure() {
    let t = TestEnv::new();
    // bad1 fails once both slow jobs run; bad2 fails only once the joblog shows bad1's failure,
    // so the run went on after the first failure.
    t.write(
        "m.csv",
        format!(
            "id,shell,after,command\n\
             slow1,yes,,{SLOW}\n\
             slow2,yes,,{SLOW}\n\
             bad1,yes,,\"while [ ! -e started.slow1 ] || [ ! -e started.slow2 ]; do sleep 0.02; done; exit 1\"\n\
             bad2,yes,,\"while ! grep -q '^bad1,failed,' log.csv 2>/dev/null; do sleep 0.02; done; exit 2\"\n\
             later1,yes,slow1,touch ran.later1\n\
             later2,yes,slow2,touch ran.later2\n"
        ),
    );
    let t0 = Instant::now();
    let r = t.run(&[
        "run",
        "-j",
        "4",
        "--max-failures",
        "2",
        "--grace",
        "1s",
        "--joblog",
        "log.csv",
        "--report",
        "r.json",
        "m.csv",
    ]);
    r.code(1);
    assert!(
        t0.elapsed() < Duration::from_secs(30),
        "took {:?}",
        t0.elapsed()
    );
    r.stderr_has(
        "batchrun: 2 failures reached the limit of 2: stopping the run, terminating 2 running jobs",
    );
    let rep = t.json("r.json");
    assert_eq!(rep["outcome"], "failed");
    assert_eq!(job(&rep, "bad1")["exit_code"], 1);
    assert_eq!(job(&rep, "bad2")["exit_code"], 2);
    assert_eq!(
        rep["counts"],
        serde_json::json!({"total": 6, "succeeded": 0, "failed": 2, "timed_out": 0,
            "start_failed": 0, "skipped": 0, "cancelled": 2, "not_started": 2, "resumed": 0})
    );
    for id in ["slow1", "slow2"] {
        assert_eq!(job_status(&rep, id), "cancelled");
    }
    for id in ["later1", "later2"] {
        assert_eq!(job_status(&rep, id), "not_started");
    }
    assert_absent(&t, &["ran.later1", "ran.later2"]);
    t.assert_nothing_left();
}

#[test]
fn deadline_cancels_running_jobs_and_exits_124() {
    let t = TestEnv::new();
    t.write(
        "m.csv",
        "id,command,after\n\
         slow1,sleep 300,\n\
         slow2,sleep 300,\n\
         later1,touch ran.later1,slow1\n\
         later2,touch ran.later2,\n",
    );
    let t0 = Instant::now();
    let r = t.run(&[
        "run",
        "-j",
        "2",
        "--deadline",
        "2s",
        "--grace",
        "1s",
        "--report",
        "r.json",
        "m.csv",
    ]);
    r.code(124);
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(30),
        "took {took:?}"
    );
    r.stderr_has("batchrun: deadline reached: starting no new jobs, terminating");
    let rep = t.json("r.json");
    assert_eq!(rep["outcome"], "deadline_exceeded");
    assert_eq!(rep["exit_code"], 124);
    for id in ["slow1", "slow2"] {
        let j = job(&rep, id);
        assert_eq!(j["status"], "cancelled", "{j}");
        assert_eq!(j["signal"], 15, "{j}");
    }
    let later1 = job(&rep, "later1");
    assert_eq!(later1["status"], "not_started", "{later1}");
    assert_eq!(later1["error"], "dependency 'slow1' cancelled");
    let later2 = job(&rep, "later2");
    assert_eq!(later2["status"], "not_started", "{later2}");
    // Not started for the run's own reason: a compact entry, the reason is the outcome.
    assert_eq!(later2.get("error"), None, "{later2}");
    assert_eq!(later2["attempts"], 0, "{later2}");
    assert_absent(&t, &["ran.later1", "ran.later2"]);
    t.assert_nothing_left();
}

#[test]
fn command_template_over_a_plain_table() {
    let t = TestEnv::new();
    t.write("m.csv", "id,file,table\nt1,a b.csv,sales\nt2,c.csv,costs\n");
    let dry = t.run(&[
        "run",
        "--command",
        "touch {table}-{file}",
        "--dry-run",
        "m.csv",
    ]);
    dry.code(0);
    assert_eq!(dry.stdout, "touch 'sales-a b.csv'\ntouch costs-c.csv\n");
    assert_absent(&t, &["sales-a b.csv", "costs-c.csv"]);
    let r = t.run(&[
        "run",
        "--command",
        "touch {table}-{file}",
        "--report",
        "r.json",
        "m.csv",
    ]);
    r.code(0);
    // A value is substituted inside its word and never split.
    assert!(t.path("sales-a b.csv").exists() && t.path("costs-c.csv").exists());
    assert_absent(&t, &["sales-a", "b.csv"]);
    assert_eq!(report_ids(&t.json("r.json")), ["t1", "t2"]);

    // Without an id column, jobs are numbered; {id} is the number.
    t.write("n.csv", "file\nx\ny\n");
    let r = t.run(&[
        "run",
        "-j",
        "1",
        "--command",
        "touch n{id}-{file}",
        "--report",
        "n.json",
        "n.csv",
    ]);
    r.code(0);
    assert!(t.path("n1-x").exists() && t.path("n2-y").exists());
    assert_eq!(report_ids(&t.json("n.json")), ["1", "2"]);
}

#[test]
fn command_template_with_a_command_column_or_an_unknown_placeholder_is_rejected() {
    let t = TestEnv::new();
    t.write("m.csv", "id,file,command\nt1,x,touch ran\n");
    let r = t.run(&["run", "--command", "touch {file}", "m.csv"]);
    r.code(2);
    assert_eq!(
        r.stderr,
        "m.csv:1: column 'command': present together with --command (expected one or the other)\n\
         batchrun: 1 problem in m.csv; nothing was run\n"
    );
    t.run(&["check", "--command", "touch {file}", "m.csv"])
        .code(2)
        .stderr_has("present together with --command");
    t.write("p.csv", "id,file\nt1,x\n");
    t.run(&["run", "--command", "touch {nope}", "p.csv"])
        .code(2)
        .stderr_has("--command: placeholder {nope} names no column");
    assert_absent(&t, &["ran", "x"]);
}
