//! Under resource limits (`ulimit -n`, `ulimit -u`, no threads) batchrun degrades instead of
//! failing: a start that finds no descriptor or process free waits for a running job to end.

use std::os::unix::fs::PermissionsExt;

use crate::util::*;

fn sleepers(t: &TestEnv, n: usize) {
    let mut m = String::from("command\n");
    for _ in 0..n {
        m.push_str("sleep 0.1\n");
    }
    t.write("m.csv", m);
}

/// Runs batchrun through `bash -c` with `limits` (ulimit options) applied first.
fn run_limited(t: &TestEnv, limits: &str, prefix: &str, args: &str) -> Run {
    let script = format!("ulimit {limits} && exec {prefix} {BIN} {args}");
    let mut c = std::process::Command::new("bash");
    c.args(["-c", &script])
        .current_dir(t.dir.path())
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    Run::wait(c.spawn().unwrap(), &[&script])
}

#[test]
fn out_of_descriptors_jobs_wait_instead_of_failing() {
    let t = TestEnv::new();
    sleepers(&t, 120);
    // Soft and hard: batchrun cannot raise it.
    let r = run_limited(&t, "-n 64", "", "run -j 32 --report r.json m.csv");
    r.code(0);
    let rep = t.json("r.json");
    assert_eq!(rep["counts"]["succeeded"], 120, "{}", r.stderr);
    r.stderr_has("it waits for a running job to finish");
    t.assert_nothing_left();
}

#[test]
fn out_of_descriptors_with_output_dir_jobs_wait_instead_of_failing() {
    // Issue 21, item 1: the errno of a file created in --output-dir was lost, so EMFILE
    // failed jobs (exit 3) instead of putting their start off.
    let t = TestEnv::new();
    let mut m = String::from("command\n");
    // Each job writes both streams: --output-dir keeps no empty file.
    for _ in 0..300 {
        m.push_str("\"sh -c 'echo o; echo e >&2; sleep 0.05'\"\n");
    }
    t.write("m.csv", m);
    let r = run_limited(
        &t,
        "-n 64",
        "",
        "run -j 60 --output-dir od --report r.json m.csv",
    );
    r.code(0);
    assert_eq!(t.json("r.json")["counts"]["succeeded"], 300, "{}", r.stderr);
    let names: Vec<String> = std::fs::read_dir(t.path("od"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 600, "{names:?}");
    assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");
    t.assert_nothing_left();
}

#[test]
fn keep_order_prints_out_of_order_rather_than_run_out_of_descriptors() {
    // Issue 21, item 3: held output kept a descriptor per job until jobs could not start.
    let t = TestEnv::new();
    let n = 1100;
    let mut m = format!("id,command,after\nfirst,echo first,j{n}\n");
    for k in 1..=n {
        m.push_str(&format!("j{k},echo out{k},\n"));
    }
    t.write("m.csv", m);
    let r = run_limited(
        &t,
        "-n 1024",
        "",
        "run -j 4 --keep-order --report r.json m.csv",
    );
    r.code(0);
    assert_eq!(
        t.json("r.json")["counts"]["succeeded"],
        n + 1,
        "{}",
        r.stderr
    );
    r.stderr_has("printing this job's output (and any other such) out of order");
    let mut lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), n + 1);
    lines.sort_unstable();
    lines.dedup();
    assert_eq!(lines.len(), n + 1, "every job's output exactly once");
    t.assert_nothing_left();
}

/// The least `ulimit -v` (KiB, to 250) under which `batchrun --version` runs.
fn smallest_address_space(t: &TestEnv) -> u64 {
    let starts = |kib: u64| run_limited(t, &format!("-v {kib}"), "", "--version").code == Some(0);
    let (mut fails, mut runs) = (2_000, 200_000);
    assert!(starts(runs) && !starts(fails));
    while runs - fails > 250 {
        let mid = (fails + runs) / 2;
        if starts(mid) {
            runs = mid;
        } else {
            fails = mid;
        }
    }
    runs
}

#[test]
fn under_an_address_space_limit_batchrun_degrades_instead_of_aborting() {
    // Issue 21, item 15: under `ulimit -v` of 30-50 MB, malloc's per-thread arenas made an
    // allocation fail and batchrun abort (exit 134, no report).
    let t = TestEnv::new();
    let mut m = String::from("id,command\n");
    for k in 0..2000 {
        m.push_str(&format!("j{k},echo {k}\n"));
    }
    t.write("m.csv", m);
    for (limit, workers) in [(40_000, 2), (45_000, 16), (50_000, 64)] {
        let r = run_limited(
            &t,
            &format!("-v {limit}"),
            "",
            &format!("run -j {workers} --report r.json m.csv"),
        );
        r.code(0);
        assert_eq!(
            t.json("r.json")["counts"]["succeeded"],
            2000,
            "{}",
            r.stderr
        );
        assert_eq!(r.stdout.lines().count(), 2000);
    }
    // Below what batchrun needs for one worker thread (its 8 MiB stack), it still never
    // aborts: exit 3, with a report that accounts for every job. The limit follows the
    // binary's own size (a debug build grows with every dependency): 1.5 MiB above the least
    // under which it starts at all.
    let low = smallest_address_space(&t) + 1_500;
    let r = run_limited(
        &t,
        &format!("-v {low}"),
        "",
        "run -j 2 --report r.json m.csv",
    );
    let code = r.code;
    assert!(matches!(code, Some(0 | 3)), "{code:?}: {}", r.stderr);
    assert_eq!(t.json("r.json")["counts"]["total"], 2000, "{}", r.stderr);
    t.assert_nothing_left();
}

#[test]
fn out_of_processes_jobs_wait_instead_of_failing() {
    // SAFETY: plain system call.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to run batchrun as an unprivileged user (root ignores RLIMIT_NPROC)");
        return;
    }
    let t = TestEnv::new();
    sleepers(&t, 40);
    std::fs::set_permissions(t.dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    // 24 processes and threads for user nobody: batchrun's own threads (16 workers and a few
    // more) leave room for only a couple of jobs at a time.
    let prefix = "setpriv --reuid 65534 --regid 65534 --clear-groups";
    let r = run_limited(&t, "-u 24", prefix, "run -j 16 --report r.json m.csv");
    r.code(0);
    assert_eq!(t.json("r.json")["counts"]["succeeded"], 40, "{}", r.stderr);
    t.assert_nothing_left();
}

#[test]
fn without_threads_check_and_dry_run_work_on_one() {
    // SAFETY: plain system call.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to run batchrun as an unprivileged user (root ignores RLIMIT_NPROC)");
        return;
    }
    let t = TestEnv::new();
    // More rows than one batch of rows checked together.
    let mut m = String::from("id,command\n");
    for k in 0..5000 {
        m.push_str(&format!("j{k},echo {k}\n"));
    }
    m.push_str("j1,echo again\n");
    t.write("m.csv", m);
    std::fs::set_permissions(t.dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    // One process for a user of its own (none of its processes runs, unlike nobody's in the
    // test above): batchrun itself, and no thread beside its main one.
    let prefix = "setpriv --reuid 60999 --regid 60999 --clear-groups";
    let r = run_limited(&t, "-u 1", prefix, "check m.csv");
    r.code(2);
    r.stderr_has(
        "m.csv:5002: column 'id': duplicate id 'j1' (expected a unique id; first used on line 3)",
    );
    let m: String = t
        .read("m.csv")
        .lines()
        .take(5001)
        .map(|l| l.to_string() + "\n")
        .collect();
    t.write("m.csv", m);
    let r = run_limited(&t, "-u 1", prefix, "check m.csv");
    r.code(0);
    assert_eq!(
        r.stdout.lines().filter(|l| l.starts_with('j')).count(),
        5000
    );
    let r = run_limited(&t, "-u 1", prefix, "run --dry-run m.csv");
    r.code(0);
    let expected: String = (0..5000).map(|k| format!("echo {k}\n")).collect();
    assert_eq!(r.stdout, expected);
}
