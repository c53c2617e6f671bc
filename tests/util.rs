//! Test helpers: a temporary directory per test, the real `batchrun` binary run in it, and
//! checks on what it leaves behind.
//!
//! Every job a test starts runs with its working directory inside the test's directory, so
//! [`TestEnv::live_processes`] finds any process a test left behind by its `/proc/PID/cwd`.

#![allow(dead_code)]

use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use wait_timeout::ChildExt;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_batchrun");

/// How long any single wait in a test may take before the test fails. Generous: tests must
/// pass on a loaded two-core machine; the limit only stops a broken test from hanging.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A temporary directory where a test writes manifests and runs batchrun.
pub struct TestEnv {
    pub dir: tempfile::TempDir,
}

impl TestEnv {
    pub fn new() -> TestEnv {
        // batchrun leaves a SIGHUP ignored at start ignored (`nohup`), and children inherit an
        // ignored signal: when the tests themselves run under nohup, the batchruns they start
        // must still see SIGHUP at its default, as from a terminal.
        static HANGUP_DEFAULT: std::sync::Once = std::sync::Once::new();
        // SAFETY: SIG_DFL is a valid disposition, and the test harness has no SIGHUP handler.
        HANGUP_DEFAULT.call_once(|| unsafe {
            libc::signal(libc::SIGHUP, libc::SIG_DFL);
        });
        TestEnv {
            dir: tempfile::Builder::new()
                .prefix("batchrun-test-")
                .tempdir()
                .unwrap(),
        }
    }

    /// The absolute path of `rel` inside the test directory.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes a file (creating parent directories) and returns its path.
    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(&p, contents).unwrap();
        p
    }

    /// Reads a file of the test directory as text ("" if missing).
    pub fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.path(rel)).unwrap_or_default()
    }

    /// A `batchrun` command run in the test directory, stdin from /dev/null, logs at default.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args)
            .current_dir(self.dir.path())
            .env_remove("RUST_LOG")
            .stdin(Stdio::null());
        c
    }

    /// Runs batchrun to completion and returns what it did.
    pub fn run(&self, args: &[&str]) -> Run {
        let child = self
            .cmd(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Run::wait(child, args)
    }

    /// Runs batchrun to completion with the time zone `tz` (the `TZ` variable).
    pub fn run_env(&self, args: &[&str], tz: &str) -> Run {
        let child = self
            .cmd(args)
            .env("TZ", tz)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Run::wait(child, args)
    }

    /// Starts batchrun in the background with piped output.
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.cmd(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Waits until `rel` exists (a job wrote it), failing the test after [`PATIENCE`].
    pub fn wait_for_file(&self, rel: &str) {
        let p = self.path(rel);
        let start = Instant::now();
        while !p.exists() {
            assert!(
                start.elapsed() < PATIENCE,
                "timed out waiting for {}",
                p.display()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits until `n` files named `prefix*` exist in the test directory.
    pub fn wait_for_files(&self, prefix: &str, n: usize) {
        let start = Instant::now();
        loop {
            let count = fs::read_dir(self.dir.path())
                .unwrap()
                .filter(|e| {
                    e.as_ref()
                        .unwrap()
                        .file_name()
                        .to_string_lossy()
                        .starts_with(prefix)
                })
                .count();
            if count >= n {
                return;
            }
            assert!(
                start.elapsed() < PATIENCE,
                "timed out waiting for {n} files {prefix}* (have {count})"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Pids of live processes whose working directory is inside the test directory.
    pub fn live_processes(&self) -> Vec<(i32, String)> {
        let root = fs::canonicalize(self.dir.path()).unwrap();
        let mut found = Vec::new();
        for e in fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let Ok(cwd) = fs::read_link(format!("/proc/{pid}/cwd")) else {
                continue;
            };
            if !cwd.starts_with(&root) {
                continue;
            }
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = stat
                .rfind(')')
                .and_then(|i| stat[i + 1..].split_whitespace().next().map(str::to_string))
                .unwrap_or_default();
            let cmdline = fs::read(format!("/proc/{pid}/cmdline"))
                .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
                .unwrap_or_default();
            found.push((pid, format!("[{state}] {cmdline}")));
        }
        found
    }

    /// Fails the test if any process (zombies included) is left in the test directory.
    pub fn assert_nothing_left(&self) {
        let left = self.live_processes();
        assert!(left.is_empty(), "processes left behind: {left:?}");
    }

    /// Parses a JSON file of the test directory.
    pub fn json(&self, rel: &str) -> serde_json::Value {
        let text =
            fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("cannot read {rel}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{rel} is not JSON: {e}\n{text}"))
    }
}

impl Drop for TestEnv {
    /// A failed test may leave jobs running: kill whatever still runs in the test directory.
    fn drop(&mut self) {
        for (pid, _) in self.live_processes() {
            // SAFETY: plain system call.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// A finished batchrun run.
pub struct Run {
    pub args: Vec<String>,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Waits (at most [`PATIENCE`]) for a spawned batchrun and collects its output.
    pub fn wait(mut child: Child, args: &[&str]) -> Run {
        // Read the pipes on threads so a chatty child cannot block on a full pipe.
        let mut out = child.stdout.take().unwrap();
        let mut err = child.stderr.take().unwrap();
        let t_out = std::thread::spawn(move || {
            let mut s = Vec::new();
            std::io::Read::read_to_end(&mut out, &mut s).unwrap();
            s
        });
        let t_err = std::thread::spawn(move || {
            let mut s = Vec::new();
            std::io::Read::read_to_end(&mut err, &mut s).unwrap();
            s
        });
        let status = match child.wait_timeout(PATIENCE).unwrap() {
            Some(s) => s,
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("batchrun {args:?} did not finish within {PATIENCE:?}");
            }
        };
        Run {
            args: args.iter().map(|s| s.to_string()).collect(),
            code: status.code(),
            stdout: String::from_utf8_lossy(&t_out.join().unwrap()).into_owned(),
            stderr: String::from_utf8_lossy(&t_err.join().unwrap()).into_owned(),
        }
    }

    /// Asserts the exit code, printing everything about the run if it differs.
    pub fn code(&self, expected: i32) -> &Run {
        assert_eq!(
            self.code,
            Some(expected),
            "batchrun {:?}: expected exit {expected}, got {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.args,
            self.code,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Asserts that stderr contains `needle`.
    pub fn stderr_has(&self, needle: &str) -> &Run {
        assert!(
            self.stderr.contains(needle),
            "stderr of batchrun {:?} lacks {needle:?}:\n{}",
            self.args,
            self.stderr
        );
        self
    }

    /// Asserts that stdout contains `needle`.
    pub fn stdout_has(&self, needle: &str) -> &Run {
        assert!(
            self.stdout.contains(needle),
            "stdout of batchrun {:?} lacks {needle:?}:\n{}",
            self.args,
            self.stdout
        );
        self
    }
}

/// Sends `signal` to a process.
pub fn kill(pid: u32, signal: libc::c_int) {
    // SAFETY: plain system call.
    assert_eq!(unsafe { libc::kill(pid as i32, signal) }, 0);
}

/// The status of a job in a parsed JSON report.
pub fn job_status<'a>(report: &'a serde_json::Value, id: &str) -> &'a str {
    report["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["id"] == id)
        .unwrap_or_else(|| panic!("no job {id} in report"))["status"]
        .as_str()
        .unwrap()
}

/// The job object of a parsed JSON report.
pub fn job<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["id"] == id)
        .unwrap_or_else(|| panic!("no job {id} in report"))
}

impl Drop for Live {
    /// A failed test must not leave batchrun running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A batchrun running in the background whose stderr is read line by line as it comes, so a
/// test can wait for a message (such as the notice that a signal was received).
pub struct Live {
    pub child: Child,
    args: Vec<String>,
    lines: crossbeam_channel::Receiver<String>,
    stderr_seen: Vec<String>,
    stdout: Option<std::thread::JoinHandle<Vec<u8>>>,
    stderr: Option<std::thread::JoinHandle<()>>,
}

impl Live {
    /// Starts `cmd` (from [`TestEnv::cmd`], possibly adjusted) with piped output.
    pub fn start(mut cmd: Command, args: &[&str]) -> Live {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        let (tx, rx) = crossbeam_channel::unbounded();
        let stdout = std::thread::spawn(move || {
            let mut s = Vec::new();
            std::io::Read::read_to_end(&mut out, &mut s).unwrap();
            s
        });
        let stderr = std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        Live {
            child,
            args: args.iter().map(|s| s.to_string()).collect(),
            lines: rx,
            stderr_seen: Vec::new(),
            stdout: Some(stdout),
            stderr: Some(stderr),
        }
    }

    /// The pid of batchrun.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for a stderr line containing `needle`.
    /// Waits for the next stderr line holding `needle` and returns it.
    pub fn next_stderr_with(&mut self, needle: &str) -> String {
        self.wait_stderr(needle);
        self.stderr_seen.last().cloned().unwrap_or_default()
    }

    pub fn wait_stderr(&mut self, needle: &str) {
        let end = Instant::now() + PATIENCE;
        loop {
            match self.lines.recv_deadline(end) {
                Ok(line) => {
                    let hit = line.contains(needle);
                    self.stderr_seen.push(line);
                    if hit {
                        return;
                    }
                }
                Err(_) => panic!(
                    "batchrun {:?}: no stderr line with {needle:?}; stderr so far:\n{}",
                    self.args,
                    self.stderr_seen.join("\n")
                ),
            }
        }
    }

    /// Waits for batchrun to exit and collects everything it printed.
    pub fn finish(mut self) -> Run {
        let status = match self.child.wait_timeout(PATIENCE).unwrap() {
            Some(s) => s,
            None => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "batchrun {:?} did not finish within {PATIENCE:?}",
                    self.args
                );
            }
        };
        self.stderr.take().unwrap().join().unwrap();
        let seen: Vec<String> = self.lines.try_iter().collect();
        self.stderr_seen.extend(seen);
        Run {
            args: std::mem::take(&mut self.args),
            code: status.code(),
            stdout: String::from_utf8_lossy(&self.stdout.take().unwrap().join().unwrap())
                .into_owned(),
            stderr: self.stderr_seen.join("\n") + "\n",
        }
    }
}
