/*!
Live status of a run, kept outside the dispatcher: a [`Board`] of the attempts running now and
the counts of jobs finished so far, and a [`Monitor`] thread that shows it.

* Workers put an attempt on the board when its child is spawned and take it off when the child
  is reaped ([`Board::enter`] returns a guard; see [`crate::process::exec`]). The dispatcher calls
  [`Board::finished`] when a job gets its final result. Both hold the board's lock for a few
  instructions only. The board reaches them through the run's context ([`Live::board`]).
* The monitor prints the status on `SIGUSR1` (a `signal-hook` iterator turned into a channel,
  so the signal never reaches the `ctrlc` handler of [`crate::process::cancel`]), every `--heartbeat`
  period, and a warning once per attempt that runs longer than `--slow`. It blocks on its
  channels with a timeout to the next due time; it never polls.
*/

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{never, select, Receiver, Sender};
use parking_lot::Mutex;

use crate::model::outcome::Status;
use crate::util::text::human;

/// At most this many running jobs are named in a one-line status (a heartbeat).
const LINE_JOBS: usize = 10;

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
    slow_warned: bool,
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
        }
    }

    /// Puts a spawned attempt on the board until the returned guard is dropped.
    pub fn enter(&self, id: &str, pid: u32, attempt: u32) -> Entry<'_> {
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
        let k = Status::ALL.iter().position(|&s| s == status).unwrap_or(0);
        self.inner.lock().counts[k] += 1;
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
    fn take_slow(&self, now: Instant, limit: Duration) -> (Vec<Running>, Option<Instant>) {
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

/// Live status for one run: its board and its [`Monitor`].
#[derive(Debug)]
pub struct Live {
    board: Arc<Board>,
    monitor: Monitor,
}

impl Live {
    /// Starts live status for a run with `total` jobs to finish.
    pub fn start(total: usize, settings: MonitorSettings) -> Live {
        let board = Arc::new(Board::new(total));
        Live {
            monitor: Monitor::start(board.clone(), settings),
            board,
        }
    }

    /// The board the run's workers and dispatcher keep up to date.
    pub fn board(&self) -> &Board {
        &self.board
    }

    /// Stops the monitor.
    pub fn stop(self) {
        self.monitor.stop();
    }
}

/// `12/40 done (10 succeeded, 2 failed), 3 running, 1m 4s elapsed`.
fn counts_text(s: &Snapshot) -> String {
    let done: usize = s.counts.iter().sum();
    let parts: Vec<String> = Status::ALL
        .iter()
        .zip(s.counts)
        .filter(|&(_, n)| n > 0)
        .map(|(st, n)| format!("{n} {}", st.as_str().replace('_', " ")))
        .collect();
    let detail = if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    };
    format!(
        "{done}/{} done{detail}, {} running, {} elapsed",
        s.total,
        s.running.len(),
        human(s.elapsed)
    )
}

/// One running attempt: `report-eu (pid 4242, attempt 2, 31.0s)`.
fn running_text(r: &Running, now: Instant) -> String {
    format!(
        "{} (pid {}, attempt {}, {})",
        r.id,
        r.pid,
        r.attempt,
        human(now.saturating_duration_since(r.started))
    )
}

/// The one-line status (heartbeats): the counts, then the running jobs, at most
/// ten of them by name.
pub fn status_line(s: &Snapshot, now: Instant) -> String {
    let mut line = format!("status: {}", counts_text(s));
    if !s.running.is_empty() {
        let named: Vec<String> = s
            .running
            .iter()
            .take(LINE_JOBS)
            .map(|r| running_text(r, now))
            .collect();
        let _ = write!(line, "; running: {}", named.join(", "));
        if s.running.len() > LINE_JOBS {
            let _ = write!(line, " and {} more", s.running.len() - LINE_JOBS);
        }
    }
    line
}

/// The full status (`SIGUSR1`): the counts line, then one line per running job.
pub fn status_report(s: &Snapshot, now: Instant) -> Vec<String> {
    let mut lines = vec![format!("status: {}", counts_text(s))];
    lines.extend(
        s.running
            .iter()
            .map(|r| format!("  running: {}", running_text(r, now))),
    );
    lines
}

/// The `--slow` warning for one attempt.
pub fn slow_line(r: &Running, now: Instant, limit: Duration) -> String {
    format!(
        "slow: job {} has been running for {} (attempt {}, pid {}; --slow {})",
        r.id,
        human(now.saturating_duration_since(r.started)),
        r.attempt,
        r.pid,
        humantime::format_duration(limit)
    )
}

/// What the monitor does.
#[derive(Debug, Clone, Copy, Default)]
pub struct MonitorSettings {
    /// Print the one-line status this often (`--heartbeat`, only when stderr is not a terminal).
    pub heartbeat: Option<Duration>,
    /// Warn about attempts running longer than this (`--slow`).
    pub slow: Option<Duration>,
    /// Print the status on `SIGUSR1`.
    pub usr1: bool,
}

/// The monitor thread; [`Monitor::stop`] ends and joins it.
#[derive(Debug)]
pub struct Monitor {
    /// Dropped to stop the monitor thread.
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
    /// The `SIGUSR1` forwarder: its handle closes the signal iterator; then it is joined.
    usr1: Option<(signal_hook::iterator::Handle, JoinHandle<()>)>,
}

/// Starts a thread that turns `SIGUSR1` into messages on a channel.
fn forward_usr1() -> std::io::Result<(Receiver<()>, signal_hook::iterator::Handle, JoinHandle<()>)>
{
    let mut signals = signal_hook::iterator::Signals::new([libc::SIGUSR1])?;
    let handle = signals.handle();
    let (tx, rx) = crossbeam_channel::unbounded();
    let thread = std::thread::Builder::new()
        .name("batchrun-usr1".into())
        .spawn(move || {
            for _ in signals.forever() {
                if tx.send(()).is_err() {
                    break;
                }
            }
        })?;
    Ok((rx, handle, thread))
}

impl Monitor {
    /// Starts the monitor for `board`. Does nothing (and starts no thread) when `settings`
    /// ask for nothing.
    pub fn start(board: Arc<Board>, settings: MonitorSettings) -> Monitor {
        let mut m = Monitor {
            stop: None,
            thread: None,
            usr1: None,
        };
        let mut usr1_rx = None;
        if settings.usr1 {
            match forward_usr1() {
                Ok((rx, handle, thread)) => {
                    usr1_rx = Some(rx);
                    m.usr1 = Some((handle, thread));
                }
                Err(e) => log::warn!("cannot handle SIGUSR1 ({e}): no status on request"),
            }
        }
        if usr1_rx.is_none() && settings.heartbeat.is_none() && settings.slow.is_none() {
            return m;
        }
        let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(0);
        let spawned = std::thread::Builder::new()
            .name("batchrun-monitor".into())
            .spawn(move || monitor_loop(&board, settings, &stop_rx, usr1_rx));
        match spawned {
            Ok(t) => {
                m.stop = Some(stop_tx);
                m.thread = Some(t);
            }
            Err(e) => log::warn!("cannot start the status monitor ({e}): no live status"),
        }
        m
    }

    /// Stops the monitor and joins its threads.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Some((handle, t)) = self.usr1.take() {
            handle.close();
            let _ = t.join();
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// The monitor thread: waits for `SIGUSR1`, the next heartbeat or the next slow attempt,
/// whichever comes first, until `stop` is disconnected.
fn monitor_loop(
    board: &Board,
    settings: MonitorSettings,
    stop: &Receiver<()>,
    usr1: Option<Receiver<()>>,
) {
    let usr1 = usr1.unwrap_or_else(never);
    let mut next_beat = settings.heartbeat.map(|d| Instant::now() + d);
    loop {
        let now = Instant::now();
        let next_slow = settings.slow.map(|limit| {
            let (slow, due) = board.take_slow(now, limit);
            for r in &slow {
                crate::output::console::eprint_line(&slow_line(r, now, limit));
            }
            // With nothing running, an attempt that starts from now on is due in `limit` at
            // the earliest: look again then.
            due.unwrap_or(now + limit)
        });
        if let (Some(beat), Some(every)) = (next_beat, settings.heartbeat) {
            if now >= beat {
                crate::output::console::eprint_line(&status_line(&board.snapshot(), now));
                // On schedule, unless the monitor fell behind (a stopped process): then
                // one period from now, not a burst to catch up.
                let next = beat + every;
                next_beat = Some(if next > now { next } else { now + every });
            }
        }
        let due = [next_beat, next_slow].into_iter().flatten().min();
        let timer = due.map_or_else(never, crossbeam_channel::at);
        select! {
            recv(stop) -> _ => return,
            recv(usr1) -> _ => {
                let now = Instant::now();
                for line in status_report(&board.snapshot(), now) {
                    crate::output::console::eprint_line(&line);
                }
            }
            recv(timer) -> _ => {}
        }
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

    fn snapshot(running: usize) -> (Snapshot, Instant) {
        let now = Instant::now();
        let mut counts = [0; Status::ALL.len()];
        counts[0] = 3;
        counts[1] = 1;
        let running = (0..running)
            .map(|i| Running {
                id: format!("job{i}"),
                pid: 100 + i as u32,
                attempt: 1,
                started: now - Duration::from_secs(2),
                slow_warned: false,
            })
            .collect();
        let s = Snapshot {
            elapsed: Duration::from_secs(75),
            total: 10,
            running,
            counts,
        };
        (s, now)
    }

    #[test]
    fn status_texts() {
        let (s, now) = snapshot(2);
        assert_eq!(
            status_line(&s, now),
            "status: 4/10 done (3 succeeded, 1 failed), 2 running, 1m 15s elapsed; \
running: job0 (pid 100, attempt 1, 2.0s), job1 (pid 101, attempt 1, 2.0s)"
        );
        let report = status_report(&s, now);
        assert_eq!(report.len(), 3);
        assert_eq!(report[1], "  running: job0 (pid 100, attempt 1, 2.0s)");
        let (many, now) = snapshot(12);
        assert!(status_line(&many, now).ends_with("job9 (pid 109, attempt 1, 2.0s) and 2 more"));
        assert_eq!(
            slow_line(&s.running[0], now, Duration::from_secs(1)),
            "slow: job job0 has been running for 2.0s (attempt 1, pid 100; --slow 1s)"
        );
    }
}
