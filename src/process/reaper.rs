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
*/

use std::collections::HashSet;

use parking_lot::{Mutex, RwLock};

/// Held for reading across a spawn and its registration, for writing while reaping.
static SPAWNING: RwLock<()> = RwLock::new(());

/// The process group ids (= leader pids) of the jobs whose wait is not over.
static LIVE_GROUPS: Mutex<Option<HashSet<libc::pid_t>>> = Mutex::new(None);

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
    if !crate::util::sys::any_exited_child() {
        return 0;
    }
    let _no_spawn = SPAWNING.write();
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
