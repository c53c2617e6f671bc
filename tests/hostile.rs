//! Hostile conditions, round two (issue 21): signals before the first job, descriptors with
//! `--output-dir` and `--keep-order`, links planted in shared directories, hostile merge inputs.

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::util::*;

/// The mask of signal `sig` in a `/proc/PID/status` signal mask.
fn mask_has(status: &str, field: &str, sig: libc::c_int) -> bool {
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|m| m & (1 << (sig - 1)) != 0)
}

/// Waits until process `pid` catches or ignores `sig` (its handler is installed); false if
/// that did not happen within a few seconds (then the caller goes on, and the test shows
/// what the signal's default action does).
fn wait_disposition(pid: u32, sig: libc::c_int) -> bool {
    wait_mask(pid, sig, &["SigCgt:", "SigIgn:"], Duration::from_secs(10))
}

/// Waits until `sig` is in one of the `masks` of process `pid`'s `/proc/PID/status`; false
/// if it was not `within` that time.
fn wait_mask(pid: u32, sig: libc::c_int, masks: &[&str], within: Duration) -> bool {
    let end = Instant::now() + within;
    while Instant::now() < end {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        if masks.iter().any(|m| mask_has(&status, m, sig)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

/// batchrun reading its manifest from a pipe the test keeps open after writing `first`.
fn reading_stdin(t: &TestEnv, args: &[&str], first: &str) -> (Live, std::process::ChildStdin) {
    started_reading_stdin(t.cmd(args), args, first)
}

/// `cmd` (batchrun `args`) started reading its manifest from a pipe left open after `first`.
fn started_reading_stdin(
    mut cmd: std::process::Command,
    args: &[&str],
    first: &str,
) -> (Live, std::process::ChildStdin) {
    cmd.stdin(Stdio::piped());
    let mut live = Live::start(cmd, args);
    let mut stdin = live.child.stdin.take().unwrap();
    stdin.write_all(first.as_bytes()).unwrap();
    stdin.flush().unwrap();
    (live, stdin)
}

#[test]
fn a_stop_signal_while_the_manifest_is_read_ends_the_run_at_once() {
    // Item 2: INT, TERM and HUP were ignored until the input ended.
    let t = TestEnv::new();
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        let args = [
            "run", "--lines", "--report", "r.json", "--joblog", "j.csv", "-",
        ];
        let (live, stdin) = reading_stdin(&t, &args, "touch ran\n");
        assert!(
            wait_disposition(live.pid(), sig),
            "signal {sig} never caught"
        );
        kill(live.pid(), sig);
        let r = live.finish();
        drop(stdin);
        r.code(130)
            .stderr_has("while reading and checking the manifest; nothing was run");
        assert!(!t.path("ran").exists(), "a job ran");
        assert!(!t.path("r.json").exists(), "a report was written");
        assert!(!t.path("j.csv").exists(), "a joblog was created");
    }
    // `check` too.
    let (live, stdin) = reading_stdin(&t, &["check", "-"], "id,command\na,true\n");
    assert!(wait_disposition(live.pid(), libc::SIGTERM));
    kill(live.pid(), libc::SIGTERM);
    let r = live.finish();
    drop(stdin);
    r.code(130);
    assert_eq!(r.stdout, "");
    t.assert_nothing_left();
}

/// Waits until process `pid` has a handler of its own for `sig` (ignoring it is not enough).
fn wait_caught(pid: u32, sig: libc::c_int) {
    assert!(
        wait_mask(pid, sig, &["SigCgt:"], Duration::from_secs(30)),
        "signal {sig} never caught"
    );
}

/// batchrun started through `wrapper` (a program that sets a signal's disposition and `exec`s
/// batchrun, so the pid is batchrun's), reading its manifest from a pipe left open after `first`.
fn wrapped_reading_stdin(
    t: &TestEnv,
    wrapper: &[&str],
    args: &[&str],
    first: &str,
) -> (Live, std::process::ChildStdin) {
    let mut cmd = std::process::Command::new(wrapper[0]);
    cmd.args(&wrapper[1..])
        .arg(BIN)
        .args(args)
        .current_dir(t.path(""))
        .env_remove("RUST_LOG");
    started_reading_stdin(cmd, args, first)
}

#[test]
fn a_run_under_nohup_ignores_hangups_and_its_jobs_inherit_that() {
    // A hangup ignored when batchrun starts (nohup) stays ignored, as make(1) and sort(1)
    // keep it: batchrun caught it and stopped the run.
    let t = TestEnv::new();
    let args = ["run", "--lines", "--report", "r.json", "-"];
    let job = "sh -c 'grep SigIgn /proc/self/status > ignored'\n";
    let (mut live, stdin) = wrapped_reading_stdin(&t, &["nohup"], &args, job);
    wait_caught(live.pid(), libc::SIGUSR1);
    kill(live.pid(), libc::SIGHUP);
    // Signals pending together are taken lowest first: once the status request is answered,
    // a caught hangup would have been too.
    kill(live.pid(), libc::SIGUSR1);
    live.wait_stderr("status: reading and checking the manifest");
    drop(stdin);
    let r = live.finish();
    r.code(0);
    assert_eq!(
        job_status(&t.json("r.json"), "1"),
        "succeeded",
        "{}",
        r.stderr
    );
    // The job inherits the ignored hangup, as under `nohup xargs`.
    let mask = t.read("ignored");
    assert!(mask_has(&mask, "SigIgn:", libc::SIGHUP), "{mask}");
    // SIGINT ignored at start (a background command of a script: `batchrun … &`) is still
    // caught, so that `kill -INT $!` stops the run as timeout(1) and GNU parallel stop.
    let wrapper = ["sh", "-c", "trap '' INT; exec \"$@\"", "sh"];
    let (live, stdin) = wrapped_reading_stdin(&t, &wrapper, &args, "touch ran\n");
    wait_caught(live.pid(), libc::SIGINT);
    kill(live.pid(), libc::SIGINT);
    let r = live.finish();
    drop(stdin);
    r.code(130)
        .stderr_has("while reading and checking the manifest; nothing was run");
    assert!(!t.path("ran").exists(), "a job ran");
    t.assert_nothing_left();
}

#[test]
fn a_status_request_while_batchrun_starts_does_not_kill_it() {
    // Item 7: SIGUSR1 before the status handler was installed killed batchrun (exit 138).
    let t = TestEnv::new();
    for args in [
        &["check", "-"][..],
        &["run", "--dry-run", "-"][..],
        &["run", "--report", "r.json", "-"][..],
    ] {
        let (live, stdin) = reading_stdin(&t, args, "id,command\na,echo hello\n");
        wait_disposition(live.pid(), libc::SIGUSR1);
        kill(live.pid(), libc::SIGUSR1);
        drop(stdin);
        let r = live.finish();
        r.code(0);
    }
    assert_eq!(t.json("r.json")["counts"]["succeeded"], 1);
    t.assert_nothing_left();
}

#[test]
fn jobs_get_the_default_disposition_of_signals_batchrun_ignores() {
    // Item 7: an ignored signal stays ignored across exec; jobs must not inherit it.
    let t = TestEnv::new();
    t.write("job.sh", "exec grep -E '^Sig(Ign|Blk)' /proc/self/status\n");
    t.write("m.csv", "id,command\na,sh job.sh\n");
    let script = format!("trap '' USR1 INT; exec {BIN} run m.csv");
    let mut c = std::process::Command::new("bash");
    c.args(["-c", &script])
        .current_dir(t.dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let r = Run::wait(c.spawn().unwrap(), &[&script]);
    r.code(0);
    for field in ["SigIgn:", "SigBlk:"] {
        assert!(!mask_has(&r.stdout, field, libc::SIGUSR1), "{}", r.stdout);
        assert!(!mask_has(&r.stdout, field, libc::SIGTERM), "{}", r.stdout);
    }
}

/// The uid of the user whose run is attacked, and of the user who plants links.
const VICTIM: u32 = 60998;
const ATTACKER: u32 = 60997;

/// Runs batchrun as user [`VICTIM`] in the test directory.
fn run_as_victim(t: &TestEnv, args: &[&str]) -> Run {
    let mut c = std::process::Command::new("setpriv");
    c.args([
        "--reuid",
        &VICTIM.to_string(),
        "--regid",
        &VICTIM.to_string(),
        "--clear-groups",
        BIN,
    ])
    .args(args)
    .current_dir(t.dir.path())
    .env_remove("RUST_LOG")
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    Run::wait(c.spawn().unwrap(), args)
}

#[test]
fn joblog_and_lock_never_follow_links_another_user_planted() {
    // Item 4. A directory anybody can write and without the sticky bit, which
    // fs.protected_symlinks does not cover whatever it is set to.
    use std::os::unix::fs::{lchown, symlink, PermissionsExt};
    // SAFETY: plain system call.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!(
            "skipped: needs root to run batchrun as a user of its own and plant links as another"
        );
        return;
    }
    let t = TestEnv::new();
    let mode = |p: &std::path::Path, m| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
    };
    mode(t.dir.path(), 0o755);
    t.write("m.csv", "id,command\na,true\n");
    std::fs::create_dir(t.path("shared")).unwrap();
    mode(&t.path("shared"), 0o777);
    let header = "id,status,attempts,exit_code,signal,started_at,duration_ms,command_hash\n";
    let history = format!("{header}x,succeeded,1,0,,2026-01-01T00:00:00Z,5,abc\n");
    t.write("victim/nightly.csv", &history);
    for p in ["victim", "victim/nightly.csv"] {
        lchown(t.path(p), Some(VICTIM), Some(VICTIM)).unwrap();
    }
    let plant = |name: &str, target: &str, owner: u32| {
        symlink(target, t.path(name)).unwrap();
        lchown(t.path(name), Some(owner), Some(owner)).unwrap();
    };
    plant("shared/joblog.csv", "../victim/nightly.csv", ATTACKER);
    plant("shared/run.lock", "../victim/created.lock", ATTACKER);
    plant("shared/new.csv", "../victim/created.csv", ATTACKER);

    let r = run_as_victim(&t, &["run", "--joblog", "shared/joblog.csv", "m.csv"]);
    r.code(3).stderr_has(&format!(
        "symbolic link owned by another user (uid {ATTACKER})"
    ));
    assert_eq!(t.read("victim/nightly.csv"), history);
    let r = run_as_victim(&t, &["run", "--joblog", "shared/new.csv", "m.csv"]);
    r.code(3);
    assert!(!t.path("victim/created.csv").exists());
    let r = run_as_victim(&t, &["run", "--lock", "shared/run.lock", "m.csv"]);
    r.code(3).stderr_has("refusing to follow it");
    assert!(!t.path("victim/created.lock").exists());

    // The user's own links are followed, as before.
    plant("shared/mine.csv", "../victim/nightly.csv", VICTIM);
    plant("shared/mine.lock", "../victim/mine.lock", VICTIM);
    let args = [
        "run",
        "--joblog",
        "shared/mine.csv",
        "--lock",
        "shared/mine.lock",
    ];
    run_as_victim(&t, &[&args[..], &["m.csv"]].concat()).code(0);
    assert!(t.read("victim/nightly.csv").starts_with(&history));
    assert!(t.read("victim/nightly.csv").contains("\na,succeeded,"));
    assert!(t.path("victim/mine.lock").exists());
}

#[test]
fn a_job_called_id_is_resumed() {
    // Item 9: its joblog lines were skipped as if they were the header.
    let t = TestEnv::new();
    t.write("m.csv", "id,command\nid,true\nb,true\n");
    t.run(&["run", "--joblog", "j.csv", "m.csv"]).code(0);
    t.run(&[
        "run", "--joblog", "j.csv", "--resume", "--report", "r.json", "m.csv",
    ])
    .code(0);
    let rep = t.json("r.json");
    assert_eq!(job_status(&rep, "id"), "resumed");
    assert_eq!(job_status(&rep, "b"), "resumed");
}

#[test]
fn files_named_like_a_jobs_output_in_the_output_dir_are_refused() {
    // Item 10: a joblog or lock at DIR/ID.out was replaced by that job's output.
    let t = TestEnv::new();
    t.write("m.csv", "id,command\na,touch ran\n");
    std::fs::create_dir(t.path("out")).unwrap();
    let header = "id,status,attempts,exit_code,signal,started_at,duration_ms,command_hash\n";
    t.write("out/a.out", header);
    for (flag, path) in [("--joblog", "out/a.out"), ("--lock", "out/a.err")] {
        let r = t.run(&["run", "--output-dir", "out", flag, path, "m.csv"]);
        r.code(2).stderr_has(&format!(
            "{flag} {path} is {} in --output-dir out, where a job's output would replace it",
            &path[4..]
        ));
        assert!(!t.path("ran").exists());
    }
    assert_eq!(t.read("out/a.out"), header);
    // An output directory not made yet.
    t.run(&[
        "run",
        "--output-dir",
        "new",
        "--joblog",
        "new/a.out",
        "m.csv",
    ])
    .code(2);
    // Other names in the directory stay valid.
    t.run(&[
        "run",
        "--output-dir",
        "out",
        "--report",
        "out/r.json",
        "--joblog",
        "out/joblog.csv",
        "m.csv",
    ])
    .code(0);
    assert!(t.path("ran").exists());
    assert_eq!(t.json("out/r.json")["counts"]["succeeded"], 1);
}

/// A manifest `m.md` (any name is a manifest) split into two shards with reports s1.json and
/// s2.json.
fn two_shard_reports(t: &TestEnv) {
    t.write("m.md", "id,command\na,true\nb,true\nc,true\nd,true\n");
    for k in 1..=2 {
        let shard = format!("{k}/2");
        let report = format!("s{k}.json");
        t.run(&["run", "--shard", &shard, "--report", &report, "m.md"])
            .code(0);
    }
}

#[test]
fn merge_never_overwrites_its_inputs() {
    // Item 11.
    let t = TestEnv::new();
    two_shard_reports(&t);
    let s1 = t.read("s1.json");
    let r = t.run(&["merge", "--report", "s1.json", "s1.json", "s2.json"]);
    r.code(2).stderr_has(
        "--report s1.json is the report s1.json given to merge (refusing to overwrite an input)",
    );
    assert_eq!(t.read("s1.json"), s1);
    // Also through another name of the same file, and the manifest.
    std::fs::hard_link(t.path("s2.json"), t.path("other.json")).unwrap();
    t.run(&["merge", "--report", "other.json", "s1.json", "s2.json"])
        .code(2);
    let manifest = t.read("m.md");
    t.run(&["merge", "--report", "m.md", "s1.json", "s2.json"])
        .code(2)
        .stderr_has("--report m.md is the manifest given to merge");
    assert_eq!(t.read("m.md"), manifest);
    t.run(&["merge", "--report", "all.json", "s1.json", "s2.json"])
        .code(0);
}

#[test]
fn merge_refuses_fifos_and_devices_without_reading_them() {
    // Item 12: a FIFO hung merge; /dev/zero grew it to gigabytes.
    let t = TestEnv::new();
    two_shard_reports(&t);
    assert!(std::process::Command::new("mkfifo")
        .arg(t.path("fifo.json"))
        .status()
        .unwrap()
        .success());
    for bad in ["fifo.json", "/dev/zero"] {
        t.run(&["merge", "--report", "all.json", "s1.json", bad, "s2.json"])
            .code(2)
            .stderr_has(&format!(
                "{bad}: not a regular file (expected a batchrun JSON report)"
            ));
    }
    assert!(!t.path("all.json").exists());
}

#[test]
fn merge_sums_huge_worker_counts_without_wrapping() {
    // Item 12: workers 2^63 + 2^63 wrapped to 0.
    let t = TestEnv::new();
    two_shard_reports(&t);
    for k in 1..=2 {
        let name = format!("s{k}.json");
        let mut r = t.json(&name);
        r["workers"] = serde_json::json!(1u64 << 63);
        t.write(&name, serde_json::to_string(&r).unwrap());
    }
    t.run(&["merge", "--report", "all.json", "s1.json", "s2.json"])
        .code(0);
    assert_eq!(t.json("all.json")["workers"], serde_json::json!(u64::MAX));
}

#[test]
fn a_stop_signal_during_merge_exits_130_and_writes_nothing() {
    // Item 12: SIGTERM during merge exited 143 and left a temporary file. The shards read
    // their manifest from standard input, so merge reads it from there too, from a pipe the
    // test keeps open: merge is busy until the signal.
    let t = TestEnv::new();
    let manifest = "id,command\na,true\nb,true\n";
    for k in 1..=2 {
        let shard = format!("{k}/2");
        let report = format!("s{k}.json");
        let args = ["run", "--shard", &shard, "--report", &report, "-"];
        let (live, stdin) = reading_stdin(&t, &args, manifest);
        drop(stdin);
        live.finish().code(0);
    }
    let args = [
        "merge",
        "--manifest",
        "-",
        "--report",
        "all.json",
        "s1.json",
        "s2.json",
    ];
    let (live, stdin) = reading_stdin(&t, &args, manifest);
    assert!(wait_disposition(live.pid(), libc::SIGTERM));
    kill(live.pid(), libc::SIGTERM);
    let r = live.finish();
    drop(stdin);
    r.code(130).stderr_has("interrupted by SIGTERM");
    let left: Vec<String> = std::fs::read_dir(t.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tmp") || n.starts_with("all"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_header_of_many_columns_is_checked_in_linear_time() {
    // Item 5: the duplicate-name scan was quadratic (100k columns took 24 s, 1M never ended).
    // 200,000 columns: seconds now, far beyond the test's patience before.
    let t = TestEnv::new();
    let n = 200_000;
    let names: Vec<String> = (0..n).map(|i| format!("c{i}")).collect();
    let mut m = format!("id,command,{},c7\n", names.join(","));
    m.push_str(&format!("a,true,{}v\n", "v,".repeat(n)));
    t.write("m.csv", &m);
    t.run(&["check", "m.csv"])
        .code(2)
        .stderr_has("m.csv:1: column 'c7': named twice in the header");
    // Without the duplicate: valid.
    let m = m.replacen(",c7\n", "\n", 1).replacen(",v\n", "\n", 1);
    t.write("m.csv", &m);
    t.run(&["check", "m.csv"]).code(0);
}

#[test]
fn a_start_error_that_never_clears_costs_its_budget_once_per_run() {
    // Item 6: ETXTBSY (the program is open for writing) was retried for ~22 s per job, so
    // four jobs took 90 s. Now the budget is spent once; the other jobs fail at once.
    let t = TestEnv::new();
    let busy = t.write("busy", "#!/bin/sh\ntrue\n");
    std::fs::set_permissions(&busy, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let _writer = std::fs::OpenOptions::new()
        .append(true)
        .open(&busy)
        .unwrap();
    t.write(
        "m.csv",
        "id,command\na,./busy\nb,./busy\nc,./busy\nd,./busy\n",
    );
    let r = t.run(&["run", "-j", "1", "--report", "r.json", "m.csv"]);
    r.code(1).stderr_has("gave up after 12 tries in a row");
    let rep = t.json("r.json");
    for id in ["a", "b", "c", "d"] {
        assert_eq!(job_status(&rep, id), "start_failed");
        let error = job(&rep, id)["error"].as_str().unwrap();
        assert!(error.contains("Text file busy"), "{error}");
    }
    t.assert_nothing_left();
}

#[test]
fn check_warns_about_a_placeholder_in_an_unquoted_here_document() {
    // Item 14: `$(touch PWNED)` in a value ran inside `cat <<EOF`, and check said nothing.
    let t = TestEnv::new();
    t.write("m.csv", "name\n$(touch PWNED)\n");
    let heredoc = "cat <<EOF\n{name}\nEOF";
    let r = t.run(&["check", "--shell", "--command", heredoc, "m.csv"]);
    r.code(0)
        .stderr_has("warn: --command: a placeholder in the body of a here-document");
    // In a manifest's own command column too, with the row's line.
    t.write(
        "m2.csv",
        "id,shell,command\na,true,\"cat <<-END\n\t{id}\n\tEND\"\n",
    );
    t.run(&["check", "m2.csv"])
        .code(0)
        .stderr_has("m2.csv:2: column 'command': a placeholder in the body of a here-document");
    // What the warning is about: the value runs.
    t.run(&["run", "--shell", "--command", heredoc, "m.csv"])
        .code(0);
    assert!(t.path("PWNED").exists());
    // A quoted delimiter keeps the body literal: no warning.
    let r = t.run(&[
        "check",
        "--shell",
        "--command",
        "cat <<'EOF'\n{name}\nEOF",
        "m.csv",
    ]);
    assert!(!r.stderr.contains("warn"), "{}", r.stderr);
}

#[test]
fn the_documented_way_to_stop_a_run_now_from_a_script() {
    // Item 16: two identical signals sent at once may arrive as one (POSIX does not queue
    // them). What README tells a script to do instead: the second signal once batchrun said
    // it acted on the first, then wait.
    let t = TestEnv::new();
    t.write(
        "m.csv",
        "id,command\na,\"sh -c 'touch started.a; exec sleep 600'\"\nb,\"sh -c 'exec sleep 600'\"\n",
    );
    let script = format!(
        r#"{BIN} run -j 1 --grace 1s --report r.json m.csv 2>err & p=$!
        while [ ! -e started.a ]; do sleep 0.02; done
        kill -TERM $p
        until grep -q 'interrupted: ' err; do sleep 0.02; done
        kill -TERM $p
        wait $p; echo "exit $?""#
    );
    let mut c = std::process::Command::new("bash");
    c.args(["-c", &script])
        .current_dir(t.dir.path())
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let r = Run::wait(c.spawn().unwrap(), &["stop script"]);
    assert_eq!(r.stdout, "exit 130\n", "{}\n{}", r.stderr, t.read("err"));
    let rep = t.json("r.json");
    assert_eq!(job_status(&rep, "a"), "cancelled");
    assert_eq!(job_status(&rep, "b"), "not_started");
    t.assert_nothing_left();
}

/// The date (in UTC+1) and hour of the next `HH:MM:SS` local time at least an hour away, as
/// a day of the year counted from 0 (a POSIX TZ rule day), its date, and the hour.
fn an_hour_ahead_in_utc_plus_1() -> (u32, chrono::NaiveDate, u32) {
    use chrono::{Datelike, Timelike};
    let local = chrono::Utc::now().naive_utc() + chrono::TimeDelta::hours(1);
    let mut at = local + chrono::TimeDelta::hours(2);
    if at.hour() == 23 {
        at += chrono::TimeDelta::hours(1);
    }
    (at.ordinal0(), at.date(), at.hour())
}

#[test]
fn a_deadline_in_a_dst_gap_or_repeated_hour_is_documented_and_told() {
    // Item 13: --deadline 02:00:05 in a DST gap silently moved to the next day. A POSIX TZ
    // with a change of its own, an hour or two ahead, stands for Europe/Berlin's.
    let t = TestEnv::new();
    t.write("m.csv", "id,command\na,true\n");
    let (day, date, hour) = an_hour_ahead_in_utc_plus_1();
    let end = (day + 100) % 365;
    // Clocks go forward at HOUR:00 on that day.
    let tz = format!("XST-1XDT-2,{day}/{hour},{end}/3");
    let deadline = format!("{hour:02}:00:05");
    let r = t.run_env(&["run", "--dry-run", "--deadline", &deadline, "m.csv"], &tz);
    r.code(0).stderr_has(&format!(
        "--deadline {deadline}: {date} {deadline} does not exist that day (the clocks go forward): using the first time after the gap, {date} {:02}:00:00 +02:00",
        hour + 1
    ));
    // Clocks go back at HOUR+1:00 summer time on that day: HOUR:30 occurs twice.
    let start = (day + 265) % 365;
    let tz = format!("XST-1XDT-2,{start}/2,{day}/{}", hour + 1);
    let deadline = format!("{hour:02}:30");
    let r = t.run_env(&["run", "--dry-run", "--deadline", &deadline, "m.csv"], &tz);
    r.code(0).stderr_has(&format!(
        "--deadline {deadline}: {date} {hour:02}:30:00 occurs twice that day (the clocks go back): using its first occurrence, {date} {hour:02}:30:00 +02:00"
    ));
}

#[test]
fn a_daemons_output_never_shows_up_in_the_next_jobs_output() {
    // Item 8: a daemon (out of its job's process group) kept writing to its job's capture
    // files, which the worker reused for the next job: job b's stderr_tail showed job a's
    // daemon's stdout. The daemon writes only once b runs.
    let t = TestEnv::new();
    t.write(
        "daemon.sh",
        "touch daemon.up\n\
         while [ ! -e b.started ]; do sleep 0.02; done\n\
         echo daemon-out; echo daemon-err >&2; touch daemon.done\n",
    );
    // Job a ends only once the daemon has left its process group (else the group's sweep
    // would terminate it).
    t.write(
        "a.sh",
        "setsid sh daemon.sh &\nwhile [ ! -e daemon.up ]; do sleep 0.02; done\n",
    );
    t.write(
        "b.sh",
        "touch b.started\n\
         while [ ! -e daemon.done ]; do sleep 0.02; done\n\
         echo b-out; echo b-err >&2; exit 1\n",
    );
    t.write("m.csv", "id,command\na,sh a.sh\nb,sh b.sh\n");
    let r = t.run(&["run", "-j", "1", "--report", "r.json", "m.csv"]);
    r.code(1);
    let rep = t.json("r.json");
    assert_eq!(job(&rep, "b")["stderr_tail"], "b-err\n", "{}", r.stderr);
    assert!(!r.stdout.contains("daemon"), "{}", r.stdout);
    assert!(!r.stderr.contains("daemon"), "{}", r.stderr);
    // The daemon ends by itself once it has written.
    let end = Instant::now() + PATIENCE;
    while !t.live_processes().is_empty() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    t.assert_nothing_left();
}
