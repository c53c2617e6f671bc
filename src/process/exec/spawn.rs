/*!
Starting a job's process without std's per-spawn copy of the environment.

Once any variable is set on a `std::process::Command` (batchrun sets `BATCHRUN_JOB_ID` and
`BATCHRUN_ATTEMPT` on every job), each `spawn` copies the whole environment into a map and
then into a fresh array of C strings. Here the environment is copied into C strings once
([`Environment`]), and each job only adds its own variables ([`Overrides`]) and an array of
pointers, then starts the job with `clone3` ([`super::child::spawn`]), or calls `posix_spawnp`
as std does on its fast path (see [`crate::util::sys::spawn`]) where that is not available.
stdin and `--output none`'s stdout come from one `/dev/null` opened once for the run,
instead of one open per stream and job.

What std does is kept: the program is looked up in `PATH` by `posix_spawnp`; a row that sets
`PATH` for a program without a `/` makes std fall back to `fork` + `execvp` with the child's
`PATH`, so such a job (and every job, on a C library older than glibc 2.29) is started by
std's `Command` as before.
*/

use std::ffi::{CStr, CString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;

use crate::model::job::{CommandLine, JobSpec};
use crate::util::sys::{self, CStrArray};

/// Where one of a job's output streams goes.
#[derive(Debug)]
pub enum Output {
    /// `/dev/null`.
    Null,
    /// A file (the child gets its own descriptor of it).
    File(File),
}

impl From<File> for Output {
    fn from(f: File) -> Self {
        Output::File(f)
    }
}

/// One variable as `KEY=VALUE`, with the length of its key.
#[derive(Debug, Clone)]
struct Var {
    text: CString,
    key_len: usize,
}

impl Var {
    /// Splits as std's `env::vars_os` does: the key ends at the first `=` after its first byte;
    /// `None` for a string with no such `=`.
    fn parse(text: CString) -> Option<Var> {
        let bytes = text.as_bytes();
        let key_len = 1 + bytes.get(1..)?.iter().position(|&b| b == b'=')?;
        Some(Var { text, key_len })
    }

    fn key(&self) -> &[u8] {
        &self.text.as_bytes()[..self.key_len]
    }
}

/// The error std gives for a NUL byte in a program, argument or variable.
fn nul_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "nul byte found in provided data",
    )
}

fn cstring(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| nul_error())
}

/// batchrun's own environment as C strings, made once and shared by every spawn.
#[derive(Debug)]
pub struct Environment {
    /// Where the C library held each string when this copy was made, to notice a change.
    seen: Vec<usize>,
    /// The variables; for a key given twice, only the last (as std keeps).
    vars: Vec<Var>,
}

impl Environment {
    /// A copy of `vars` (`KEY=VALUE` strings, in environment order); `seen` as in [`Self::seen`].
    fn from_strings(seen: Vec<usize>, strings: impl IntoIterator<Item = CString>) -> Self {
        let parsed: Vec<Var> = strings.into_iter().filter_map(Var::parse).collect();
        let vars = parsed
            .iter()
            .enumerate()
            .filter(|(i, v)| parsed[i + 1..].iter().all(|later| later.key() != v.key()))
            .map(|(_, v)| v.clone())
            .collect();
        Environment { seen, vars }
    }

    /// This process's environment: the copy made earlier, or a new one if the environment has
    /// changed since (for a library user that sets variables between runs).
    pub fn current() -> Arc<Environment> {
        static CURRENT: Mutex<Option<Arc<Environment>>> = Mutex::new(None);
        let mut current = CURRENT.lock();
        if let Some(env) = current.as_ref().filter(|e| sys::environment_is(&e.seen)) {
            return Arc::clone(env);
        }
        let (seen, strings): (Vec<usize>, Vec<CString>) = sys::environment().into_iter().unzip();
        let env = Arc::new(Environment::from_strings(seen, strings));
        *current = Some(Arc::clone(&env));
        env
    }

    /// The environment of a child: these variables with `over` laid on top.
    pub fn strings<'a>(&'a self, over: &'a Overrides) -> impl Iterator<Item = &'a CStr> {
        let kept = self
            .vars
            .iter()
            .filter(|v| !over.vars.iter().any(|o| o.key() == v.key()));
        kept.chain(&over.vars).map(|v| v.text.as_c_str())
    }
}

/// The variables one job sets on top of batchrun's environment.
#[derive(Debug, Default)]
pub struct Overrides {
    vars: Vec<Var>,
}

impl Overrides {
    /// Sets `key` to `value`, replacing an earlier value set here (as `Command::env` does).
    pub fn set(&mut self, key: &[u8], value: &[u8]) -> io::Result<()> {
        let text = cstring(&[key, b"=", value].concat())?;
        self.vars.retain(|v| v.key() != key);
        self.vars.push(Var {
            text,
            key_len: key.len(),
        });
        Ok(())
    }
}

/// The program and arguments of a job.
fn words(job: &JobSpec) -> Vec<&[u8]> {
    match &job.command {
        CommandLine::Direct(words) => words.iter().map(|w| w.as_bytes()).collect(),
        CommandLine::Shell(s) => vec![b"/bin/sh", b"-c", s.as_bytes()],
    }
}

/// Whether std would not use `posix_spawn` for this job (a bare program name and a row that
/// sets `PATH`), or the C library is too old to report a failed `exec` (and to change
/// directory) from `posix_spawn`: glibc 2.29 has `posix_spawn_file_actions_addchdir_np`, and
/// reports exec errors since 2.24.
fn needs_std(job: &JobSpec) -> bool {
    let bare = words(job).first().is_some_and(|p| !p.contains(&b'/'));
    let sets_path = job.env.iter().any(|(k, _)| k == "PATH");
    (bare && sets_path) || !sys::can_spawn_in_dir()
}

/// `/dev/null`, opened once: read-only for stdin, write-only for output, as std opens it.
fn dev_null(write: bool) -> io::Result<BorrowedFd<'static>> {
    static READ: OnceLock<File> = OnceLock::new();
    static WRITE: OnceLock<File> = OnceLock::new();
    let cell = if write { &WRITE } else { &READ };
    if let Some(f) = cell.get() {
        return Ok(f.as_fd());
    }
    let f = File::options()
        .read(!write)
        .write(write)
        .open("/dev/null")?;
    Ok(cell.get_or_init(|| f).as_fd())
}

impl Output {
    fn fd(&self) -> io::Result<BorrowedFd<'_>> {
        match self {
            Output::Null => dev_null(true),
            Output::File(f) => Ok(f.as_fd()),
        }
    }

    fn stdio(&self) -> io::Result<Stdio> {
        Ok(match self {
            Output::Null => Stdio::null(),
            Output::File(f) => Stdio::from(f.try_clone()?),
        })
    }
}

/// Starts attempt `attempt` of `job` in a new process group, stdin from `/dev/null`, with its
/// row's variables, `BATCHRUN_JOB_ID` and `BATCHRUN_ATTEMPT` set: through a spawner process
/// ([`super::spawner`]) when there is one, else from batchrun itself. Returns the child's pid.
pub fn spawn(
    job: &JobSpec,
    attempt: u32,
    stdout: &Output,
    stderr: &Output,
) -> io::Result<libc::pid_t> {
    let mut over = Overrides::default();
    for (k, v) in &job.env {
        over.set(k.as_bytes(), v.as_bytes())?;
    }
    over.set(b"BATCHRUN_JOB_ID", job.id.as_bytes())?;
    over.set(b"BATCHRUN_ATTEMPT", attempt.to_string().as_bytes())?;
    let words = words(job)
        .into_iter()
        .map(cstring)
        .collect::<io::Result<Vec<CString>>>()?;
    let cwd = match &job.cwd {
        Some(dir) => Some(cstring(dir.as_os_str().as_bytes())?),
        None => None,
    };
    let base = Environment::current();
    let stdio = [dev_null(false)?, stdout.fd()?, stderr.fd()?];
    let argv: Vec<&CStr> = words.iter().map(CString::as_c_str).collect();
    let envp: Vec<&CStr> = base.strings(&over).collect();
    if let Some(started) = super::spawner::spawn(&argv, &envp, cwd.as_deref(), stdio) {
        return started;
    }
    if needs_std(job) {
        return spawn_std(job, attempt, stdout, stderr);
    }
    if let Some(started) = super::child::spawn(&argv, &envp, cwd.as_deref(), stdio) {
        return started;
    }
    sys::spawn(&sys::SpawnRequest {
        program: argv.first().copied().unwrap_or(c""),
        argv: &CStrArray::new(argv.iter().copied()),
        envp: &CStrArray::new(envp.iter().copied()),
        stdio,
        cwd: cwd.as_deref(),
    })
}

/// [`spawn`] through std's `Command`.
fn spawn_std(
    job: &JobSpec,
    attempt: u32,
    stdout: &Output,
    stderr: &Output,
) -> io::Result<libc::pid_t> {
    let words = words(job);
    let os = |b: &[u8]| std::ffi::OsStr::from_bytes(b).to_owned();
    let mut cmd = Command::new(os(words.first().copied().unwrap_or_default()));
    cmd.args(words.iter().skip(1).map(|w| os(w)));
    if let Some(dir) = &job.cwd {
        cmd.current_dir(dir);
    }
    cmd.envs(job.env.iter().map(|(k, v)| (k, v)))
        .env("BATCHRUN_JOB_ID", &job.id)
        .env("BATCHRUN_ATTEMPT", attempt.to_string())
        .stdin(Stdio::null())
        .stdout(stdout.stdio()?)
        .stderr(stderr.stdio()?)
        .process_group(0);
    // The child is reaped by pid (`sys::wait4`); dropping std's handle leaves it alone.
    Ok(cmd.spawn()?.id() as libc::pid_t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> CString {
        CString::new(s).unwrap()
    }

    fn strings(a: &CStrArray<'_>) -> Vec<String> {
        a.iter().map(|s| s.to_str().unwrap().to_string()).collect()
    }

    #[test]
    fn overrides_replace_inherited_variables_and_a_later_value_wins() {
        let env = Environment::from_strings(
            Vec::new(),
            [
                c("HOME=/root"),
                c("A=1"),
                c("B=2"),
                c("A=3"),
                c("=x=y"),
                c("junk"),
            ],
        );
        // A key given twice keeps its last value; "=x" is a key (as std parses it); no `=`: skipped.
        let keys: Vec<&[u8]> = env.vars.iter().map(Var::key).collect();
        assert_eq!(keys, [&b"HOME"[..], b"B", b"A", b"=x"]);
        let mut over = Overrides::default();
        over.set(b"B", b"row").unwrap();
        over.set(b"BATCHRUN_JOB_ID", b"j1").unwrap();
        over.set(b"B", b"again").unwrap();
        let block = CStrArray::new(env.strings(&over));
        assert_eq!(
            strings(&block),
            ["HOME=/root", "A=3", "=x=y", "BATCHRUN_JOB_ID=j1", "B=again"]
        );
        assert_eq!(
            over.set(b"K", b"a\0b").unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }

    #[test]
    fn the_copy_of_the_environment_is_reused_while_it_is_unchanged() {
        let a = Environment::current();
        let b = Environment::current();
        assert!(Arc::ptr_eq(&a, &b));
        let path = a.vars.iter().find(|v| v.key() == b"PATH");
        assert_eq!(
            path.map(|v| &v.text.as_bytes()[5..]),
            std::env::var_os("PATH").as_deref().map(OsStrExt::as_bytes)
        );
    }

    #[test]
    fn a_child_starts_with_no_signal_blocked() {
        let dir = tempfile::tempdir().unwrap();
        let out = File::create(dir.path().join("out")).unwrap();
        let job = crate::store::jobs::for_tests(&[("a", "grep SigBlk /proc/self/status")]).get(0);
        // SAFETY: plain data, initialised by sigemptyset.
        let mut block: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: blocks SIGUSR2 in this test's thread only.
        unsafe {
            libc::sigemptyset(&mut block);
            libc::sigaddset(&mut block, libc::SIGUSR2);
            libc::pthread_sigmask(libc::SIG_BLOCK, &block, std::ptr::null_mut());
        }
        let pid = spawn(&job, 1, &Output::File(out), &Output::Null);
        // SAFETY: unblocks it again.
        unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &block, std::ptr::null_mut()) };
        sys::wait4(pid.unwrap()).unwrap();
        let text = std::fs::read_to_string(dir.path().join("out")).unwrap();
        assert_eq!(text.trim(), "SigBlk:\t0000000000000000");
    }
}
