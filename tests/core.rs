//! The core: manifest validation, statuses, exit codes, output, reports, signals.

use std::os::unix::process::CommandExt;

use crate::util::*;

/// A shell job body that marks itself started, then waits until the test creates `release`.
const WAIT_RELEASE: &str =
    "touch started.$BATCHRUN_JOB_ID; while [ ! -e release ]; do sleep 0.02; done";

#[test]
fn all_succeed_exits_0() {
    let t = TestEnv::new();
    t.write("m.csv", "id,command\na,true\nb,echo hi\n");
    let r = t.run(&["run", "m.csv"]);
    r.code(0);
    assert_eq!(r.stdout, "hi\n");
    r.stderr_has("2 jobs in")
        .stderr_has("2 succeeded; succeeded");
}

#[test]
fn every_status_exit_code_and_json_report() {
    let t = TestEnv::new();
    t.write(
        "m.csv",
        "id,command,timeout,cwd\n\
         ok,echo out,,\n\
         fail,\"sh -c 'echo bad input >&2; exit 3'\",,\n\
         slow,sleep 30,200ms,\n\
         missing,no-such-program-xyz,,\n\
         badcwd,true,,no/such/dir\n\
         sig,\"sh -c 'kill -USR1 $$'\",,\n",
    );
    let r = t.run(&[
        "run", "-j", "2", "--grace", "1s", "--report", "r.json", "m.csv",
    ]);
    r.code(1);
    let rep = t.json("r.json");
    assert_eq!(rep["schema"], 1);
    assert_eq!(rep["manifest"], "m.csv");
    assert_eq!(rep["workers"], 2);
    assert_eq!(rep["outcome"], "failed");
    assert_eq!(rep["exit_code"], 1);
    assert_eq!(
        rep["counts"],
        serde_json::json!({"total": 6, "succeeded": 1, "failed": 2, "timed_out": 1,
            "start_failed": 2, "skipped": 0, "cancelled": 0, "not_started": 0, "resumed": 0})
    );
    let ids: Vec<&str> = rep["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["ok", "fail", "slow", "missing", "badcwd", "sig"]);

    let ok = job(&rep, "ok");
    assert_eq!(ok["status"], "succeeded");
    assert_eq!(ok["exit_code"], 0);
    assert_eq!(ok["attempts"], 1);
    assert!(ok["error"].is_null() && ok["stderr_tail"].is_null());

    let fail = job(&rep, "fail");
    assert_eq!(fail["status"], "failed");
    assert_eq!(fail["exit_code"], 3);
    assert_eq!(fail["error"], "exit status 3");
    assert_eq!(fail["stderr_tail"], "bad input\n");

    let slow = job(&rep, "slow");
    assert_eq!(slow["status"], "timed_out");
    assert_eq!(slow["signal"], 15);
    assert_eq!(slow["error"], "timed out after 200ms");
    assert!(slow["duration_ms"].as_u64().unwrap() >= 200);

    let missing = job(&rep, "missing");
    assert_eq!(missing["status"], "start_failed");
    assert!(missing["error"]
        .as_str()
        .unwrap()
        .contains("cannot start 'no-such-program-xyz'"));
    assert_eq!(
        job(&rep, "badcwd")["error"],
        "cannot start: working directory no/such/dir does not exist"
    );

    let sig = job(&rep, "sig");
    assert_eq!(sig["status"], "failed");
    assert_eq!(sig["signal"], 10);
    assert!(sig["exit_code"].is_null());
    assert_eq!(sig["error"], "killed by signal 10 (SIGUSR1)");

    // The human summary lists every failure, with its stderr tail.
    r.stderr_has("batchrun: failed fail: exit status 3")
        .stderr_has("    | bad input")
        .stderr_has("batchrun: timed_out slow: timed out after 200ms")
        .stderr_has("batchrun: start_failed missing: cannot start")
        .stderr_has("batchrun: start_failed badcwd:")
        .stderr_has("batchrun: failed sig: killed by signal 10")
        .stderr_has("6 jobs in");
    assert_eq!(r.stdout, "out\n");
    t.assert_nothing_left();
}

#[test]
fn every_manifest_problem_is_reported_in_one_pass_and_nothing_runs() {
    let t = TestEnv::new();
    t.write(
        "bad.csv",
        "id,command,timeout,shell,retries,after\n\
         a,touch ran,5x,,,\n\
         a,touch ran,,,,\n\
         b,touch ran,,maybe,,\n\
         c,touch ran,,,-1,\n\
         d,touch {nope},,,,\n\
         e,,,,,\n\
         f,touch ran,,,,zz\n\
         g,touch ran,,,,h\n\
         h,touch ran,,,,g\n\
         i,touch ran\n\
         j k,touch ran,,,,\n\
         ok,touch ran,,,,\n",
    );
    let r = t.run(&["run", "bad.csv"]);
    r.code(2);
    for line in [
        "bad.csv:2: column 'timeout': '5x' is not a duration (expected a duration such as 250ms, 30s, 5m or 1h30m)",
        "bad.csv:3: column 'id': duplicate id 'a' (expected a unique id; first used on line 2)",
        "bad.csv:4: column 'shell': 'maybe' is not a boolean (expected true/false, yes/no, 1/0 or empty)",
        "bad.csv:5: column 'retries': '-1' is not a whole number (expected 0, 1, 2, …)",
        "bad.csv:6: column 'command': placeholder {nope} names no column (expected a column, nearest first: {id}, {after}, {shell}, {command}, {timeout}, {retries}; or {{nope}} for literal braces)",
        "bad.csv:7: column 'command': empty command (expected a command line)",
        "bad.csv:8: column 'after': unknown id 'zz' (expected the id of a job in this manifest)",
        "bad.csv:9: column 'after': dependency cycle: g -> h -> g (expected `after` to form no cycle)",
        "bad.csv:11: 2 fields (expected 6, one per header column: id, command, timeout, shell, retries, after)",
        "bad.csv:12: column 'id': id 'j k' contains ' ' (expected letters, digits and . _ - : @ +)",
        "batchrun: 10 problems in bad.csv; nothing was run",
    ] {
        r.stderr_has(line);
    }
    assert_eq!(r.stderr.lines().count(), 11, "{}", r.stderr);
    assert_eq!(r.stdout, "");
    assert!(
        !t.path("ran").exists(),
        "a job ran despite the invalid manifest"
    );
}

#[test]
fn malformed_csv_invalid_utf8_and_missing_command_column() {
    let t = TestEnv::new();
    t.write("q.csv", "id,command\na,true\nb,\"echo unclosed\nc,true\n");
    t.run(&["check", "q.csv"])
        .code(2)
        .stderr_has("q.csv:3: unbalanced quote: a quoted field opened here never closes");
    t.write("u.csv", b"id,command\na,echo \xff\xfe\n".as_slice());
    t.run(&["run", "u.csv"]).code(2).stderr_has(
        "u.csv:2: column 'command': invalid UTF-8 at byte 6 of the field (expected UTF-8 text)",
    );
    t.write("n.csv", "id,cmd\na,true\n");
    t.run(&["run", "n.csv"]).code(2).stderr_has(
        "n.csv:1: no 'command' column (expected a 'command' column, or the --command option)",
    );
    t.run(&["run", "absent.csv"])
        .code(2)
        .stderr_has("cannot read manifest absent.csv");
}

#[test]
fn bad_options_are_usage_errors() {
    let t = TestEnv::new();
    t.write("m.csv", "id,command,group\na,touch ran,db\n");
    t.run(&["run", "--timeout", "soon", "--grace", "x", "m.csv"])
        .code(2)
        .stderr_has("--timeout: 'soon' is not a duration")
        .stderr_has("--grace: 'x' is not a duration");
    t.run(&["run", "--limit", "web=2", "m.csv"])
        .code(2)
        .stderr_has(
            "--limit: web=2: no job is in group 'web' (expected one of the manifest's groups: db)",
        );
    t.run(&["run", "--frobnicate", "m.csv"]).code(2);
    t.run(&["run", "--report", "r.txt", "m.csv"])
        .code(2)
        .stderr_has("unknown format");
    assert!(!t.path("ran").exists());
    let r = t.run(&["--version"]);
    r.code(0).stdout_has("batchrun 0.1.0");
}

#[test]
fn zero_jobs_comments_bom_crlf_tsv_and_stdin() {
    let t = TestEnv::new();
    t.write("empty.csv", "id,command\n# nothing yet\n\n");
    t.run(&["run", "empty.csv"]).code(0).stderr_has("0 jobs in");
    t.write(
        "w.csv",
        "\u{feff}id,command\r\n# comment, with a comma\r\n\r\nx,echo crlf\r\n",
    );
    assert_eq!(t.run(&["run", "w.csv"]).code(0).stdout, "crlf\n");
    t.write("t.tsv", "id\tcommand\nx\techo 'a, b' \"q\"\n");
    assert_eq!(t.run(&["run", "t.tsv"]).code(0).stdout, "a, b q\n");
    let r = t
        .cmd(&["run", "-"])
        .stdin(std::fs::File::open(t.write("s.csv", "command\necho from-stdin\n")).unwrap())
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&r.stdout), "from-stdin\n");
}

#[test]
fn placeholders_cannot_inject_in_either_mode() {
    let t = TestEnv::new();
    t.write(
        "m.csv",
        "id,file,shell,command\n\
         direct,x; touch pwned1 $(touch pwned2),no,touch {file}\n\
         viashell,$(touch pwned3); touch pwned4 `touch pwned5` 'q,yes,printf '%s\\n' {file} > out-{id}.txt\n",
    );
    t.run(&["run", "m.csv"]).code(0);
    assert!(t.path("x; touch pwned1 $(touch pwned2)").exists());
    assert_eq!(
        t.read("out-viashell.txt"),
        "$(touch pwned3); touch pwned4 `touch pwned5` 'q\n"
    );
    for n in 1..=5 {
        assert!(
            !t.path(&format!("pwned{n}")).exists(),
            "pwned{n} was created"
        );
    }
}

#[test]
fn job_environment_cwd_env_and_stdin() {
    let t = TestEnv::new();
    std::fs::create_dir(t.path("sub")).unwrap();
    t.write(
        "m.csv",
        "id,month,cwd,env,shell,command\n\
         r-1,2026-11,sub,MONTH={month} 'TITLE=Sales report',yes,\"echo $BATCHRUN_JOB_ID $BATCHRUN_ATTEMPT $MONTH \"\"[$TITLE]\"\" $(basename $PWD); cat\"\n",
    );
    let r = t.run(&["run", "m.csv"]);
    r.code(0);
    // stdin is /dev/null: `cat` ends at once with nothing.
    assert_eq!(r.stdout, "r-1 1 2026-11 [Sales report] sub\n");
}

#[test]
fn grouped_output_is_never_interleaved() {
    let t = TestEnv::new();
    // Four jobs print 2000 lines each in small writes, at the same time.
    let mut m = String::from("id,shell,command\n");
    for id in ["a", "b", "c", "d"] {
        m.push_str(&format!(
            "{id},yes,\"i=0; while [ $i -lt 2000 ]; do echo {id}$i; echo {id}err$i >&2; i=$((i+1)); done\"\n"
        ));
    }
    t.write("m.csv", m);
    let r = t.run(&["run", "-j", "4", "m.csv"]);
    r.code(0);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 8000);
    // Each job's lines form one contiguous block, in order.
    for block in lines.chunks(2000) {
        let id = &block[0][..1];
        for (i, l) in block.iter().enumerate() {
            assert_eq!(*l, format!("{id}{i}"));
        }
    }
    let err_lines = r.stderr.lines().filter(|l| l.contains("err")).count();
    assert_eq!(err_lines, 8000);
}

#[test]
fn tag_none_and_output_dir() {
    let t = TestEnv::new();
    t.write(
        "m.csv",
        "id,shell,command\nj1,yes,echo one; echo two; echo warn >&2\nj2,yes,printf 'no newline'\n",
    );
    let r = t.run(&["run", "-j", "1", "--output", "tag", "m.csv"]);
    r.code(0).stderr_has("[j1] warn");
    assert_eq!(r.stdout, "[j1] one\n[j1] two\n[j2] no newline\n");
    let r = t.run(&["run", "--output", "none", "--output-dir", "logs", "m.csv"]);
    r.code(0);
    assert_eq!(r.stdout, "");
    assert_eq!(t.read("logs/j1.out"), "one\ntwo\n");
    assert_eq!(t.read("logs/j1.err"), "warn\n");
    assert_eq!(t.read("logs/j2.out"), "no newline");
}

#[test]
fn a_job_writing_200_mb_neither_blocks_nor_bloats() {
    let t = TestEnv::new();
    t.write(
        "m.csv",
        "id,command\nflood,head -c 200000000 /dev/zero\nsmall,echo small\n",
    );
    let r = t.run(&["run", "-j", "2", "--output-dir", "out", "m.csv"]);
    r.code(0);
    assert_eq!(r.stdout.len(), 200_000_000 + "small\n".len());
    assert_eq!(
        std::fs::metadata(t.path("out/flood.out")).unwrap().len(),
        200_000_000
    );
}

#[test]
fn timeout_kills_a_job_that_ignores_sigterm_and_its_background_grandchild() {
    let t = TestEnv::new();
    t.write(
        "m.csv",
        "id,timeout,shell,command\n\
         stubborn,300ms,yes,\"trap '' TERM; (trap '' TERM; touch grandchild-up; sleep 300) & while true; do sleep 1; done\"\n",
    );
    let r = t.run(&["run", "--grace", "500ms", "--report", "r.json", "m.csv"]);
    r.code(1)
        .stderr_has("timed_out stubborn: timed out after 300ms");
    let rep = t.json("r.json");
    let j = job(&rep, "stubborn");
    assert_eq!(j["status"], "timed_out");
    assert_eq!(
        j["signal"], 9,
        "ignored SIGTERM, so SIGKILL after the grace time"
    );
    // Terminating a job terminates its whole group: nothing counts as left behind.
    assert_eq!(j["leaked_processes"], 0, "{j}");
    assert!(t.path("grandchild-up").exists());
    t.assert_nothing_left();
}

#[test]
fn background_grandchild_of_a_finished_job_is_terminated_and_reported() {
    let t = TestEnv::new();
    t.write(
        "m.csv",
        "id,shell,command\nleaky,yes,\"sleep 300 & echo $! > bg.pid; echo done\"\n",
    );
    let r = t.run(&["run", "--grace", "1s", "--report", "r.json", "m.csv"]);
    r.code(0);
    let rep = t.json("r.json");
    let j = job(&rep, "leaky");
    assert_eq!(j["status"], "succeeded");
    assert_eq!(j["leaked_processes"], 1);
    assert_eq!(
        j["error"],
        "1 leftover process in its process group terminated"
    );
    let pid: i32 = t.read("bg.pid").trim().parse().unwrap();
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    t.assert_nothing_left();
}

/// Manifest of `n` jobs that each wait for `release`.
fn waiting_jobs(t: &TestEnv, n: usize) {
    let mut m = String::from("id,shell,command\n");
    for i in 1..=n {
        m.push_str(&format!("w{i},yes,{WAIT_RELEASE}\n"));
    }
    t.write("m.csv", m);
}

fn first_signal_drains(signal: libc::c_int) {
    let t = TestEnv::new();
    waiting_jobs(&t, 5);
    let args = ["run", "-j", "2", "--report", "r.json", "m.csv"];
    let mut live = Live::start(t.cmd(&args), &args);
    t.wait_for_files("started.", 2);
    kill(live.pid(), signal);
    live.wait_stderr(
        "waiting for 2 running jobs to finish (send the signal again to terminate them)",
    );
    t.write("release", "");
    let r = live.finish();
    r.code(130);
    let rep = t.json("r.json");
    assert_eq!(rep["outcome"], "interrupted");
    assert_eq!(rep["exit_code"], 130);
    assert_eq!(job_status(&rep, "w1"), "succeeded");
    assert_eq!(job_status(&rep, "w2"), "succeeded");
    for id in ["w3", "w4", "w5"] {
        assert_eq!(job_status(&rep, id), "not_started");
        assert!(!t.path(&format!("started.{id}")).exists());
    }
    r.stderr_has("3 jobs not started");
    t.assert_nothing_left();
}

#[test]
fn first_sigint_lets_running_jobs_finish_and_starts_nothing_new() {
    first_signal_drains(libc::SIGINT);
}

#[test]
fn first_sigterm_lets_running_jobs_finish_and_starts_nothing_new() {
    first_signal_drains(libc::SIGTERM);
}

fn second_signal_terminates(signal: libc::c_int) {
    let t = TestEnv::new();
    waiting_jobs(&t, 3);
    let args = [
        "run", "-j", "2", "--grace", "1s", "--report", "r.json", "m.csv",
    ];
    let mut live = Live::start(t.cmd(&args), &args);
    t.wait_for_files("started.", 2);
    kill(live.pid(), signal);
    live.wait_stderr("waiting for 2 running jobs");
    kill(live.pid(), signal);
    live.wait_stderr("second signal: terminating 2 running jobs");
    let r = live.finish();
    r.code(130);
    let rep = t.json("r.json");
    assert_eq!(rep["outcome"], "interrupted");
    assert_eq!(job_status(&rep, "w1"), "cancelled");
    assert_eq!(job_status(&rep, "w2"), "cancelled");
    assert_eq!(job_status(&rep, "w3"), "not_started");
    assert_eq!(job(&rep, "w1")["signal"], 15);
    t.assert_nothing_left();
}

#[test]
fn second_sigint_terminates_running_jobs() {
    second_signal_terminates(libc::SIGINT);
}

#[test]
fn second_sigterm_terminates_running_jobs() {
    second_signal_terminates(libc::SIGTERM);
}

#[test]
fn ctrl_c_to_the_terminal_process_group_reaches_only_batchrun() {
    let t = TestEnv::new();
    waiting_jobs(&t, 2);
    let args = ["run", "-j", "2", "--report", "r.json", "m.csv"];
    let mut cmd = t.cmd(&args);
    cmd.process_group(0); // batchrun leads a group, as a shell's foreground job does
    let mut live = Live::start(cmd, &args);
    t.wait_for_files("started.", 2);
    // What the terminal does on Ctrl+C: SIGINT to the whole foreground process group.
    // SAFETY: plain system call.
    assert_eq!(unsafe { libc::kill(-(live.pid() as i32), libc::SIGINT) }, 0);
    live.wait_stderr("waiting for 2 running jobs");
    t.write("release", "");
    let r = live.finish();
    r.code(130);
    let rep = t.json("r.json");
    // The jobs run in their own process groups: the Ctrl+C did not hit them.
    assert_eq!(job_status(&rep, "w1"), "succeeded");
    assert_eq!(job_status(&rep, "w2"), "succeeded");
    t.assert_nothing_left();
}

#[test]
fn unwritable_report_or_joblog_runs_nothing_and_exits_3() {
    let t = TestEnv::new();
    t.write("m.csv", "id,command\na,touch ran\n");
    t.run(&["run", "--report", "no/such/dir/r.json", "m.csv"])
        .code(3)
        .stderr_has("cannot write report no/such/dir/r.json");
    t.run(&["run", "--joblog", "no/such/dir/log.csv", "m.csv"])
        .code(3)
        .stderr_has("cannot write joblog no/such/dir/log.csv");
    t.write("afile", "");
    t.run(&["run", "--output-dir", "afile/x", "m.csv"])
        .code(3)
        .stderr_has("cannot write output directory afile/x");
    assert!(!t.path("ran").exists());
}

#[test]
fn change_directory_first_and_dry_run() {
    let t = TestEnv::new();
    t.write(
        "proj/m.csv",
        "id,file,shell,command\na,x y.txt,no,touch {file}\nb,q'r,yes,cat {file}\n",
    );
    let r = t.run(&["-C", "proj", "run", "--dry-run", "m.csv"]);
    r.code(0);
    assert_eq!(r.stdout, "touch 'x y.txt'\ncat 'q'\\''r'\n");
    assert!(!t.path("proj/x y.txt").exists());
    t.run(&["-C", "proj", "run", "-j", "1", "m.csv"]).code(1);
    assert!(t.path("proj/x y.txt").exists());
}

#[test]
fn first_sighup_lets_running_jobs_finish_and_starts_nothing_new() {
    first_signal_drains(libc::SIGHUP);
}

#[test]
fn progress_asked_for_without_a_terminal_prints_plain_lines() {
    let t = TestEnv::new();
    t.write("m.csv", "id,command\nslow,sleep 1.1\nquick,true\n");
    let r = t.run(&["run", "-j", "1", "--progress", "m.csv"]);
    r.code(0)
        .stderr_has("batchrun: progress: 1/2 done, 0 failed, ");
    // No terminal escape sequences in a log file.
    assert!(!r.stderr.contains('\u{1b}'), "{:?}", r.stderr);
    let r = t.run(&["run", "-j", "1", "m.csv"]);
    assert!(!r.stderr.contains("progress:"), "{}", r.stderr);
}
