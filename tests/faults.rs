//! Hostile conditions: users' files are never damaged, stopped jobs and inherited daemons do not
//! hold a run up, and limits degrade instead of aborting.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::{Command, Stdio};

use crate::util::*;

/// A shell job body that marks itself started, then waits until the test creates `release`.
const WAIT_RELEASE: &str =
    "touch started.$BATCHRUN_JOB_ID; while [ ! -e release ]; do sleep 0.02; done";

/// A manifest with one job that writes `ran` when it runs.
const MARKS_RAN: &str = "id,command\na,touch ran\n";

#[test]
fn lock_never_writes_its_file_even_through_a_symlink() {
    let t = TestEnv::new();
    t.write("m.csv", MARKS_RAN);
    t.write("victim.csv", "precious\n");
    std::os::unix::fs::symlink("victim.csv", t.path("link.lock")).unwrap();
    t.run(&["run", "--lock", "link.lock", "m.csv"]).code(0);
    assert_eq!(t.read("victim.csv"), "precious\n");
    assert!(t.path("ran").exists());
    // A FIFO as the lock does not hang the run.
    assert!(Command::new("mkfifo")
        .arg(t.path("fifo"))
        .status()
        .unwrap()
        .success());
    t.run(&["run", "--lock", "fifo", "m.csv"]).code(0);
    // A missing lock file is created, and stays empty.
    t.run(&["run", "--lock", "new.lock", "m.csv"]).code(0);
    assert_eq!(fs::metadata(t.path("new.lock")).unwrap().len(), 0);
}

#[test]
fn held_lock_names_the_holder_and_keeps_its_content() {
    let t = TestEnv::new();
    t.write(
        "m.csv",
        format!("id,command\nw,\"sh -c '{WAIT_RELEASE}'\"\n"),
    );
    t.write("run.lock", "keep me\n");
    let holder = t.spawn(&["run", "--lock", "run.lock", "m.csv"]);
    t.wait_for_file("started.w");
    let r = t.run(&["run", "--lock", "run.lock", "m.csv"]);
    r.code(75).stderr_has(&format!("(pid {})", holder.id()));
    assert_eq!(t.read("run.lock"), "keep me\n");
    t.write("release", "");
    Run::wait(holder, &["holder"]).code(0);
    assert_eq!(t.read("run.lock"), "keep me\n");
    t.assert_nothing_left();
}

#[test]
fn output_paths_that_are_the_manifest_are_refused() {
    let t = TestEnv::new();
    t.write("m.csv", MARKS_RAN);
    fs::hard_link(t.path("m.csv"), t.path("hard.csv")).unwrap();
    std::os::unix::fs::symlink("m.csv", t.path("soft.csv")).unwrap();
    std::os::unix::fs::symlink("m.csv", t.path("soft.json")).unwrap();
    for args in [
        &["--joblog", "m.csv"][..],
        &["--joblog", "hard.csv"],
        &["--lock", "soft.csv"],
        &["--report", "soft.json"],
        &["--output-dir", "m.csv"],
    ] {
        let mut all = vec!["run"];
        all.extend_from_slice(args);
        all.push("m.csv");
        t.run(&all)
            .code(2)
            .stderr_has(&format!("{} {} is the manifest itself", args[0], args[1]));
        assert_eq!(t.read("m.csv"), MARKS_RAN, "{args:?}");
        assert!(!t.path("ran").exists(), "{args:?}: a job ran");
    }
    // A manifest named like a job's output file in --output-dir would be replaced by it.
    fs::create_dir(t.path("out")).unwrap();
    t.write("out/a.out", MARKS_RAN);
    t.run(&["run", "--output-dir", "out", "out/a.out"])
        .code(2)
        .stderr_has("the manifest is a.out in --output-dir out");
    assert_eq!(t.read("out/a.out"), MARKS_RAN);
    // Every problem in one pass.
    t.run(&["run", "--joblog", "m.csv", "--lock", "hard.csv", "m.csv"])
        .code(2)
        .stderr_has("--joblog m.csv is the manifest")
        .stderr_has("--lock hard.csv is the manifest");
}

#[test]
fn a_joblog_that_is_not_a_joblog_is_refused() {
    let t = TestEnv::new();
    t.write("m.csv", MARKS_RAN);
    t.write("other.csv", "id,command\nx,true\n");
    t.run(&["run", "--joblog", "other.csv", "m.csv"])
        .code(2)
        .stderr_has("--joblog other.csv exists and is not a joblog");
    assert_eq!(t.read("other.csv"), "id,command\nx,true\n");
    assert!(!t.path("ran").exists());
    // Empty files and real joblogs are still appended to.
    t.write("empty.log", "");
    t.run(&["run", "--joblog", "empty.log", "m.csv"]).code(0);
    t.run(&["run", "--joblog", "empty.log", "m.csv"]).code(0);
    assert_eq!(t.read("empty.log").lines().count(), 3);
}

#[test]
fn a_report_that_is_a_directory_runs_nothing() {
    let t = TestEnv::new();
    t.write("m.csv", MARKS_RAN);
    fs::create_dir(t.path("r.json")).unwrap();
    t.run(&["run", "--report", "r.json", "m.csv"])
        .code(3)
        .stderr_has("cannot write report r.json");
    assert!(!t.path("ran").exists(), "a job ran");
}

#[test]
fn output_dir_never_follows_planted_symlinks() {
    let t = TestEnv::new();
    t.write(
        "m.csv",
        "id,command\na,\"sh -c 'echo out; echo err >&2'\"\n",
    );
    t.write("victim", "precious\n");
    fs::create_dir(t.path("out")).unwrap();
    std::os::unix::fs::symlink("../victim", t.path("out/a.out")).unwrap();
    std::os::unix::fs::symlink("../victim", t.path("out/a.err")).unwrap();
    t.run(&["run", "--output-dir", "out", "m.csv"]).code(0);
    assert_eq!(t.read("victim"), "precious\n");
    for (name, text) in [("out/a.out", "out\n"), ("out/a.err", "err\n")] {
        assert!(!fs::symlink_metadata(t.path(name)).unwrap().is_symlink());
        assert_eq!(t.read(name), text);
    }
}

#[test]
fn created_files_have_the_documented_modes() {
    let t = TestEnv::new();
    fs::create_dir(t.path("tmp")).unwrap();
    t.write(
        "m.csv",
        // Output on both streams: an empty output file is not kept.
        "id,command\na,\"sh -c 'stat -c %a tmp/batchrun-* > tmpmode; echo o; echo e >&2'\"\n",
    );
    let run = |umask: &str| {
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg(format!(
                "umask {umask}; exec \"$0\" run --output-dir out --joblog log --report r.json m.csv"
            ))
            .arg(BIN)
            .current_dir(t.dir.path())
            .env("TMPDIR", t.path("tmp"))
            .stdin(Stdio::null());
        Live::start(c, &["run", "under umask", umask]).finish()
    };
    let mode = |rel: &str| fs::metadata(t.path(rel)).unwrap().permissions().mode() & 0o777;
    run("000").code(0);
    assert_eq!(t.read("tmpmode"), "700\n", "private temporary directory");
    assert_eq!(mode("out/a.out"), 0o666);
    assert_eq!(mode("log"), 0o666);
    assert_eq!(mode("r.json"), 0o600);
    fs::remove_dir_all(t.path("out")).unwrap();
    fs::remove_file(t.path("log")).unwrap();
    run("027").code(0);
    assert_eq!(t.read("tmpmode"), "700\n");
    assert_eq!(mode("out/a.err"), 0o640);
    assert_eq!(mode("log"), 0o640);
    assert_eq!(mode("r.json"), 0o600);
}

/// A small tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` at `dir`, or returns `None` (with a note) if not permitted.
    fn mount(dir: std::path::PathBuf, size: &str) -> Option<Tmpfs> {
        fs::create_dir_all(&dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            println!("skipped: cannot mount a tmpfs here (needs root)");
            return None;
        }
        Some(Tmpfs(dir))
    }

    /// Fills the file system until a write fails.
    fn fill(&self) {
        let _ = Command::new("dd")
            .args(["if=/dev/zero", "bs=4096"])
            .arg(format!("of={}", self.0.join("fill").display()))
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_tmpdir_is_batchruns_own_failure() {
    let t = TestEnv::new();
    let Some(fs) = Tmpfs::mount(t.path("tiny"), "256k") else {
        return;
    };
    t.write("m.csv", "id,command\na,echo hello\n");
    fs.fill();
    let mut c = t.cmd(&["run", "--report", "r.json", "m.csv"]);
    c.env("TMPDIR", t.path("tiny"));
    let r = Live::start(c, &["run", "with a full TMPDIR"]).finish();
    r.code(3).stderr_has("no space left on device (ENOSPC)");
    let rep = t.json("r.json");
    let a = job(&rep, "a");
    assert_eq!(a["status"], "failed");
    let error = a["error"].as_str().unwrap();
    assert!(error.contains("ENOSPC"), "{error}");
    assert!(
        error.contains(&t.path("tiny").display().to_string()),
        "{error}"
    );
}

#[test]
fn tagged_output_memory_stays_flat_on_a_huge_line() {
    let t = TestEnv::new();
    // One 64 MiB line without a newline.
    t.write(
        "m.csv",
        "id,command\nbig,\"sh -c 'head -c 67108864 /dev/zero | tr -c x x'\"\n",
    );
    let mut child = t
        .cmd(&["run", "--output", "tag", "m.csv"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Read stdout while watching batchrun's peak RSS (VmHWM, per process image): it has read
    // the line (whole, if it holds it whole) before the first byte arrives.
    let mut stdout = child.stdout.take().unwrap();
    let (mut text, mut buf, mut peak_kib) = (Vec::new(), vec![0; 1 << 16], 0);
    loop {
        let n = std::io::Read::read(&mut stdout, &mut buf).unwrap();
        if n == 0 {
            break;
        }
        text.extend_from_slice(&buf[..n]);
        peak_kib = peak_kib.max(vm_hwm_kib(child.id()).unwrap_or(0));
    }
    assert!(child.wait().unwrap().success());
    let lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
    assert_eq!(
        lines.len(),
        1025,
        "1024 pieces of 64 KiB and the empty tail"
    );
    assert!(lines[..1024]
        .iter()
        .all(|l| l.len() == 6 + 65536 && l.starts_with(b"[big] x")));
    // Far below the 64 MiB the line would take if held whole.
    println!("peak RSS of batchrun: {peak_kib} KiB");
    assert!(
        peak_kib > 0 && peak_kib < 32 * 1024,
        "peak RSS {peak_kib} KiB"
    );
}

/// The peak resident set size of a live process, in KiB.
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Zombies among the children of `pid` (all of its threads).
fn zombie_children(pid: u32) -> usize {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|s| s.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .filter(|c| {
            let stat = fs::read_to_string(format!("/proc/{c}/stat")).unwrap_or_default();
            stat.rfind(')')
                .is_some_and(|i| stat[i + 1..].trim_start().starts_with('Z'))
        })
        .count()
}

#[test]
fn daemonized_helpers_do_not_pile_up_as_zombies() {
    let t = TestEnv::new();
    let jobs = 500;
    let mut m = String::from("id,command\n");
    for i in 0..jobs {
        m.push_str(&format!("j{i},\"sh -c 'setsid sleep 0.01 &'\"\n"));
    }
    t.write("m.csv", m);
    let mut live = Live::start(t.cmd(&["run", "-j", "4", "m.csv"]), &["run", "zombies"]);
    let pid = live.pid();
    let mut most = 0;
    while live.child.try_wait().unwrap().is_none() {
        most = most.max(zombie_children(pid));
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    live.finish()
        .code(0)
        .stderr_has(&format!("{jobs} succeeded"));
    println!("most zombie children of batchrun seen during the run: {most}");
    assert!(most < 50, "{most} zombies piled up");
    let end = std::time::Instant::now() + PATIENCE;
    while !t.live_processes().is_empty() && std::time::Instant::now() < end {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    t.assert_nothing_left();
}

#[test]
fn a_stopped_job_is_continued_so_sigterm_ends_it() {
    let t = TestEnv::new();
    t.write(
        "m.csv",
        "id,command,timeout\ns,\"sh -c 'touch started; kill -STOP $$; sleep 100'\",300ms\n",
    );
    // Without SIGCONT the stopped shell would wait out the whole grace (longer than a test
    // may take), then die of SIGKILL.
    let r = t.run(&["run", "--grace", "10m", "--report", "r.json", "m.csv"]);
    r.code(1);
    let rep = t.json("r.json");
    let s = job(&rep, "s");
    assert_eq!(s["status"], "timed_out");
    assert_eq!(s["signal"], 15, "ended by SIGTERM, not SIGKILL");
    t.assert_nothing_left();
}

#[test]
fn the_open_file_limit_is_raised_to_the_hard_limit() {
    let t = TestEnv::new();
    let mut m = String::from("id,command\n");
    for i in 0..120 {
        m.push_str(&format!("j{i},sleep 0.1\n"));
    }
    t.write("m.csv", m);
    let hard = Command::new("sh")
        .args(["-c", "ulimit -H -n"])
        .output()
        .unwrap();
    let hard = String::from_utf8_lossy(&hard.stdout).trim().to_string();
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg("ulimit -S -n 64 && exec \"$0\" -vv run -j 32 m.csv")
        .arg(BIN)
        .current_dir(t.dir.path())
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    let r = Live::start(c, &["-vv", "run", "-j", "32", "under ulimit -S -n 64"]).finish();
    r.code(0)
        .stderr_has("120 succeeded")
        .stderr_has(&format!("open-file limit: soft 64, raised to {hard}"));
    t.assert_nothing_left();
}

#[test]
fn manifest_inode_check_uses_the_real_file() {
    // A report next to the manifest with another name is fine: only the same inode is refused.
    let t = TestEnv::new();
    t.write("m.csv", MARKS_RAN);
    t.write("copy.json", MARKS_RAN);
    assert_ne!(
        fs::metadata(t.path("m.csv")).unwrap().ino(),
        fs::metadata(t.path("copy.json")).unwrap().ino()
    );
    t.run(&["run", "--report", "copy.json", "m.csv"]).code(0);
    assert!(t.read("copy.json").starts_with('{'));
}

/// Found by `fuzz/fuzz_targets/template.rs` (input kept in
/// `fuzz/regressions/template/private_use_markers`): private-use characters in a template's
/// own text collided with the substitution's internal markers.
#[test]
fn private_use_characters_in_a_template_are_kept() {
    let t = TestEnv::new();
    t.write(
        "m.csv",
        "id,command,x\na,\"echo '\u{E000} 1 \u{E001}' {x}\",v\n",
    );
    let r = t.run(&["run", "--dry-run", "m.csv"]);
    r.code(0);
    assert_eq!(r.stdout, "echo '\u{E000} 1 \u{E001}' v\n");
}
