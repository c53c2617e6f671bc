//! For operators: per-job resource use and commands in the report, `--on-finish`, live status
//! (`SIGUSR1`, `--heartbeat`, `--slow`), completions and the man page, and the line that says where
//! the reports went.

use std::time::Instant;

use crate::util::*;

/// A job that writes `started.ID` and then waits until the test writes `release`.
const WAIT_RELEASE: &str =
    "touch started.$BATCHRUN_JOB_ID; while [ ! -e release ]; do sleep 0.02; done";

#[test]
fn report_has_each_jobs_command_memory_and_cpu() {
    let t = TestEnv::new();
    // `tail` keeps the last ten lines of its input, here all 60 MiB of one line, in memory it
    // has written to; the shell waits for it, so its peak counts in the job's rusage.
    t.write(
        "m.csv",
        "id,command,after\n\
         mem,sh -c 'head -c 60M /dev/zero | tail > /dev/null',\n\
         cpu,sh -c 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done',\n\
         bad,false,\n\
         never,true,bad\n",
    );
    t.run(&["run", "-j", "2", "--report", "r.json", "m.csv"])
        .code(1);
    let rep = t.json("r.json");
    let mem = job(&rep, "mem");
    let rss = mem["max_rss_kib"].as_u64().unwrap();
    assert!(rss >= 55 * 1024, "max_rss_kib {rss} < 55 MiB: {mem}");
    assert_eq!(
        mem["command"],
        "sh -c 'head -c 60M /dev/zero | tail > /dev/null'"
    );
    let cpu = job(&rep, "cpu");
    assert!(cpu["user_ms"].as_u64().unwrap() > 0, "{cpu}");
    assert!(cpu["system_ms"].is_u64(), "{cpu}");
    assert!(cpu["max_rss_kib"].as_u64().unwrap() < 55 * 1024, "{cpu}");
    let never = job(&rep, "never");
    assert_eq!(never["status"], "skipped");
    assert_eq!(never["command"], "true");
    for field in ["max_rss_kib", "user_ms", "system_ms"] {
        assert!(
            never[field].is_null(),
            "{field} of a job that never ran: {never}"
        );
        assert!(
            job(&rep, "bad")[field].is_u64(),
            "{field} of a job that ran"
        );
    }
    // The command is what --dry-run prints.
    let dry = t.run(&["run", "--dry-run", "m.csv"]);
    dry.code(0).stdout_has(cpu["command"].as_str().unwrap());
}

#[test]
fn markdown_report_lists_top_jobs_by_cpu_and_memory() {
    let t = TestEnv::new();
    t.write(
        "m.csv",
        "id,command\n\
         mem,sh -c 'head -c 60M /dev/zero | tail > /dev/null'\n\
         small,true\n",
    );
    t.run(&["run", "-j", "1", "--report", "r.md", "m.csv"])
        .code(0);
    let md = t.read("r.md");
    let cpu = md.find("## Most CPU").expect("CPU section");
    let mem = md.find("## Most memory").expect("memory section");
    // The memory table lists the 60 MiB job first.
    let first_row = md[mem..].lines().find(|l| l.starts_with("| `")).unwrap();
    assert!(
        first_row.starts_with("| `mem` |") && first_row.contains("MiB"),
        "{md}"
    );
    assert!(cpu < mem, "{md}");
}

#[test]
fn on_finish_sees_the_exit_code_outcome_counts_and_report() {
    let t = TestEnv::new();
    t.write("m.csv", "id,command\nok,true\nbad,false\n");
    let hook = "test -s \"$BATCHRUN_REPORT\" && written=yes; \
                printf '%s %s %s %s %s %s' \"$BATCHRUN_EXIT_CODE\" \"$BATCHRUN_OUTCOME\" \
                \"$BATCHRUN_TOTAL\" \"$BATCHRUN_SUCCEEDED\" \"$BATCHRUN_FAILED\" \"$written\" > hook.txt; \
                printf '%s' \"$BATCHRUN_REPORT\" > report-path.txt; \
                cat > stdin.txt";
    t.run(&[
        "run",
        "--report",
        "r.md",
        "--report",
        "out.json",
        "--on-finish",
        hook,
        "m.csv",
    ])
    .code(1);
    assert_eq!(t.read("hook.txt"), "1 failed 2 1 1 yes");
    assert_eq!(
        t.read("report-path.txt"),
        t.path("out.json").to_string_lossy()
    );
    assert_eq!(t.read("stdin.txt"), "", "stdin is /dev/null");
}

#[test]
fn a_failing_or_hanging_hook_does_not_change_the_exit_code() {
    let t = TestEnv::new();
    t.write("m.csv", "id,command\nok,true\n");
    t.run(&["run", "--on-finish", "exit 7", "m.csv"])
        .code(0)
        .stderr_has("--on-finish: the command exited with status 7");
    t.write("f.csv", "id,command\nbad,false\n");
    t.run(&["run", "--on-finish", "exit 0", "f.csv"]).code(1);
    // A hook that hangs, with a background child, is killed at its timeout, group and all.
    let r = t.run(&[
        "run",
        "--on-finish",
        "sleep 300 & sleep 300",
        "--on-finish-timeout",
        "300ms",
        "m.csv",
    ]);
    r.code(0)
        .stderr_has("did not finish within 300ms and was killed");
    t.assert_nothing_left();
}

#[test]
fn on_finish_runs_after_an_interruption() {
    let t = TestEnv::new();
    t.write(
        "m.csv",
        format!("id,shell,command\nw1,yes,{WAIT_RELEASE}\n"),
    );
    let args = [
        "run",
        "--report",
        "r.json",
        "--on-finish",
        "echo \"$BATCHRUN_EXIT_CODE $BATCHRUN_OUTCOME $BATCHRUN_CANCELLED\" > hook.txt",
        "m.csv",
    ];
    let mut live = Live::start(t.cmd(&args), &args);
    t.wait_for_file("started.w1");
    kill(live.pid(), libc::SIGINT);
    live.wait_stderr("waiting for 1 running job");
    kill(live.pid(), libc::SIGINT);
    live.finish().code(130);
    assert_eq!(t.read("hook.txt"), "130 interrupted 1\n");
    assert_eq!(job_status(&t.json("r.json"), "w1"), "cancelled");
    t.assert_nothing_left();
}

#[test]
fn sigusr1_lists_the_running_jobs_without_disturbing_the_run() {
    let t = TestEnv::new();
    t.write(
        "m.csv",
        format!("id,shell,command\ndone-first,no,true\nlong-one,yes,{WAIT_RELEASE}\n"),
    );
    let args = ["run", "-j", "1", "--report", "r.json", "m.csv"];
    let mut live = Live::start(t.cmd(&args), &args);
    t.wait_for_file("started.long-one");
    // The job can write its marker a moment before its worker puts it on the board (just
    // after the spawn returns): ask again until the status shows it running.
    let end = Instant::now() + PATIENCE;
    loop {
        kill(live.pid(), libc::SIGUSR1);
        let line = live.next_stderr_with("status: ");
        if line.contains("status: 1/2 done (1 succeeded), 1 running") {
            break;
        }
        assert!(
            line.contains("status: 1/2 done (1 succeeded), 0 running"),
            "{line}"
        );
        assert!(Instant::now() < end, "never shown running: {line}");
    }
    live.wait_stderr("running: long-one (pid ");
    // A second request, after the first was answered, is answered too.
    kill(live.pid(), libc::SIGUSR1);
    live.wait_stderr("running: long-one (pid ");
    t.write("release", "");
    live.finish().code(0);
    assert_eq!(job_status(&t.json("r.json"), "long-one"), "succeeded");
    t.assert_nothing_left();
}

#[test]
fn heartbeat_prints_the_running_jobs() {
    let t = TestEnv::new();
    t.write(
        "m.csv",
        format!("id,shell,command\nlong-one,yes,{WAIT_RELEASE}\n"),
    );
    let args = ["run", "--heartbeat", "200ms", "m.csv"];
    let mut live = Live::start(t.cmd(&args), &args);
    t.wait_for_file("started.long-one");
    live.wait_stderr("status: 0/1 done, 1 running");
    live.wait_stderr("; running: long-one (pid ");
    t.write("release", "");
    live.finish().code(0);
    let r = t.run(&["run", "--heartbeat", "0", "m.csv"]);
    r.code(2).stderr_has("--heartbeat: '0' is zero");
}

#[test]
fn slow_names_only_the_slow_job() {
    let t = TestEnv::new();
    t.write(
        "m.csv",
        format!("id,shell,command\nquick1,no,true\nsleeper,yes,{WAIT_RELEASE}\nquick2,no,true\n"),
    );
    let args = ["run", "-j", "2", "--slow", "2s", "m.csv"];
    let mut live = Live::start(t.cmd(&args), &args);
    t.wait_for_file("started.sleeper");
    live.wait_stderr("slow: job sleeper has been running for");
    t.write("release", "");
    let r = live.finish();
    r.code(0);
    let slow: Vec<&str> = r.stderr.lines().filter(|l| l.contains("slow")).collect();
    assert_eq!(slow.len(), 1, "{}", r.stderr);
    assert!(
        !r.stderr.contains("quick1") && !r.stderr.contains("quick2"),
        "{}",
        r.stderr
    );
}

#[test]
fn completions_and_man_page_mention_the_options() {
    let t = TestEnv::new();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let r = t.run(&["completions", shell]);
        r.code(0).stdout_has("joblog").stdout_has("on-finish");
    }
    t.run(&["completions", "tcsh"]).code(2);
    let man = t.run(&["man"]);
    man.code(0)
        .stdout_has(".TH batchrun 1")
        .stdout_has("\\-\\-joblog")
        .stdout_has("\\-\\-heartbeat");
}

#[test]
fn the_last_line_says_where_the_reports_went() {
    let t = TestEnv::new();
    t.write("m.csv", "id,command\nok,true\n");
    let r = t.run(&["run", "--report", "r.json", "--report", "r.md", "m.csv"]);
    r.code(0);
    assert_eq!(
        r.stderr.lines().last().unwrap(),
        "batchrun: reports written: r.json, r.md",
        "{}",
        r.stderr
    );
    let q = t.run(&["run", "-q", "--report", "r.json", "m.csv"]);
    q.code(0);
    assert_eq!(q.stderr, "");
}

#[test]
fn on_finish_runs_after_the_deadline() {
    let t = TestEnv::new();
    t.write("m.csv", "id,command\nlong,sleep 300\nnext,true\n");
    let hook = "echo \"$BATCHRUN_EXIT_CODE $BATCHRUN_OUTCOME $BATCHRUN_CANCELLED $BATCHRUN_NOT_STARTED\" > hook.txt";
    t.run(&[
        "run",
        "-j",
        "1",
        "--deadline",
        "1s",
        "--on-finish",
        hook,
        "m.csv",
    ])
    .code(124);
    assert_eq!(t.read("hook.txt"), "124 deadline_exceeded 1 1\n");
    t.assert_nothing_left();
}
