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
