/*!
The live board of a run: the attempts running now and the counts of jobs finished so far.

Workers put an attempt on the board when its child is spawned and take it off when the child is
reaped ([`Board::enter`] returns a guard; see [`crate::process::exec`]). The dispatcher calls
[`Board::finished`] when a job gets its final result, and reads a [`Snapshot`] for the status
events of `SIGUSR1`, `--heartbeat` and `--slow` ([`crate::run::monitor`]). Both hold the
board's lock for a few instructions only.
*/

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{Receiver, Sender};
use parking_lot::Mutex;

use crate::model::outcome::Status;

/// One attempt running now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Running {
    /// The job's id.
    pub id: String,
    /// The pid of its main process (also its process group id).
    pub pid: u32,
    /// 1-based attempt number.
    pub attempt: u32,
    /// When its child was spawned.
    pub started: Instant,
    /// Whether the `--slow` warning was given for this attempt.
    pub(crate) slow_warned: bool,
}

/// What the board holds, behind its lock.
#[derive(Debug, Default)]
struct Inner {
    /// Key of the next attempt put on the board.
    next_key: u64,
    /// Running attempts by key, so in the order they started.
    running: BTreeMap<u64, Running>,
    /// Finished jobs per status, in [`Status::ALL`] order.
    counts: [usize; Status::ALL.len()],
}

/// The attempts running now and the counts of finished jobs.
#[derive(Debug)]
pub struct Board {
    /// When the run started.
    started: Instant,
    /// Jobs the run has to finish (resumed jobs are not counted).
    total: usize,
    /// Shared by workers, the dispatcher and the monitor; held only for short updates.
    inner: Mutex<Inner>,
    /// With [`Board::with_starts`]: every attempt put on the board is also told here.
    starts: Option<(Sender<Started>, Receiver<Started>)>,
}

/// An attempt whose process was just spawned, as [`Board::with_starts`] tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    /// The job's id.
    pub id: String,
    /// The pid of its main process.
    pub pid: u32,
    /// 1-based attempt number.
    pub attempt: u32,
    /// When it was spawned.
    pub at: SystemTime,
}

/// A copy of the board at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Time since the run started.
    pub elapsed: Duration,
    /// Jobs the run has to finish.
    pub total: usize,
    /// Running attempts, in the order they started.
    pub running: Vec<Running>,
    /// Finished jobs per status, in [`Status::ALL`] order.
    pub counts: [usize; Status::ALL.len()],
}

/// Takes an attempt off the board when dropped (when its child has been reaped, or on any
/// error path).
#[derive(Debug)]
pub struct Entry<'a> {
    board: &'a Board,
    key: u64,
}

impl Drop for Entry<'_> {
    fn drop(&mut self) {
        self.board.inner.lock().running.remove(&self.key);
    }
}

impl Board {
    /// An empty board for a run with `total` jobs to finish.
    pub fn new(total: usize) -> Self {
        Board {
            started: Instant::now(),
            total,
            inner: Mutex::new(Inner::default()),
            starts: None,
        }
    }

    /// A board that also tells every attempt put on it, as it is spawned, on
    /// [`Board::starts`] (for `--events`; a board without costs nothing more).
    pub fn with_starts(total: usize) -> Self {
        Board {
            starts: Some(crossbeam_channel::unbounded()),
            ..Board::new(total)
        }
    }

    /// Where a board made [`Board::with_starts`] tells the attempts spawned, in the order they
    /// were put on it. The worker tells a start before it reports the attempt's end, so a
    /// reader that empties this before handling an attempt's end has seen its start.
    pub fn starts(&self) -> Option<&Receiver<Started>> {
        self.starts.as_ref().map(|(_, rx)| rx)
    }

    /// Puts a spawned attempt on the board until the returned guard is dropped.
    pub fn enter(&self, id: &str, pid: u32, attempt: u32) -> Entry<'_> {
        if let Some((tx, _)) = &self.starts {
            let _ = tx.send(Started {
                id: id.to_string(),
                pid,
                attempt,
                at: SystemTime::now(),
            });
        }
        let running = Running {
            id: id.to_string(),
            pid,
            attempt,
            started: Instant::now(),
            slow_warned: false,
        };
        let mut inner = self.inner.lock();
        let key = inner.next_key;
        inner.next_key += 1;
        inner.running.insert(key, running);
        Entry { board: self, key }
    }

    /// A job got its final result.
    pub fn finished(&self, status: Status) {
        self.inner.lock().counts[status.index()] += 1;
    }

    /// A copy of the board now.
    pub fn snapshot(&self) -> Snapshot {
        let inner = self.inner.lock();
        Snapshot {
            elapsed: self.started.elapsed(),
            total: self.total,
            running: inner.running.values().cloned().collect(),
            counts: inner.counts,
        }
    }

    /// The attempts that have now run longer than `limit` and were not warned about yet
    /// (marked as warned), and when the next one will be due (`None`: nothing else runs).
    pub(crate) fn take_slow(
        &self,
        now: Instant,
        limit: Duration,
    ) -> (Vec<Running>, Option<Instant>) {
        let mut inner = self.inner.lock();
        let mut slow = Vec::new();
        let mut next = None::<Instant>;
        for r in inner.running.values_mut().filter(|r| !r.slow_warned) {
            let due = r.started + limit;
            if due <= now {
                r.slow_warned = true;
                slow.push(r.clone());
            } else {
                next = Some(next.map_or(due, |n| n.min(due)));
            }
        }
        (slow, next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn board_tracks_running_and_finished() {
        let b = Board::new(3);
        let a = b.enter("a", 10, 1);
        let c = b.enter("c", 11, 2);
        b.finished(Status::Succeeded);
        b.finished(Status::Failed);
        let s = b.snapshot();
        assert_eq!(s.running.len(), 2);
        assert_eq!(s.running[0].id, "a");
        assert_eq!(s.counts[0] + s.counts[1], 2);
        drop(a);
        assert_eq!(b.snapshot().running[0].id, "c");
        drop(c);
        assert!(b.snapshot().running.is_empty());
    }

    #[test]
    fn slow_attempts_are_warned_once() {
        let b = Board::new(2);
        let _a = b.enter("a", 10, 1);
        let t0 = b.snapshot().running[0].started;
        let limit = Duration::from_secs(5);
        let (slow, next) = b.take_slow(t0 + Duration::from_secs(1), limit);
        assert!(slow.is_empty());
        assert_eq!(next, Some(t0 + limit));
        let (slow, next) = b.take_slow(t0 + Duration::from_secs(6), limit);
        assert_eq!(slow.len(), 1);
        assert_eq!(next, None);
        let (slow, _) = b.take_slow(t0 + Duration::from_secs(60), limit);
        assert!(slow.is_empty(), "warned twice");
    }
}
