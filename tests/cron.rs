//! What cron and shell scripts rely on: the joblog and `--resume` (also after a `kill -9`),
//! `--lock`, `-q`, the JUnit and Markdown reports, `check` and `--dry-run`.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::sched::{lines, report_ids, wait_nothing_left, wait_until};
use crate::util::*;

/// The joblog's header line (SPEC §6).
const JOBLOG_HEADER: &str =
    "id,status,attempts,exit_code,signal,started_at,duration_ms,command_hash";

/// The joblog's lines for `id`, each split into its fields.
fn joblog_lines(t: &TestEnv, rel: &str, id: &str) -> Vec<Vec<String>> {
    lines(t, rel)
        .iter()
        .filter(|l| l.split(',').next() == Some(id))
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

/// How many lines of `rel` are exactly `line`.
fn count_lines(t: &TestEnv, rel: &str, line: &str) -> usize {
    lines(t, rel).iter().filter(|l| *l == line).count()
}

/// Asserts a joblog `started_at` looks like `2026-11-23T02:00:01Z`.
fn assert_timestamp(s: &str) {
    let b = s.as_bytes();
    assert!(
        b.len() == 20
            && b[4] == b'-'
            && b[7] == b'-'
            && b[10] == b'T'
            && b[13] == b':'
            && b[16] == b':'
            && b[19] == b'Z',
        "not an RFC 3339 UTC time: {s:?}"
    );
}

#[test]
fn joblog_has_one_line_per_finished_job_and_one_header() {
    let t = TestEnv::new();
    t.write(
        "m.csv",
        "id,command,after\n\
         a,true,\n\
         b,sh -c 'exit 3',\n\
         c,true,b\n\
         sig,sh -c 'kill -USR1 $$',\n",
    );
    t.run(&["run", "-j", "1", "--joblog", "log.csv", "m.csv"])
        .code(1);
    let log = lines(&t, "log.csv");
    assert_eq!(log.len(), 5, "{log:?}");
    assert_eq!(log[0], JOBLOG_HEADER);
    let mut ids: Vec<&str> = log[1..]
        .iter()
        .map(|l| l.split(',').next().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, ["a", "b", "c", "sig"]);

    let a = &joblog_lines(&t, "log.csv", "a")[0];
    assert_eq!(a.len(), 8, "{a:?}");
    assert_eq!(a[1..5], ["succeeded", "1", "0", ""]);
    assert_timestamp(&a[5]);
    a[6].parse::<u64>().unwrap();
    // The documented, stable hash of `true` with no cwd and no env.
    assert_eq!(a[7], "8f806d290893edf9");

    let b = &joblog_lines(&t, "log.csv", "b")[0];
    assert_eq!(b[1..5], ["failed", "1", "3", ""]);
    assert_timestamp(&b[5]);
    assert_eq!(b[7].len(), 16);
    assert!(b[7].chars().all(|c| c.is_ascii_hexdigit()), "{b:?}");
    assert_ne!(b[7], a[7]);

    let c = &joblog_lines(&t, "log.csv", "c")[0];
    assert_eq!(c[1..7], ["skipped", "0", "", "", "", ""]);
    // c runs `true` too: the id is not part of the hash.
    assert_eq!(c[7], a[7]);

    let sig = &joblog_lines(&t, "log.csv", "sig")[0];
    assert_eq!(sig[1..5], ["failed", "1", "", "10"]);

    // A second run appends: one header, two lines per job.
    t.run(&["run", "-j", "1", "--joblog", "log.csv", "m.csv"])
        .code(1);
    let log = lines(&t, "log.csv");
    assert_eq!(log.len(), 9, "{log:?}");
    assert_eq!(count_lines(&t, "log.csv", JOBLOG_HEADER), 1);
    assert_eq!(log[0], JOBLOG_HEADER);
    for id in ["a", "b", "c", "sig"] {
        assert_eq!(joblog_lines(&t, "log.csv", id).len(), 2, "{id}: {log:?}");
    }
}

/// A batchrun command for a run the test will `kill -9`: its private temporary directory (job
/// output files, which a killed run cannot remove) goes inside the test directory.
fn killable(t: &TestEnv, args: &[&str]) -> Command {
    std::fs::create_dir_all(t.path("tmp")).unwrap();
    let mut cmd = t.cmd(args);
    cmd.env("TMPDIR", t.path("tmp"));
    cmd
}

/// A shell job body that appends its id to `ran.txt`.
const RAN: &str = "echo $BATCHRUN_JOB_ID >> ran.txt";

#[test]
fn resume_after_kill_9_runs_exactly_the_jobs_that_had_not_finished() {
    let t = TestEnv::new();
    // q1..q3 finish at once; f1 fails in the first run only; s1 and s2 block until `release`;
    // n1 and n2 wait on them and so never start in the first run.
    let block = format!(
        "\"{RAN}; touch started.$BATCHRUN_JOB_ID; while [ ! -e release ]; do sleep 0.02; done\""
    );
    t.write(
        "m.csv",
        format!(
            "id,shell,after,command\n\
             q1,yes,,{RAN}\n\
             q2,yes,,{RAN}\n\
             f1,yes,,\"{RAN}; [ -e second-run ]\"\n\
             q3,yes,,{RAN}\n\
             s1,yes,,{block}\n\
             s2,yes,,{block}\n\
             n1,yes,s1,{RAN}\n\
             n2,yes,s2,{RAN}\n"
        ),
    );
    let args = ["run", "-j", "3", "--joblog", "log.csv", "m.csv"];
    let live = Live::start(killable(&t, &args), &args);
    t.wait_for_file("started.s1");
    t.wait_for_file("started.s2");
    wait_until("the joblog lines of q1, q2, q3 and f1", || {
        ["q1", "q2", "q3", "f1"]
            .iter()
            .all(|id| joblog_lines(&t, "log.csv", id).len() == 1)
    });
    kill(live.pid(), libc::SIGKILL);
    let r = live.finish();
    assert_eq!(r.code, None, "batchrun was not killed: {}", r.stderr);
    // The killed run's jobs live on in their own process groups: let them end.
    t.write("release", "");
    wait_nothing_left(&t);
    let log = lines(&t, "log.csv");
    assert_eq!(log.len(), 5, "only the finished jobs are logged: {log:?}");

    t.write("second-run", "");
    let r = t.run(&[
        "run", "-j", "3", "--joblog", "log.csv", "--resume", "--report", "r.json", "m.csv",
    ]);
    r.code(0);
    let ran = lines(&t, "ran.txt");
    let times = |id: &str| ran.iter().filter(|l| *l == id).count();
    for (id, n) in [
        ("q1", 1),
        ("q2", 1),
        ("q3", 1),
        ("f1", 2),
        ("s1", 2),
        ("s2", 2),
        ("n1", 1),
        ("n2", 1),
    ] {
        assert_eq!(times(id), n, "{id} ran {} times: {ran:?}", times(id));
    }
    let rep = t.json("r.json");
    assert_eq!(rep["outcome"], "succeeded");
    for id in ["q1", "q2", "q3"] {
        let j = job(&rep, id);
        assert_eq!(j["status"], "resumed", "{j}");
        assert_eq!(j["attempts"], 0, "{j}");
    }
    for id in ["f1", "s1", "s2", "n1", "n2"] {
        assert_eq!(job_status(&rep, id), "succeeded");
    }
    assert_eq!(rep["counts"]["resumed"], 3);
    assert_eq!(rep["counts"]["succeeded"], 5);
    assert_eq!(count_lines(&t, "log.csv", JOBLOG_HEADER), 1);
    t.assert_nothing_left();
}

/// Ids of a joblog's whole lines (a line torn by a `kill -9` is not one).
fn joblog_ids(t: &TestEnv, rel: &str) -> Vec<String> {
    let fields = JOBLOG_HEADER.split(',').count();
    lines(t, rel)
        .iter()
        .skip(1)
        .filter(|l| l.split(',').count() == fields)
        .map(|l| l.split(',').next().unwrap().to_string())
        .collect()
}

#[test]
fn after_kill_9_at_most_two_jobs_per_worker_had_finished_unlogged_and_resume_runs_the_rest_once() {
    // Results may be read in batches (no job waits on another, nothing is retried), but a
    // finished job's joblog line is at most 10 ms late: killed at any moment, the joblog lacks
    // at most the job each worker was running and the one it had just finished. Each job
    // takes 0.3 s, far more than the hold, so a run that held results longer (until its
    // worker runs out of work, say) would lack many more.
    let t = TestEnv::new();
    let workers = 2;
    let n = 16;
    let mut manifest = String::from("id,shell,command\n");
    for k in 0..n {
        manifest.push_str(&format!("j{k:02},yes,\"sleep 0.3; {RAN}\"\n"));
    }
    t.write("m.csv", manifest);
    let args = ["run", "-j", "2", "--joblog", "log.csv", "m.csv"];
    let live = Live::start(killable(&t, &args), &args);
    let enough = 10;
    wait_until("10 jobs to finish", || lines(&t, "ran.txt").len() >= enough);
    kill(live.pid(), libc::SIGKILL);
    let r = live.finish();
    assert_eq!(r.code, None, "batchrun was not killed: {}", r.stderr);
    // The jobs running when batchrun died end on their own and append their ids.
    wait_nothing_left(&t);
    let finished = lines(&t, "ran.txt");
    let logged = joblog_ids(&t, "log.csv");
    assert!(
        finished.len() >= enough && finished.len() < n,
        "{finished:?}"
    );
    for id in &logged {
        assert!(
            finished.contains(id),
            "{id} is logged but never ran: {finished:?}"
        );
    }
    let unlogged: Vec<&String> = finished.iter().filter(|id| !logged.contains(id)).collect();
    assert!(
        unlogged.len() <= 2 * workers,
        "{} jobs had finished but are not in the joblog: {unlogged:?} (logged: {logged:?})",
        unlogged.len()
    );

    let r = t.run(&[
        "run", "-j", "2", "--joblog", "log.csv", "--resume", "--report", "r.json", "m.csv",
    ]);
    r.code(0);
    let ran = lines(&t, "ran.txt");
    for k in 0..n {
        let id = format!("j{k:02}");
        let times = ran.iter().filter(|l| **l == id).count();
        // A logged job is not run again; every other job runs once more, whether or not it
        // had finished unlogged.
        let expected = if logged.contains(&id) {
            1
        } else if finished.contains(&id) {
            2
        } else {
            1
        };
        assert_eq!(times, expected, "{id} ran {times} times: {ran:?}");
    }
    let rep = t.json("r.json");
    assert_eq!(rep["counts"]["resumed"], logged.len());
    assert_eq!(rep["counts"]["succeeded"], n - logged.len());
    t.assert_nothing_left();
}

#[test]
fn resume_reruns_a_job_whose_command_or_env_changed_and_keys_by_id() {
    let t = TestEnv::new();
    t.write(
        "m.csv",
        "id,shell,env,command\n\
         a,yes,,echo v1 >> out.txt\n\
         b,yes,,echo b >> out.txt\n\
         c,yes,K=1,echo c$K >> out.txt\n",
    );
    t.run(&["run", "-j", "1", "--joblog", "log.csv", "m.csv"])
        .code(0);
    assert_eq!(t.read("out.txt"), "v1\nb\nc1\n");

    // Same ids: a's command and c's env changed, b's did not.
    t.write(
        "m.csv",
        "id,shell,env,command\n\
         a,yes,,echo v2 >> out.txt\n\
         b,yes,,echo b >> out.txt\n\
         c,yes,K=2,echo c$K >> out.txt\n",
    );
    let r = t.run(&[
        "run", "-j", "1", "--joblog", "log.csv", "--resume", "--report", "r.json", "m.csv",
    ]);
    r.code(0);
    assert_eq!(t.read("out.txt"), "v1\nb\nc1\nv2\nc2\n");
    let rep = t.json("r.json");
    assert_eq!(job_status(&rep, "a"), "succeeded");
    assert_eq!(job_status(&rep, "b"), "resumed");
    assert_eq!(job_status(&rep, "c"), "succeeded");

    // Rows reordered: resume goes by id and command, not by position.
    t.write(
        "m.csv",
        "id,shell,env,command\n\
         c,yes,K=2,echo c$K >> out.txt\n\
         b,yes,,echo b >> out.txt\n\
         a,yes,,echo v2 >> out.txt\n",
    );
    let r = t.run(&[
        "run", "--joblog", "log.csv", "--resume", "--report", "r.json", "m.csv",
    ]);
    r.code(0);
    assert_eq!(t.read("out.txt"), "v1\nb\nc1\nv2\nc2\n");
    let rep = t.json("r.json");
    assert_eq!(rep["counts"]["resumed"], 3);
    assert_eq!(report_ids(&rep), ["c", "b", "a"]);

    // --resume needs --joblog.
    t.run(&["run", "--resume", "m.csv"]).code(2);
    assert_eq!(t.read("out.txt"), "v1\nb\nc1\nv2\nc2\n");
}

#[test]
fn a_torn_joblog_line_is_skipped_with_a_warning() {
    let t = TestEnv::new();
    t.write(
        "m.csv",
        format!(
            "id,shell,after,command\na,yes,,{RAN}\nb,yes,,{RAN}\nc,yes,,{RAN}\nd,yes,a,{RAN}\n"
        ),
    );
    t.run(&["run", "-j", "1", "--joblog", "full.csv", "m.csv"])
        .code(0);
    let full = lines(&t, "full.csv");
    let line_of = |id: &str| {
        full.iter()
            .find(|l| l.starts_with(&format!("{id},")))
            .unwrap()
            .clone()
    };
    // batchrun killed while writing c's line: it stops in the middle of the timestamp. d's
    // line was never written; d waits on a, which is resumed.
    let c_line = line_of("c");
    let torn = &c_line[..c_line.find('T').unwrap()];
    assert_eq!(torn.split(',').count(), 6, "{torn}");
    t.write(
        "log.csv",
        format!(
            "{JOBLOG_HEADER}\n{}\n{}\n{torn}",
            line_of("a"),
            line_of("b")
        ),
    );
    t.write("ran.txt", "");
    let r = t.run(&[
        "run", "--joblog", "log.csv", "--resume", "--report", "r.json", "m.csv",
    ]);
    r.code(0)
        .stderr_has("log.csv:4: torn or malformed joblog line skipped (6 fields, expected 8)");
    let mut ran = lines(&t, "ran.txt");
    ran.sort();
    assert_eq!(ran, ["c", "d"]);
    let rep = t.json("r.json");
    assert_eq!(job_status(&rep, "a"), "resumed");
    assert_eq!(job_status(&rep, "b"), "resumed");
    assert_eq!(job_status(&rep, "c"), "succeeded");
    assert_eq!(job_status(&rep, "d"), "succeeded");
    // The torn line was ended before the new lines were appended.
    let log = lines(&t, "log.csv");
    assert_eq!(log.len(), 6, "{log:?}");
    assert_eq!(log[3], torn);
    let mut new_lines = log[4..].to_vec();
    new_lines.sort();
    assert!(new_lines[0].starts_with("c,succeeded,1,0,,"), "{log:?}");
    assert!(new_lines[1].starts_with("d,succeeded,1,0,,"), "{log:?}");
    assert!(
        log[4..].iter().all(|l| l.split(',').count() == 8),
        "{log:?}"
    );

    // The next resume finds c's success after the torn line.
    let r = t.run(&[
        "run", "--joblog", "log.csv", "--resume", "--report", "r.json", "m.csv",
    ]);
    r.code(0);
    assert_eq!(t.json("r.json")["counts"]["resumed"], 4);
    assert_eq!(lines(&t, "ran.txt").len(), 2, "nothing ran again");
}

#[test]
fn lock_held_by_a_running_batchrun_exits_75_at_once() {
    let t = TestEnv::new();
    t.write(
        "hold.csv",
        "id,shell,command\nholder,yes,\"touch started.holder; while [ ! -e release ]; do sleep 0.02; done\"\n",
    );
    t.write("other.csv", "id,command\nother,touch ran.other\n");
    let args = ["run", "--lock", "run.lock", "hold.csv"];
    let live = Live::start(t.cmd(&args), &args);
    t.wait_for_file("started.holder");
    let holder = live.pid();
    // The lock file's content never changes (the holder's pid comes from /proc/locks).
    assert_eq!(t.read("run.lock"), "");

    let t0 = Instant::now();
    let r = t.run(&["run", "--lock", "run.lock", "other.csv"]);
    r.code(75);
    assert!(t0.elapsed() < Duration::from_secs(30), "{:?}", t0.elapsed());
    assert_eq!(
        r.stderr,
        format!("batchrun: lock run.lock is held by another run (pid {holder}); exiting\n")
    );
    assert!(
        !t.path("ran.other").exists(),
        "the locked-out run ran a job"
    );
    assert_eq!(t.read("run.lock"), "");

    t.write("release", "");
    live.finish().code(0);
    t.run(&["run", "--lock", "run.lock", "other.csv"]).code(0);
    assert!(t.path("ran.other").exists());
    t.assert_nothing_left();
}

#[test]
fn lock_left_by_a_killed_batchrun_does_not_block_the_next_run() {
    let t = TestEnv::new();
    t.write(
        "hold.csv",
        "id,shell,command\nholder,yes,\"touch started.holder; while [ ! -e release ]; do sleep 0.02; done\"\n",
    );
    t.write("other.csv", "id,command\nother,touch ran.other\n");
    let args = ["run", "--lock", "run.lock", "hold.csv"];
    let live = Live::start(killable(&t, &args), &args);
    t.wait_for_file("started.holder");
    kill(live.pid(), libc::SIGKILL);
    assert_eq!(live.finish().code, None);

    // The killed run's job still runs: the lock is not inherited by jobs.
    assert!(!t.live_processes().is_empty());
    let args = ["run", "--lock", "run.lock", "other.csv"];
    let child = t.spawn(&args);
    Run::wait(child, &args).code(0);
    assert!(t.path("ran.other").exists());
    assert_eq!(t.read("run.lock"), "", "the lock file is never written");

    t.write("release", "");
    wait_nothing_left(&t);
}

#[test]
fn quiet_prints_nothing_when_all_succeed_and_the_summary_when_one_fails() {
    let t = TestEnv::new();
    let ok = "id,shell,command\n\
              a,yes,echo out-a; echo err-a >&2\n\
              b,yes,echo out-b; echo err-b >&2\n";
    t.write("ok.csv", ok);
    let r = t.run(&["run", "-q", "ok.csv"]);
    r.code(0);
    assert_eq!(r.stdout, "");
    assert_eq!(r.stderr, "");
    // The jobs did run (and print).
    t.run(&["run", "ok.csv"]).code(0).stdout_has("out-a");

    t.write("bad.csv", format!("{ok}bad,yes,\"echo why >&2; exit 5\"\n"));
    let r = t.run(&["run", "-q", "bad.csv"]);
    r.code(1)
        .stderr_has("why\nbatchrun: failed bad: exit status 5\n")
        .stderr_has("batchrun: 3 jobs in ")
        .stderr_has("2 succeeded, 1 failed; failed");
    // The failing job's output is printed; the summary does not repeat its tail.
    assert_eq!(r.stderr.matches("why").count(), 1, "{}", r.stderr);
    // Succeeding jobs stay quiet (README: -q hides their output).
    assert!(!r.stdout.contains("out-a"), "{}", r.stdout);
    assert!(!r.stderr.contains("err-a"), "{}", r.stderr);
}

#[test]
fn quiet_stays_silent_when_a_job_succeeds_on_retry() {
    let t = TestEnv::new();
    t.write(
        "m.csv",
        "id,shell,retries,command\n\
         b,yes,1,\"echo $BATCHRUN_ATTEMPT >> b.txt; echo out-b; echo err-b >&2; [ $(wc -l < b.txt) -ge 2 ]\"\n",
    );
    let r = t.run(&["run", "-q", "--retry-delay", "10ms", "m.csv"]);
    r.code(0);
    // b failed once and was retried: every job succeeded, so nothing is printed.
    assert_eq!(t.read("b.txt"), "1\n2\n");
    assert_eq!(r.stdout, "");
    assert_eq!(r.stderr, "");
}

/// Parses a JUnit file with Python's XML parser; returns the root's and the suite's attributes
/// and, per testcase, its name and its `failure` / `skipped` element.
fn parse_junit(t: &TestEnv, rel: &str) -> serde_json::Value {
    const SCRIPT: &str = r#"
import json, sys, xml.etree.ElementTree as E
root = E.parse(sys.argv[1]).getroot()
suites = root.findall("testsuite")
assert root.tag == "testsuites" and len(suites) == 1, (root.tag, len(suites))
def case(c):
    f, s = c.find("failure"), c.find("skipped")
    return {
        "name": c.get("name"),
        "failure": None if f is None else {"message": f.get("message"), "type": f.get("type"), "text": f.text or ""},
        "skipped": None if s is None else s.get("message"),
    }
print(json.dumps({"root": root.attrib, "suite": suites[0].attrib,
                  "cases": [case(c) for c in suites[0].findall("testcase")]}))
"#;
    let out = Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(t.path(rel))
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{rel} does not parse as JUnit XML: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        t.read(rel)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A manifest with every kind of failure, and a success.
const MIXED: &str = "id,shell,after,timeout,command\n\
                     ok,no,,,true\n\
                     fail,yes,,,\"echo 'oops <&> \"\"q\"\"' >&2; exit 2\"\n\
                     to,no,,200ms,sleep 30\n\
                     missing,no,,,no-such-program-xyz\n\
                     skip,no,fail,,true\n";

#[test]
fn junit_markdown_and_json_reports_at_once() {
    let t = TestEnv::new();
    t.write("m.csv", MIXED);
    let r = t.run(&[
        "run", "-j", "2", "--grace", "1s", "--report", "r.xml", "--report", "r.md", "--report",
        "r.json", "m.csv",
    ]);
    r.code(1);

    let x = parse_junit(&t, "r.xml");
    for attrs in [&x["root"], &x["suite"]] {
        assert_eq!(attrs["tests"], "5", "{attrs}");
        assert_eq!(attrs["failures"], "3", "{attrs}");
        assert_eq!(attrs["skipped"], "1", "{attrs}");
        assert_eq!(attrs["errors"], "0", "{attrs}");
    }
    let cases = x["cases"].as_array().unwrap();
    let names: Vec<&str> = cases.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["ok", "fail", "to", "missing", "skip"]);
    assert!(cases[0]["failure"].is_null() && cases[0]["skipped"].is_null());
    assert_eq!(
        cases[1]["failure"],
        serde_json::json!({"message": "exit status 2", "type": "failed", "text": "oops <&> \"q\"\n"})
    );
    assert_eq!(cases[2]["failure"]["type"], "timed_out");
    assert_eq!(cases[2]["failure"]["message"], "timed out after 200ms");
    assert_eq!(cases[3]["failure"]["type"], "start_failed");
    assert!(cases[4]["failure"].is_null());
    assert_eq!(cases[4]["skipped"], "dependency 'fail' failed");
    let failure_elements = cases.iter().filter(|c| !c["failure"].is_null()).count();
    let skipped_elements = cases.iter().filter(|c| !c["skipped"].is_null()).count();
    assert_eq!((failure_elements, skipped_elements), (3, 1));

    let md = t.read("r.md");
    for part in [
        "# batchrun report: m.csv",
        "**Outcome: failed** (exit code 1)",
        "| succeeded | 1 |",
        "| failed | 1 |",
        "| timed_out | 1 |",
        "| start_failed | 1 |",
        "| skipped | 1 |",
        "| **total** | **5** |",
        "## Failures",
        "### `fail` — failed\n\nexit status 2\n",
        "oops <&> \"q\"",
        "### `to` — timed_out\n\ntimed out after 200ms\n",
        "### `missing` — start_failed\n\ncannot start 'no-such-program-xyz'",
        "### `skip` — skipped\n\ndependency 'fail' failed\n",
    ] {
        assert!(md.contains(part), "r.md lacks {part:?}:\n{md}");
    }
    // Every failure, and only failures, under "Failures".
    assert_eq!(md.matches("\n### `").count(), 4, "{md}");
    assert!(!md.contains("### `ok`"), "{md}");

    let rep = t.json("r.json");
    assert_eq!(rep["counts"]["total"], 5);
    assert_eq!(rep["counts"]["failed"], 1);
    assert_eq!(rep["counts"]["skipped"], 1);
    t.assert_nothing_left();
}

#[test]
fn junit_counts_cancelled_and_not_started_jobs() {
    let t = TestEnv::new();
    t.write(
        "m.csv",
        "id,command,after\nok,true,\nslow,sleep 300,ok\nnever,true,slow\n",
    );
    let r = t.run(&[
        "run",
        "--deadline",
        "2s",
        "--grace",
        "1s",
        "--report",
        "r.xml",
        "m.csv",
    ]);
    r.code(124);
    let x = parse_junit(&t, "r.xml");
    let cases = x["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 3);
    assert!(cases[0]["failure"].is_null() && cases[0]["skipped"].is_null());
    // README: cancelled jobs are <failure>s, not-started ones <skipped/>.
    assert_eq!(cases[1]["failure"]["type"], "cancelled");
    assert!(!cases[2]["skipped"].is_null(), "{}", cases[2]);
    assert_eq!(x["suite"]["tests"], "3");
    assert_eq!(x["suite"]["failures"], "1");
    assert_eq!(x["suite"]["skipped"], "1");
    t.assert_nothing_left();
}

#[test]
fn check_prints_the_plan_and_dry_run_the_commands_in_start_order() {
    let t = TestEnv::new();
    t.write(
        "m.csv",
        "id,shell,timeout,retries,group,after,command\n\
         summary,yes,5m,,,load-eu load-us,touch ran-summary && echo done\n\
         load-eu,no,30s,2,db,,touch ran-load-eu\n\
         load-us,no,,,db,,touch 'ran load us'\n\
         other,no,,,,,touch ran-other\n",
    );
    let r = t.run(&["check", "--timeout", "1m", "--limit", "db=1", "m.csv"]);
    r.code(0);
    assert_eq!(
        r.stdout,
        "ID       COMMAND                         TIMEOUT  RETRIES  GROUP  AFTER\n\
         load-eu  touch ran-load-eu               30s      2        db     -\n\
         load-us  touch 'ran load us'             1m       0        db     -\n\
         summary  touch ran-summary && echo done  5m       0        -      load-eu load-us\n\
         other    touch ran-other                 1m       0        -      -\n\
         \n\
         4 jobs in m.csv; start order shown (manifest order, as far as `after` allows)\n\
         group db: 2 jobs, at most 1 at once\n"
    );
    assert_eq!(r.stderr, "");

    let r = t.run(&["run", "--dry-run", "--report", "r.json", "m.csv"]);
    r.code(0);
    assert_eq!(
        r.stdout,
        "touch ran-load-eu\ntouch 'ran load us'\ntouch ran-summary && echo done\ntouch ran-other\n"
    );
    for f in [
        "ran-load-eu",
        "ran load us",
        "ran-summary",
        "ran-other",
        "r.json",
    ] {
        assert!(!t.path(f).exists(), "{f} exists after check/--dry-run");
    }

    // An invalid manifest: check says so and exits 2.
    t.write("bad.csv", "id,command,timeout\na,true,soon\n");
    t.run(&["check", "bad.csv"])
        .code(2)
        .stderr_has("bad.csv:2: column 'timeout': 'soon' is not a duration");
}
