/*!
The live-status timers of a run, kept by the dispatcher: `--heartbeat` (a status line every
period) and `--slow` (a warning once per attempt that runs longer than the limit). The
dispatcher wakes for [`Monitor::next_wake`] in its one `select!` and turns what is due into
events; nothing here prints, and no thread of its own is needed.
*/

use std::time::{Duration, Instant};

use crate::process::board::{Board, Running, Snapshot};

/// What the monitor does.
#[derive(Debug, Clone, Copy, Default)]
pub struct MonitorSettings {
    /// Print the one-line status this often (`--heartbeat`, only when stderr is not a terminal).
    pub heartbeat: Option<Duration>,
    /// Warn about attempts running longer than this (`--slow`).
    pub slow: Option<Duration>,
}

/// What is due now.
#[derive(Debug, Default)]
pub(crate) struct Due {
    /// Attempts that just passed `--slow`, with the limit.
    pub(crate) slow: Vec<Running>,
    /// The heartbeat's snapshot, when one is due.
    pub(crate) heartbeat: Option<Snapshot>,
}

/// The heartbeat and slow-attempt timers.
#[derive(Debug)]
pub(crate) struct Monitor {
    settings: MonitorSettings,
    /// When the next heartbeat is due.
    next_beat: Option<Instant>,
    /// When an attempt may next pass `--slow`.
    next_slow: Option<Instant>,
}

impl Monitor {
    /// Timers for a run starting `now`.
    pub(crate) fn new(settings: MonitorSettings, now: Instant) -> Self {
        Monitor {
            settings,
            next_beat: settings.heartbeat.map(|d| now + d),
            // An attempt that starts from now on passes the limit at `now + limit` at the
            // earliest.
            next_slow: settings.slow.map(|d| now + d),
        }
    }

    /// When the dispatcher must wake up for the monitor.
    pub(crate) fn next_wake(&self) -> Option<Instant> {
        [self.next_beat, self.next_slow].into_iter().flatten().min()
    }

    /// What is due at `now`, read from `board`; moves the timers on.
    pub(crate) fn due(&mut self, board: &Board, now: Instant) -> Due {
        let mut due = Due::default();
        if let (Some(at), Some(limit)) = (self.next_slow, self.settings.slow) {
            if now >= at {
                let (slow, next) = board.take_slow(now, limit);
                due.slow = slow;
                // With nothing running, look again when an attempt starting now would be slow.
                self.next_slow = Some(next.unwrap_or(now + limit));
            }
        }
        if let (Some(beat), Some(every)) = (self.next_beat, self.settings.heartbeat) {
            if now >= beat {
                due.heartbeat = Some(board.snapshot());
                // On schedule, unless the run fell behind (a stopped process): then one period
                // from now, not a burst to catch up.
                let next = beat + every;
                self.next_beat = Some(if next > now { next } else { now + every });
            }
        }
        due
    }

    /// The `--slow` limit.
    pub(crate) fn slow_limit(&self) -> Option<Duration> {
        self.settings.slow
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeats_keep_their_schedule_and_slow_attempts_are_due_once() {
        let board = Board::new(2);
        let t0 = Instant::now();
        let settings = MonitorSettings {
            heartbeat: Some(Duration::from_secs(10)),
            slow: Some(Duration::from_secs(5)),
        };
        let mut m = Monitor::new(settings, t0);
        assert_eq!(m.next_wake(), Some(t0 + Duration::from_secs(5)));
        let _a = board.enter("a", 1, 1);
        let due = m.due(&board, t0 + Duration::from_secs(1));
        assert!(due.slow.is_empty() && due.heartbeat.is_none());
        let due = m.due(&board, Instant::now() + Duration::from_secs(6));
        assert_eq!(due.slow.len(), 1);
        assert!(due.heartbeat.is_none());
        let due = m.due(&board, Instant::now() + Duration::from_secs(11));
        assert!(due.slow.is_empty(), "warned twice");
        assert_eq!(due.heartbeat.unwrap().running.len(), 1);
    }
}
