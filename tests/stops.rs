//! Every job accounted for when a run stops: each stop (signal, second signal, deadline, fail-fast,
//! max-failures) meeting jobs in every state (blocked, ready, running, waiting out a retry delay,
//! retry due, in a limited group) ends with every job's true result, and the report, the summary
//! line and the exit code agree. Also: reports that cannot be written, `-j` beyond the jobs, and a
//! stdout nobody reads.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use crate::util::*;

/// A job that marks itself started, then waits until the test creates `release`.
fn waiter(id: &str) -> String {
    format!("\"sh -c 'touch started.{id}; while [ ! -e release ]; do sleep 0.02; done'\"")
}

/// The summary's counts line (`batchrun: N jobs in …`).
fn summary_line(r: &Run) -> &str {
    r.stderr
        .lines()
        .rfind(|l| l.contains(" jobs in ") || l.contains(" job in "))
        .unwrap_or_else(|| panic!("no summary line in\n{}", r.stderr))
}

/// How the run is stopped once every job is in its state.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Stop {
    Signal,
    SecondSignal,
    Deadline,
    FailFast,
    MaxFailures,
}

/// The manifest for [`stop_meets_every_state`]. With `-j 3` and `--limit g=1`, once the test
/// has seen r1, r2 and trip start:
/// - `f` (group g) failed its first attempt and waits for its retry (delayed, or due but with
///   neither a worker nor a group slot free);
/// - `r1` (group g), `r2` and `trip` are running; `b` is blocked on `r1`;
/// - `q` is ready (no worker free), `qg` is ready but its group is full.
fn matrix_manifest(stop: Stop) -> String {
    let mut m = String::from("id,command,group,retries,after\n");
    if stop == Stop::MaxFailures {
        m.push_str("fail0,\"sh -c 'exit 5'\",,,\n");
    }
    m.push_str("f,\"sh -c 'echo f-err >&2; exit 3'\",g,1,\n");
    m.push_str(&format!("r1,{},g,,\n", waiter("r1")));
    m.push_str(&format!("r2,{},,,\n", waiter("r2")));
    m.push_str(
        "trip,\"sh -c 'touch started.trip; while [ ! -e release ] && [ ! -e trip ]; do sleep 0.02; done; [ ! -e trip ]'\",,,\n",
    );
    m.push_str("b,touch started.b,,,r1\nq,touch started.q,,,\nqg,touch started.qg,g,,\n");
    m
}

fn stop_meets_every_state(stop: Stop, retry_due: bool) {
    let t = TestEnv::new();
    t.write("m.csv", matrix_manifest(stop));
    // A due retry: 300 ms at most (jitter only shortens it); a delayed one: an hour.
    let delay = if retry_due { "300ms" } else { "1h" };
    let mut args = vec![
        "run",
        "-j",
        "3",
        "--limit",
        "g=1",
        "--retry-delay",
        delay,
        "--grace",
        "5s",
        "--report",
        "r.json",
        "--report",
        "r.md",
        "--joblog",
        "log.csv",
    ];
    match stop {
        Stop::Deadline => args.extend(["--deadline", "3s"]),
        Stop::FailFast => args.push("--fail-fast"),
        Stop::MaxFailures => args.extend(["--max-failures", "2"]),
        _ => {}
    }
    args.push("m.csv");
    let mut live = Live::start(t.cmd(&args), &args);
    for id in ["r1", "r2", "trip"] {
        t.wait_for_file(&format!("started.{id}"));
    }
    if retry_due {
        // f's attempt ended before r1 could take the group slot it held, so by now its retry
        // is due (a lower bound, not a guess).
        std::thread::sleep(Duration::from_millis(350));
    }
    match stop {
        Stop::Signal => {
            kill(live.pid(), libc::SIGINT);
            live.wait_stderr("waiting for 3 running jobs to finish");
            t.write("release", "");
        }
        Stop::SecondSignal => {
            kill(live.pid(), libc::SIGINT);
            live.wait_stderr("waiting for 3 running jobs to finish");
            kill(live.pid(), libc::SIGINT);
            live.wait_stderr("second signal: terminating 3 running jobs");
        }
        Stop::Deadline => live.wait_stderr("deadline reached"),
        Stop::FailFast | Stop::MaxFailures => {
            t.write("trip", "");
        }
    }
    let r = live.finish();
    let (code, outcome) = match stop {
        Stop::Signal | Stop::SecondSignal => (130, "interrupted"),
        Stop::Deadline => (124, "deadline_exceeded"),
        Stop::FailFast | Stop::MaxFailures => (1, "failed"),
    };
    r.code(code);
    assert!(!r.stderr.contains("internal"), "{}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    let rep = t.json("r.json");
    assert_eq!(rep["exit_code"], code);
    assert_eq!(rep["outcome"], outcome);
    let last = summary_line(&r);
    assert!(
        last.ends_with(&format!("; {}", outcome.replace('_', " "))),
        "summary line {last:?} disagrees with outcome {outcome}"
    );
    let md = t.read("r.md");
    assert!(
        md.contains(&format!("**Outcome: {outcome}** (exit code {code})")),
        "{md}"
    );

    // The job waiting for its retry keeps its last attempt's true result.
    let f = job(&rep, "f");
    assert_eq!(f["status"], "failed", "{f}");
    assert_eq!(f["attempts"], 1);
    assert_eq!(f["exit_code"], 3);
    assert!(f["started_at"].is_string());
    assert_eq!(f["stderr_tail"], "f-err\n");
    assert_eq!(
        f["error"],
        "exit status 3 (retry not attempted: the run was stopped)"
    );
    let (running_status, signal) = match stop {
        Stop::Signal => ("succeeded", serde_json::Value::Null),
        _ => ("cancelled", serde_json::json!(15)),
    };
    for id in ["r1", "r2"] {
        assert_eq!(job_status(&rep, id), running_status, "{id}");
        assert_eq!(job(&rep, id)["signal"], signal, "{id}");
    }
    let trip = match stop {
        Stop::FailFast | Stop::MaxFailures => "failed",
        _ => running_status,
    };
    assert_eq!(job_status(&rep, "trip"), trip);
    for id in ["b", "q", "qg"] {
        assert_eq!(job_status(&rep, id), "not_started", "{id}");
        assert!(!t.path(&format!("started.{id}")).exists(), "{id} started");
    }
    // Every job once in the report and once in the joblog, with the same status.
    let jobs = rep["jobs"].as_array().unwrap();
    let log = t.read("log.csv");
    assert_eq!(log.lines().count(), jobs.len() + 1, "{log}");
    for j in jobs {
        let line = format!(
            "{},{},",
            j["id"].as_str().unwrap(),
            j["status"].as_str().unwrap()
        );
        assert_eq!(log.matches(&line).count(), 1, "{line} in\n{log}");
    }
    t.assert_nothing_left();
}

#[test]
fn signal_meets_every_state_retry_delayed() {
    stop_meets_every_state(Stop::Signal, false);
}

#[test]
fn signal_meets_every_state_retry_due() {
    stop_meets_every_state(Stop::Signal, true);
}

#[test]
fn second_signal_meets_every_state_retry_delayed() {
    stop_meets_every_state(Stop::SecondSignal, false);
}

#[test]
fn second_signal_meets_every_state_retry_due() {
    stop_meets_every_state(Stop::SecondSignal, true);
}

#[test]
fn deadline_meets_every_state_retry_delayed() {
    stop_meets_every_state(Stop::Deadline, false);
}

#[test]
fn deadline_meets_every_state_retry_due() {
    stop_meets_every_state(Stop::Deadline, true);
}

#[test]
fn fail_fast_meets_every_state_retry_delayed() {
    stop_meets_every_state(Stop::FailFast, false);
}

#[test]
fn fail_fast_meets_every_state_retry_due() {
    stop_meets_every_state(Stop::FailFast, true);
}

#[test]
fn max_failures_meets_every_state_retry_delayed() {
    stop_meets_every_state(Stop::MaxFailures, false);
}

#[test]
fn max_failures_meets_every_state_retry_due() {
    stop_meets_every_state(Stop::MaxFailures, true);
}

/// Regression: a due retry waiting for the only worker was reported as
/// "lost track of this job (internal error)" with attempts 0.
#[test]
fn a_due_retry_waiting_for_a_worker_keeps_its_last_attempt_on_interrupt() {
    let t = TestEnv::new();
    t.write(
        "m.csv",
        format!(
            "id,command,retries\na,\"sh -c 'echo a-err >&2; exit 4'\",1\nb,{},\n",
            waiter("b")
        ),
    );
    let args = [
        "run",
        "-j",
        "1",
        "--retry-delay",
        "10ms",
        "--report",
        "r.json",
        "--joblog",
        "log.csv",
        "m.csv",
    ];
    let mut live = Live::start(t.cmd(&args), &args);
    t.wait_for_file("started.b");
    std::thread::sleep(Duration::from_millis(20)); // a's retry (at most 10 ms) is now due
    kill(live.pid(), libc::SIGINT);
    live.wait_stderr("waiting for 1 running job");
    t.write("release", "");
    let r = live.finish();
    r.code(130);
    assert!(!r.stderr.contains("internal"), "{}", r.stderr);
    let rep = t.json("r.json");
    let a = job(&rep, "a");
    assert_eq!(a["status"], "failed");
    assert_eq!(a["attempts"], 1);
    assert_eq!(a["exit_code"], 4);
    assert!(a["started_at"].is_string());
    assert_eq!(a["stderr_tail"], "a-err\n");
    assert_eq!(
        a["error"],
        "exit status 4 (retry not attempted: the run was stopped)"
    );
    assert!(
        t.read("log.csv").contains("\na,failed,1,4,"),
        "{}",
        t.read("log.csv")
    );
    t.assert_nothing_left();
}

/// Regression: a grouped job waiting for its retry freed its group slot a second
/// time when the run stopped (a debug build panicked, exit 101, no report).
#[test]
fn a_grouped_job_waiting_for_its_retry_frees_its_slot_once() {
    let t = TestEnv::new();
    t.write(
        "m.csv",
        format!(
            "id,command,group,retries\na,false,db,1\nw,{},,\nc,true,db,\n",
            waiter("w")
        ),
    );
    let args = [
        "run",
        "-j",
        "2",
        "--limit",
        "db=1",
        "--retry-delay",
        "1h",
        "--report",
        "r.json",
        "m.csv",
    ];
    let mut live = Live::start(t.cmd(&args), &args);
    t.wait_for_file("started.w");
    live.wait_stderr("retrying in");
    kill(live.pid(), libc::SIGINT);
    live.wait_stderr("waiting for");
    t.write("release", "");
    let r = live.finish();
    r.code(130);
    let rep = t.json("r.json");
    assert_eq!(job_status(&rep, "a"), "failed");
    assert_eq!(job(&rep, "a")["attempts"], 1);
    assert_eq!(job_status(&rep, "w"), "succeeded");
    // c either ran in the slot a's retry left free, or had not started when the signal came.
    assert!(["succeeded", "not_started"].contains(&job_status(&rep, "c")));
    t.assert_nothing_left();
}

/// Regression: a report that cannot be written at the end gave exit 3 while the
/// summary said "succeeded", printed the error twice, labelled internal, with a temporary name.
#[test]
fn a_report_that_cannot_be_written_at_the_end_is_one_decision() {
    let t = TestEnv::new();
    std::fs::create_dir(t.path("out")).unwrap();
    t.write("m.csv", "id,command\ngone,rm -rf out\nok,true\n");
    let r = t.run(&[
        "run",
        "-j",
        "1",
        "--report",
        "out/r.json",
        "--report",
        "r.md",
        "--report",
        "r.xml",
        "m.csv",
    ]);
    r.code(3);
    let expected = "batchrun: error: cannot write report out/r.json: No such file or directory";
    assert_eq!(r.stderr.matches(expected).count(), 1, "{}", r.stderr);
    assert!(!r.stderr.contains(".tmp"), "{}", r.stderr);
    assert!(!r.stderr.contains("internal"), "{}", r.stderr);
    let last = summary_line(&r);
    assert!(
        last.ends_with("2 succeeded; failed (exit 3: batchrun itself failed)"),
        "{last}"
    );
    r.stderr_has("reports written: r.md, r.xml");
    // The reports that could be written say what the exit code says.
    let md = t.read("r.md");
    assert!(md.contains("**Outcome: failed** (exit code 3)"), "{md}");
    assert!(t.read("r.xml").contains("tests=\"2\""));
}

#[test]
fn more_workers_than_jobs_start_only_what_is_needed() {
    let t = TestEnv::new();
    t.write("m.csv", "id,command\na,true\nb,true\n");
    t.write("empty.csv", "id,command\n");
    t.run(&["run", "-j", "100000", "--report", "r.json", "m.csv"])
        .code(0);
    assert_eq!(t.json("r.json")["counts"]["succeeded"], 2);
    t.run(&["run", "-j", "100000", "empty.csv"]).code(0);
}

/// With a stdout nobody reads, signals still work and the run ends.
#[test]
fn a_blocked_stdout_does_not_stop_signals() {
    let t = TestEnv::new();
    t.write(
        "m.csv",
        format!(
            "id,command\nflood,\"sh -c 'head -c 1000000 /dev/zero; touch flooded'\"\nw,{}\n",
            waiter("w")
        ),
    );
    let args = [
        "run", "-j", "2", "--grace", "1s", "--report", "r.json", "m.csv",
    ];
    let mut child = t
        .cmd(&args)
        .stdout(Stdio::piped()) // never read
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _stdout = child.stdout.take();
    let (tx, lines) = crossbeam_channel::unbounded();
    let err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let wait_line = |needle: &str| loop {
        let line = lines.recv_timeout(PATIENCE).expect(needle);
        if line.contains(needle) {
            return;
        }
    };
    t.wait_for_file("started.w");
    t.wait_for_file("flooded");
    kill(child.id(), libc::SIGINT);
    // (flood's worker may not have counted it as ended yet: the count is not the point)
    wait_line("interrupted: starting no new jobs; waiting for");
    kill(child.id(), libc::SIGINT);
    wait_line("second signal: terminating");
    wait_line("was not written: stdout is not being read");
    let status = wait_timeout::ChildExt::wait_timeout(&mut child, PATIENCE)
        .unwrap()
        .expect("batchrun ended");
    assert_eq!(status.code(), Some(130));
    reader.join().unwrap();
    let rep = t.json("r.json");
    // flood has written everything; whether its exit was seen before the second signal
    // depends on the machine's load.
    assert!(["succeeded", "cancelled"].contains(&job_status(&rep, "flood")));
    assert_eq!(job_status(&rep, "w"), "cancelled");
    t.assert_nothing_left();
}
