//! How a job's process is started (batchrun's own `posix_spawnp` with a prepared environment,
//! std's `Command` where std would not use `posix_spawn`): what the child gets must not change.

use std::os::unix::fs::PermissionsExt;

use crate::util::*;

/// Writes an executable script.
fn script(t: &TestEnv, rel: &str, body: &str) {
    let p = t.write(rel, body);
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn direct_jobs_get_the_inherited_environment_with_the_row_and_their_own_on_top() {
    let t = TestEnv::new();
    t.write(
        "m.csv",
        "id,env,retries,command\n\
         j1,SPAWN_OVER=row,,printenv SPAWN_KEEP SPAWN_OVER BATCHRUN_JOB_ID BATCHRUN_ATTEMPT\n\
         j2,,1,\"sh -c 'echo $BATCHRUN_JOB_ID $BATCHRUN_ATTEMPT >> attempts; [ $BATCHRUN_ATTEMPT = 2 ]'\"\n",
    );
    let mut cmd = t.cmd(&["run", "-j", "1", "--retry-delay", "1ms", "m.csv"]);
    cmd.env("SPAWN_KEEP", "kept")
        .env("SPAWN_OVER", "parent")
        .env("BATCHRUN_JOB_ID", "parent")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let r = Run::wait(cmd.spawn().unwrap(), &["run"]);
    r.code(0);
    assert_eq!(r.stdout, "kept\nrow\nj1\n1\n");
    assert_eq!(t.read("attempts"), "j2 1\nj2 2\n");
}

#[test]
fn a_row_that_sets_path_finds_its_program_in_that_path() {
    let t = TestEnv::new();
    script(&t, "bin/hello-spawn", "#!/bin/sh\necho hello from $0\n");
    let bin = t.path("bin");
    t.write(
        "m.csv",
        format!(
            "id,env,command\n\
             with,PATH={}:/usr/bin:/bin,hello-spawn\n\
             without,,hello-spawn\n",
            bin.display()
        ),
    );
    let r = t.run(&["run", "-j", "1", "--report", "r.json", "m.csv"]);
    r.code(1);
    assert_eq!(
        r.stdout,
        format!("hello from {}/hello-spawn\n", bin.display())
    );
    let rep = t.json("r.json");
    assert_eq!(job_status(&rep, "with"), "succeeded");
    assert_eq!(job_status(&rep, "without"), "start_failed");
    assert_eq!(
        job(&rep, "without")["error"],
        "cannot start 'hello-spawn': No such file or directory (os error 2)"
    );
}

#[test]
fn programs_start_in_the_jobs_directory_and_failures_say_why() {
    let t = TestEnv::new();
    script(
        &t,
        "sub/run.sh",
        "#!/bin/sh\necho ran in $(basename \"$PWD\")\n",
    );
    t.write("sub/plain.sh", "#!/bin/sh\necho never\n");
    script(&t, "sub/noshebang", "echo never\n");
    t.write(
        "m.csv",
        "id,cwd,command\n\
         rel,sub,./run.sh\n\
         noexec,sub,./plain.sh\n\
         format,sub,./noshebang\n",
    );
    let r = t.run(&["run", "-j", "1", "--report", "r.json", "m.csv"]);
    r.code(1);
    assert_eq!(r.stdout, "ran in sub\n");
    let rep = t.json("r.json");
    assert_eq!(job_status(&rep, "rel"), "succeeded");
    assert_eq!(
        job(&rep, "noexec")["error"],
        "cannot start './plain.sh': Permission denied (os error 13)"
    );
    assert_eq!(
        job(&rep, "format")["error"],
        "cannot start './noshebang': Exec format error (os error 8)"
    );
}

#[test]
fn jobs_start_with_sigpipe_at_its_default_action() {
    // batchrun ignores SIGPIPE itself (Rust's runtime does); a job must not inherit that, or
    // `producer | head` pipelines in jobs would end with write errors instead of quietly.
    let t = TestEnv::new();
    t.write("m.csv", "id,command\nj,grep SigIgn /proc/self/status\n");
    let r = t.run(&["run", "m.csv"]);
    r.code(0);
    let hex = r.stdout.trim().strip_prefix("SigIgn:").unwrap().trim();
    let ignored = u64::from_str_radix(hex, 16).unwrap();
    assert_eq!(ignored & (1 << (libc::SIGPIPE - 1)), 0, "{}", r.stdout);
}

/// The peak memory of `/bin/true` started by a small process (GNU time forks it), in KiB.
/// Without GNU time, 1,100 KiB: what Debian's `/bin/true` measures so.
fn standalone_true_kib() -> u64 {
    let measured = std::process::Command::new("/usr/bin/time")
        .args(["-f", "%M", "/bin/true"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8_lossy(&o.stderr).trim().parse().ok());
    measured.unwrap_or_else(|| {
        eprintln!("no /usr/bin/time (apt-get install time): taking 1,100 KiB for /bin/true");
        1100
    })
}

#[test]
fn a_jobs_peak_memory_is_its_own_not_batchruns() {
    let t = TestEnv::new();
    // batchrun holds 150,000 rows (tens of MiB); the shard runs about 1,000 of them. (A job
    // of 60 MiB reports it: `ops::report_has_each_jobs_command_memory_and_cpu`.)
    let mut m = String::from("id,command\n");
    for i in 0..150_000 {
        m.push_str(&format!("t{i},/bin/true\n"));
    }
    t.write("m.csv", m);
    let standalone = (0..3).map(|_| standalone_true_kib()).max().unwrap();
    t.run(&[
        "run", "-j", "2", "--shard", "1/150", "--report", "r.json", "m.csv",
    ])
    .code(0);
    let rep = t.json("r.json");
    let trues: Vec<u64> = rep["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["max_rss_kib"].as_u64().unwrap())
        .collect();
    assert!(trues.len() >= 900, "{} jobs in the shard", trues.len());
    // A spawner is a copy of batchrun's first few hundred KiB; a debug build's code is four
    // times larger and spread out, so its spawners are about 5.7 MiB (release: 1.4-1.6).
    // batchrun itself holds more than 25 MiB here, which every job reported before.
    let slack = if cfg!(debug_assertions) {
        6 * 1024
    } else {
        1024
    };
    let most = *trues.iter().max().unwrap();
    assert!(
        most <= standalone + slack,
        "/bin/true reports up to {most} KiB through batchrun, {standalone} KiB alone"
    );
    t.assert_nothing_left();
}

#[test]
fn jobs_still_start_when_the_spawner_processes_die() {
    let t = TestEnv::new();
    // The first job kills batchrun's other children: its spawner processes (one job at a time).
    t.write(
        "m.csv",
        "id,command\n\
         killer,\"sh -c 'for p in $(cat /proc/$PPID/task/*/children); do [ $p = $$ ] || kill -9 $p; done'\"\n\
         a,sh -c 'echo a >> ran'\n\
         b,sh -c 'echo b >> ran'\n",
    );
    t.run(&["run", "-j", "1", "--report", "r.json", "m.csv"])
        .code(0)
        .stderr_has("spawner process failed")
        .stderr_has("max_rss_kib includes its own peak memory");
    assert_eq!(t.read("ran"), "a\nb\n");
    let rep = t.json("r.json");
    for id in ["killer", "a", "b"] {
        assert_eq!(job_status(&rep, id), "succeeded");
    }
    t.assert_nothing_left();
}

/// This process's `Cpus_allowed_list` (batchrun and its jobs inherit it).
fn own_cpus() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("Cpus_allowed_list:"))
        .unwrap();
    line.to_string()
}

#[test]
fn jobs_may_run_on_every_cpu_batchrun_may() {
    // Whoever starts a job (a spawner here: --report), it may run wherever batchrun may:
    // nothing on the way pins it to a CPU.
    let t = TestEnv::new();
    let mut m = String::from("id,command\n");
    for i in 0..40 {
        m.push_str(&format!("c{i},grep Cpus_allowed_list: /proc/self/status\n"));
    }
    t.write("m.csv", m);
    let r = t.run(&["run", "-j", "2", "--report", "r.json", "m.csv"]);
    r.code(0);
    let want = own_cpus();
    assert_eq!(r.stdout.lines().count(), 40, "{}", r.stdout);
    for line in r.stdout.lines() {
        assert_eq!(line, want);
    }
    // Under `taskset`, batchrun's own CPUs are the jobs' (not every CPU of the machine).
    if std::path::Path::new("/usr/bin/taskset").exists() {
        let mut cmd = std::process::Command::new("/usr/bin/taskset");
        cmd.args(["-c", "0", BIN])
            .args(["run", "-j", "2", "--report", "r.json", "m.csv"])
            .current_dir(t.path("."))
            .env_remove("RUST_LOG")
            .stdin(std::process::Stdio::null());
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(stdout.lines().count(), 40, "{stdout}");
        for line in stdout.lines() {
            assert_eq!(
                line.split_whitespace().collect::<Vec<_>>(),
                ["Cpus_allowed_list:", "0"]
            );
        }
    }
    t.assert_nothing_left();
}

#[test]
fn spawners_are_made_only_when_an_output_records_the_jobs_memory() {
    // The job counts batchrun's other children: the zygote, and the spawners if any.
    let t = TestEnv::new();
    t.write(
        "m.csv",
        "id,command\n\
         count,\"sh -c 'n=0; for p in $(cat /proc/$PPID/task/*/children); do [ $p = $$ ] || n=$((n+1)); done; echo $n'\"\n",
    );
    // Nothing shows max_rss_kib: the job starts from batchrun itself, no spawner is made.
    let r = t.run(&[
        "run", "-j", "1", "--joblog", "j.log", "--report", "r.xml", "m.csv",
    ]);
    r.code(0);
    assert_eq!(r.stdout, "1\n");
    // The JSON report (or the Markdown one, or --events) shows it: a spawner starts the job.
    for out in ["--report=r.json", "--report=r.md", "--events=e.jsonl"] {
        let r = t.run(&["run", "-j", "1", out, "m.csv"]);
        r.code(0);
        assert_eq!(r.stdout, "2\n", "{out}");
    }
    t.assert_nothing_left();
}
