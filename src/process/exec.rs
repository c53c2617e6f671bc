/*!
One attempt at one job: a child process in its own process group, waited for without polling,
terminated as a group, and never signalled after its process group may have been recycled.
Returns an [`Attempt`]; never prints.

How a child is waited for:

1. `clone3` with a stack kept per worker (see [`child`]; `posix_spawnp`, as std's fast path
   does, where that is not available; see [`spawn`]: with a prepared environment), with
   stdin from `/dev/null` and stdout/stderr going to files, so a flood of output can neither
   block the child on a full pipe nor grow our memory.
2. `pidfd_open` on the unreaped child, then `ppoll` on that pidfd and the cancel token's
   eventfd, with the job's time limit as the timeout. Exit, timeout and cancellation each
   wake the worker at once; nothing spins.
3. Termination is SIGTERM (then SIGCONT, for stopped members) to the group, `ppoll` on the pidfd for the grace time, then SIGKILL
   to the group. The leader is unreaped all this time, so the process group id is still in use
   and cannot name another group.
4. After the leader is reaped, leftover members of the group (background grandchildren) are
   still our children, because batchrun is a child subreaper (`PR_SET_CHILD_SUBREAPER`).
   One `waitid(P_PGID, WNOHANG)` tells whether any remain; if some do, they keep the group id
   alive while we terminate them the same way and reap them.
*/

mod child;
mod spawn;
pub(crate) mod spawner;
mod zygote;

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant, SystemTime};

pub use spawn::Output;
pub use spawner::{needed as spawners_needed, start as start_spawners, SpawnerGuard};

use crate::model::job::{CommandLine, JobSpec};
use crate::model::outcome::{Attempt, AttemptEnd, KillReason};
use crate::process::board::Board;
use crate::process::cancel::CancelToken;
use crate::process::group::{sweep_group, terminate_leader_group};
use crate::util::sys::{self};

/// Everything one attempt needs besides the job itself.
#[derive(Debug)]
pub struct ExecRequest<'a> {
    /// The job.
    pub job: &'a JobSpec,
    /// 1-based attempt number (`BATCHRUN_ATTEMPT`).
    pub attempt: u32,
    /// Where the job's stdout goes.
    pub stdout: Output,
    /// Where the job's stderr goes.
    pub stderr: Output,
    /// Time from SIGTERM to SIGKILL.
    pub grace: Duration,
    /// Stops the attempt when it reaches the terminate level.
    pub token: &'a CancelToken,
    /// The live status board: the attempt is on it from spawn until its child is reaped.
    pub board: Option<&'a Board>,
}

/// Why a spawn failed, naming what could not be run.
fn start_error(job: &JobSpec, err: &std::io::Error) -> String {
    let program = match &job.command {
        CommandLine::Direct(words) => words[0].as_str(),
        CommandLine::Shell(_) => "/bin/sh",
    };
    if let Some(dir) = &job.cwd {
        if !dir.is_dir() {
            return format!(
                "cannot start: working directory {} does not exist",
                dir.display()
            );
        }
    }
    format!("cannot start '{program}': {err}")
}

/// Runs one attempt to its end. Errors from the operating system while waiting are returned;
/// they are batchrun's own failures, not the job's.
pub fn run_attempt(req: ExecRequest<'_>) -> std::io::Result<Attempt> {
    let started_at = SystemTime::now();
    let t0 = Instant::now();
    // `_registered` lives to the end: the job's group stays off-limits to the stray reaper
    // until its leader is reaped and its group swept.
    let spawned = crate::process::reaper::spawn(|| {
        spawn::spawn(req.job, req.attempt, &req.stdout, &req.stderr)
    });
    let (pgid, _registered) = match spawned {
        Ok(c) => c,
        Err(e) => {
            return Ok(Attempt {
                end: AttemptEnd::StartFailed {
                    message: start_error(req.job, &e),
                    transient: matches!(
                        e.raw_os_error(),
                        Some(
                            libc::EAGAIN
                                | libc::ENOMEM
                                | libc::EMFILE
                                | libc::ENFILE
                                | libc::ETXTBSY
                        )
                    ),
                },
                started_at,
                duration: t0.elapsed(),
                leaked_processes: 0,
                usage: None,
            })
        }
    };
    drop((req.stdout, req.stderr)); // closes our copies of the output files
    let running = req
        .board
        .map(|b| b.enter(&req.job.id, pgid as u32, req.attempt));
    let pidfd = match pidfd_when_free(pgid, req.token) {
        Ok(fd) => fd,
        Err(e) => {
            // Cannot wait safely: kill the group while the leader is unreaped, then reap.
            let _ = sys::kill_group(pgid, libc::SIGKILL);
            let _ = sys::wait4(pgid);
            return Err(e);
        }
    };

    let time_limit = req.job.timeout;
    let waited = wait_or_cancel(&pidfd, req.token, time_limit).and_then(|woke| {
        let killed = match woke {
            Woke::Exited => None,
            Woke::Cancelled => Some(KillReason::Cancel),
            Woke::TimedOut => Some(KillReason::Timeout(time_limit.unwrap_or_default())),
        };
        if killed.is_some() {
            terminate_leader_group(pgid, &pidfd, req.grace)?;
        }
        Ok(killed)
    });
    let duration = t0.elapsed();
    let killed = match waited {
        Ok(k) => k,
        Err(e) => {
            // We cannot wait properly: kill the group while the leader is still unreaped
            // (so the group id is still ours), and leave no zombie behind.
            let _ = sys::kill_group(pgid, libc::SIGKILL);
            let _ = sys::wait4(pgid);
            let _ = sweep_group(pgid, Duration::ZERO);
            return Err(e);
        }
    };
    // Reaped with wait4 rather than `Child::wait`, for the rusage; the pid is still unreaped
    // (only the pidfd has been waited on), so it names our child.
    let (status, usage) = sys::wait4(pgid)?;
    drop(running);
    let leftovers = sweep_group(pgid, req.grace)?;
    // When batchrun terminated the job, whatever else was in its group was terminated with
    // it as a matter of course; only a job that ended by itself can leave processes behind.
    let leaked_processes = if killed.is_some() { 0 } else { leftovers };
    Ok(Attempt {
        end: AttemptEnd::Ended {
            exit_code: status.code(),
            signal: status.signal(),
            killed,
        },
        started_at,
        duration,
        leaked_processes,
        usage: Some(usage),
    })
}

/// How long a started job's pidfd may wait for a free descriptor before batchrun gives up.
const PIDFD_PATIENCE: Duration = Duration::from_secs(10);

/// `pidfd_open` on a child just spawned. Out of descriptors (`EMFILE`, `ENFILE`: other jobs'
/// capture files took the last ones between the spawn and now), the child already runs, so it
/// is not killed: the call is tried again every 10 ms while descriptors free up as other jobs
/// end, for at most [`PIDFD_PATIENCE`] and never once the run is being terminated. This is the
/// only place batchrun polls, and only while the system is out of descriptors.
fn pidfd_when_free(pid: libc::pid_t, token: &CancelToken) -> std::io::Result<OwnedFd> {
    let give_up = Instant::now() + PIDFD_PATIENCE;
    loop {
        match sys::pidfd_open(pid) {
            Err(e)
                if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
                    && Instant::now() < give_up
                    && !token.is_terminating() =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

/// What ended a wait.
enum Woke {
    Exited,
    Cancelled,
    TimedOut,
}

/// Blocks until the process behind `pidfd` exits, the token reaches the terminate level, or
/// `limit` passes.
fn wait_or_cancel(
    pidfd: &OwnedFd,
    token: &CancelToken,
    limit: Option<Duration>,
) -> std::io::Result<Woke> {
    let ready = sys::wait_readable(&[pidfd.as_fd(), token.wake_fd()], limit)?;
    Ok(if ready[0] {
        Woke::Exited
    } else if ready[1] {
        Woke::Cancelled
    } else {
        Woke::TimedOut
    })
}
