/*!
The lifecycle of a process group whose leader batchrun started, shared by jobs
([`crate::process::exec`]) and the `--on-finish` hook: SIGTERM to the whole group (with
SIGCONT), SIGKILL after the grace time, and, once the leader is reaped, a sweep of whatever it
left behind.
*/

use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use crate::util::sys::{self, GroupWait};

/// SIGTERM to process group `pgid`, then SIGCONT, as systemd does: a stopped member (SIGSTOP,
/// SIGTTIN) would otherwise not act on SIGTERM before the grace time ends in SIGKILL.
fn sigterm_group(pgid: libc::pid_t) -> std::io::Result<()> {
    sys::kill_group(pgid, libc::SIGTERM)?;
    sys::kill_group(pgid, libc::SIGCONT)
}

/// SIGTERM to the group of a live, unreaped leader; SIGKILL after `grace` if it has not exited.
/// Returns once the leader has exited (still unreaped).
pub(crate) fn terminate_leader_group(
    pgid: libc::pid_t,
    pidfd: &OwnedFd,
    grace: Duration,
) -> std::io::Result<()> {
    sigterm_group(pgid)?;
    let exited = sys::wait_readable(&[pidfd.as_fd()], Some(grace))?[0];
    if !exited {
        sys::kill_group(pgid, libc::SIGKILL)?;
        sys::wait_readable(&[pidfd.as_fd()], None)?;
    }
    Ok(())
}

/// After the leader was reaped: terminates and reaps whatever is left in its process group.
/// Returns how many processes were still running (and so were terminated); processes that
/// had already ended by themselves are reaped without being counted.
///
/// Members that remain are our children (we are a subreaper), so they hold the group id until
/// we reap them: signalling the group cannot reach a recycled one.
pub(crate) fn sweep_group(pgid: libc::pid_t, grace: Duration) -> std::io::Result<u32> {
    loop {
        match sys::wait_group(pgid, true)? {
            GroupWait::Empty => return Ok(0),
            GroupWait::Reaped(_) => {}
            GroupWait::Running => break,
        }
    }
    let mut reaped = 0;
    log::debug!("process group {pgid}: processes left after its leader exited; terminating them");
    sigterm_group(pgid)?;
    let end = Instant::now() + grace;
    loop {
        // Wait (without polling) for the members we can see to exit, until the grace time ends.
        let pidfds: Vec<OwnedFd> = sys::group_members(pgid)
            .into_iter()
            .filter_map(|pid| sys::pidfd_open(pid).ok())
            .collect();
        let left = end.saturating_duration_since(Instant::now());
        if !pidfds.is_empty() && !left.is_zero() {
            let fds: Vec<_> = pidfds.iter().map(|f| f.as_fd()).collect();
            sys::wait_readable(&fds, Some(left))?;
        }
        loop {
            match sys::wait_group(pgid, true)? {
                GroupWait::Empty => return Ok(reaped),
                GroupWait::Reaped(_) => reaped += 1,
                GroupWait::Running => break,
            }
        }
        if Instant::now() >= end || pidfds.is_empty() {
            break;
        }
    }
    sys::kill_group(pgid, libc::SIGKILL)?;
    loop {
        match sys::wait_group(pgid, false)? {
            GroupWait::Empty => return Ok(reaped),
            GroupWait::Reaped(_) => reaped += 1,
            GroupWait::Running => unreachable!("blocking waitid does not report running children"),
        }
    }
}
