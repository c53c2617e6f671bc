/*!
Prompt reaping of the processes batchrun inherits as a child subreaper: daemonized helpers
(`setsid sleep 1 &`, double forks) that left their job's process group become our children
when their parent exits, and each becomes a zombie when it ends. Reaping them only at the end
of the run lets thousands pile up (and count against the process limit), so every worker
reaps them after each job.

A reaper must never reap a job's leader or a member of a live job's group before the job's
own wait does: that wait would then fail, or find the group empty too early. So:

- a worker holds the registry's read lock across `spawn` and registering the leader's pid
  (which is also its process group id), so no leader is ever unregistered but alive;
- a job's group is unregistered only after its wait has reaped the leader and swept the
  group;
- the reaper takes the write lock (no spawn half-done), lists our children from
  `/proc/self/task/TID/children`, and reaps with `waitid(P_PID, WNOHANG)` only zombies whose
  pid and process group are not registered jobs.

That sweep (the lock, a directory and a file per thread and per child in `/proc`) runs when
some child of ours has exited. With many workers that is nearly always true: another job's
leader that its worker has not reaped yet. So when the exited child the kernel names is such a
leader, the sweep runs only if none ran in the last [`SWEEP_EVERY`]; and it never waits for the
spawns under way (`try_write`: the child named may be one of theirs, exited before they
registered it). At 8 workers on 2 CPUs a sweep after most jobs, each waiting for the spawns
under way while they waited for it, cost W1 a fifth of its time (BENCHMARKS.md, *The release's
eighth session*). A stray is reaped at the first job's end that finds no spawn under way and
names it (or, named behind live leaders, at most every [`SWEEP_EVERY`]).
*/

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};

/// Held for reading across a spawn and its registration, for writing while reaping.
static SPAWNING: RwLock<()> = RwLock::new(());

/// The process group ids (= leader pids) of the jobs whose wait is not over.
static LIVE_GROUPS: Mutex<Option<HashSet<libc::pid_t>>> = Mutex::new(None);

/// How often at most a sweep runs when the exited child found is a live job's leader.
const SWEEP_EVERY: Duration = Duration::from_millis(10);

/// When the last sweep started, in ms since [`epoch`] (0: none yet).
static LAST_SWEEP_MS: AtomicU64 = AtomicU64::new(0);

/// The start of [`LAST_SWEEP_MS`]'s clock.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Whether the last sweep started long enough ago for another; if so, the time is taken (two
/// workers asking at once: one sweeps).
fn sweep_due() -> bool {
    let now = (epoch().elapsed().as_millis() as u64).max(1);
    let last = LAST_SWEEP_MS.load(Ordering::Relaxed);
    (last == 0 || now.saturating_sub(last) >= SWEEP_EVERY.as_millis() as u64)
        && LAST_SWEEP_MS
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
}

/// A registered job: dropping it unregisters the job's group and reaps stray zombies.
/// Drop it only once the job's leader is reaped and its group swept.
#[derive(Debug)]
pub struct Registered {
    pgid: libc::pid_t,
}

impl Drop for Registered {
    fn drop(&mut self) {
        if let Some(set) = LIVE_GROUPS.lock().as_mut() {
            set.remove(&self.pgid);
        }
        let n = reap_strays();
        if n > 0 {
            log::trace!("reaped {n} exited processes that had left their jobs");
        }
    }
}

/// Spawns a child with `start` (which returns its pid; the child must start its own process
/// group) and registers it as a live job.
pub fn spawn(
    start: impl FnOnce() -> std::io::Result<libc::pid_t>,
) -> std::io::Result<(libc::pid_t, Registered)> {
    let _spawning = SPAWNING.read();
    let pgid = start()?;
    LIVE_GROUPS
        .lock()
        .get_or_insert_with(HashSet::new)
        .insert(pgid);
    Ok((pgid, Registered { pgid }))
}

/// Reaps every exited child of ours that is neither a registered job's leader nor in a
/// registered job's process group. Returns how many were reaped.
pub fn reap_strays() -> usize {
    // The common case, no exited child at all, costs one system call and no lock.
    let Some(exited) = crate::util::sys::exited_child() else {
        return 0;
    };
    let live = LIVE_GROUPS
        .lock()
        .as_ref()
        .is_some_and(|set| set.contains(&exited));
    if live && !sweep_due() {
        return 0;
    }
    // Never wait for the spawns under way: each holds the lock until its child has `exec`ed,
    // and one may be the named child's own, not registered yet. A later job's end sweeps.
    let Some(_no_spawn) = SPAWNING.try_write() else {
        return 0;
    };
    let live: HashSet<libc::pid_t> = LIVE_GROUPS.lock().clone().unwrap_or_default();
    let mut reaped = 0;
    for pid in children() {
        if live.contains(&pid) {
            continue;
        }
        let stray_zombie = zombie_group(pid).is_some_and(|pgrp| !live.contains(&pgrp));
        if stray_zombie && crate::util::sys::reap_if_exited(pid) {
            reaped += 1;
        }
    }
    reaped
}

/// The pids of this process's children, from `/proc/self/task/TID/children`.
fn children() -> Vec<libc::pid_t> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|s| {
            s.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The process group of `pid` if it is a zombie.
fn zombie_group(pid: libc::pid_t) -> Option<libc::pid_t> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_zombie_group(&stat)
}

/// From the text of `/proc/PID/stat` ("pid (comm) state ppid pgrp ..."; comm may hold spaces
/// and parentheses): the process group, if the state is `Z`.
fn parse_zombie_group(stat: &str) -> Option<libc::pid_t> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    if fields.next()? != "Z" {
        return None;
    }
    fields.nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zombie_group_from_stat() {
        assert_eq!(parse_zombie_group("12 (sleep) Z 1 12 12 0"), Some(12));
        assert_eq!(parse_zombie_group("12 (a) Z (b)) Z 1 7 12 0"), Some(7));
        assert_eq!(parse_zombie_group("12 (sleep) S 1 12 12 0"), None);
        assert_eq!(parse_zombie_group("garbage"), None);
    }
}
