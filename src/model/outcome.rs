/*!
What happened: one [`Attempt`] per child process started, one [`JobResult`] per job, and the
run's [`RunOutcome`]. Plain values: an attempt says what went wrong in words
([`Attempt::error`], the report's `error`), and `crate::output` renders the rest.
*/

use std::time::{Duration, SystemTime};

use crate::util::sys::Usage;
use crate::util::text::plural;
use serde::Serialize;

/// A job's final status (README's *Job statuses*).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Exit status 0.
    Succeeded,
    /// Non-zero exit, or killed by a signal batchrun did not send.
    Failed,
    /// Its own time limit ran out.
    TimedOut,
    /// Could not be started.
    StartFailed,
    /// A job in its `after` did not succeed.
    Skipped,
    /// Terminated by batchrun because the run was stopped.
    Cancelled,
    /// Never started because the run stopped.
    NotStarted,
    /// Succeeded in an earlier run, per the joblog.
    Resumed,
}

impl Status {
    /// Every status, in report order.
    pub const ALL: [Status; 8] = [
        Status::Succeeded,
        Status::Failed,
        Status::TimedOut,
        Status::StartFailed,
        Status::Skipped,
        Status::Cancelled,
        Status::NotStarted,
        Status::Resumed,
    ];

    /// Its position in [`Status::ALL`].
    pub fn index(self) -> usize {
        Status::ALL
            .iter()
            .position(|&s| s == self)
            .expect("every status is in ALL")
    }

    /// The name used in reports and the joblog.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::TimedOut => "timed_out",
            Status::StartFailed => "start_failed",
            Status::Skipped => "skipped",
            Status::Cancelled => "cancelled",
            Status::NotStarted => "not_started",
            Status::Resumed => "resumed",
        }
    }

    /// `failed`, `timed_out`, `start_failed` and `skipped` are failures.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            Status::Failed | Status::TimedOut | Status::StartFailed | Status::Skipped
        )
    }

    /// Listed among the jobs that went wrong: a failure, or a job batchrun terminated.
    pub fn went_wrong(self) -> bool {
        self.is_failure() || self == Status::Cancelled
    }

    /// Satisfies a dependent's `after`.
    pub fn is_success(self) -> bool {
        matches!(self, Status::Succeeded | Status::Resumed)
    }
}

/// Why batchrun terminated a running job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillReason {
    /// The job's own time limit.
    Timeout(Duration),
    /// The run was stopped (second signal, fail-fast, max-failures, deadline).
    Cancel,
    /// Not batchrun: the job died of a stop signal (SIGTERM, SIGINT, SIGHUP) within
    /// [`STOP_SIGNAL_WINDOW`] of batchrun receiving one, as when a cluster engine signals every
    /// process of a task at once (`scancel`). The job was stopped with the run.
    StopSignal,
}

/// How close (before or after) a job's death by a stop signal must be to batchrun receiving
/// one for the job to count as `cancelled` with the run ([`KillReason::StopSignal`]).
pub const STOP_SIGNAL_WINDOW: Duration = Duration::from_secs(1);

/// How one started process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptEnd {
    /// The process could not be started.
    StartFailed {
        /// Why, naming what could not be run.
        message: String,
        /// The cause may go away by itself (the system was short of processes, memory or
        /// file descriptors, or the program file was busy), so a retry can help.
        transient: bool,
    },
    /// The main process ended.
    Ended {
        /// Its exit code, if it exited.
        exit_code: Option<i32>,
        /// The signal that killed it, if one did.
        signal: Option<i32>,
        /// Set when batchrun terminated it.
        killed: Option<KillReason>,
    },
}

/// One attempt at a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// How it ended.
    pub end: AttemptEnd,
    /// Wall-clock start.
    pub started_at: SystemTime,
    /// From start until the main process ended.
    pub duration: Duration,
    /// Processes left in the job's process group after its main process ended, which batchrun
    /// then terminated.
    pub leaked_processes: u32,
    /// Resource use of the main process and its waited-for descendants (`None` when it never
    /// started, or could not be reaped normally).
    pub usage: Option<Usage>,
}

impl Attempt {
    /// A start failure that waiting may cure: no process, memory or descriptor free.
    pub fn is_transient_start_failure(&self) -> bool {
        matches!(
            &self.end,
            AttemptEnd::StartFailed {
                transient: true,
                ..
            }
        )
    }

    /// The status this attempt alone would give the job.
    pub fn status(&self) -> Status {
        match &self.end {
            AttemptEnd::StartFailed { .. } => Status::StartFailed,
            AttemptEnd::Ended {
                killed: Some(KillReason::Timeout(_)),
                ..
            } => Status::TimedOut,
            AttemptEnd::Ended {
                killed: Some(KillReason::Cancel | KillReason::StopSignal),
                ..
            } => Status::Cancelled,
            AttemptEnd::Ended {
                exit_code: Some(0), ..
            } => Status::Succeeded,
            AttemptEnd::Ended { .. } => Status::Failed,
        }
    }

    /// Whether the main process died of a stop signal (SIGTERM, SIGINT, SIGHUP) that batchrun
    /// did not send.
    pub fn died_of_stop_signal(&self) -> bool {
        matches!(
            self.end,
            AttemptEnd::Ended {
                exit_code: None,
                signal: Some(libc::SIGTERM | libc::SIGINT | libc::SIGHUP),
                killed: None,
            }
        )
    }

    /// When the main process ended (wall clock).
    pub fn ended_at(&self) -> SystemTime {
        self.started_at + self.duration
    }

    /// Whether another attempt could end differently: after a failure or a timeout, or a
    /// start failure with a transient cause; never after a cancellation.
    pub fn retryable(&self) -> bool {
        match &self.end {
            AttemptEnd::StartFailed { transient, .. } => *transient,
            _ => matches!(self.status(), Status::Failed | Status::TimedOut),
        }
    }

    /// A one-line reason for a result that is not a success.
    pub fn error(&self) -> Option<String> {
        let leaked = match self.leaked_processes {
            0 => String::new(),
            n => format!(
                "; {} in its process group terminated",
                plural(n as usize, "leftover process")
            ),
        };
        let base = match &self.end {
            AttemptEnd::StartFailed { message, .. } => Some(message.clone()),
            AttemptEnd::Ended {
                killed: Some(KillReason::Timeout(limit)),
                ..
            } => Some(format!(
                "timed out after {}",
                humantime::format_duration(*limit)
            )),
            AttemptEnd::Ended {
                killed: Some(KillReason::Cancel),
                ..
            } => Some("terminated: the run was stopped".to_string()),
            AttemptEnd::Ended {
                killed: Some(KillReason::StopSignal),
                signal,
                ..
            } => Some(format!(
                "killed by {}, as the run was stopped",
                signal.map_or_else(|| "a stop signal".into(), crate::util::sys::signal_name)
            )),
            AttemptEnd::Ended {
                exit_code: Some(0), ..
            } => None,
            AttemptEnd::Ended {
                exit_code: Some(c), ..
            } => Some(format!("exit status {c}")),
            AttemptEnd::Ended {
                signal: Some(s), ..
            } => Some(format!(
                "killed by signal {s} ({})",
                crate::util::sys::signal_name(*s)
            )),
            AttemptEnd::Ended { .. } => Some("ended without a status".to_string()),
        };
        match base {
            Some(b) => Some(b + &leaked),
            None if self.leaked_processes > 0 => Some(leaked.trim_start_matches("; ").to_string()),
            None => None,
        }
    }
}

/// A job's final result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobResult {
    /// Final status.
    pub status: Status,
    /// Child processes started for it (0 when it never started).
    pub attempts: u32,
    /// The last attempt, when there was one.
    pub last: Option<Attempt>,
    /// Why it did not succeed (`None` for successes).
    pub error: Option<String>,
    /// The last lines of the last attempt's stderr, kept for results that are not successes.
    pub stderr_tail: Option<String>,
}

impl JobResult {
    /// The last attempt's exit code and signal (`None` for a job that never ran or could not
    /// start).
    pub fn exit_and_signal(&self) -> (Option<i32>, Option<i32>) {
        match self.last.as_ref().map(|a| &a.end) {
            Some(AttemptEnd::Ended {
                exit_code, signal, ..
            }) => (*exit_code, *signal),
            _ => (None, None),
        }
    }

    /// Whether the summary and the reports list it among the jobs that went wrong: failures,
    /// and jobs that batchrun terminated.
    pub fn went_wrong(&self) -> bool {
        self.status.went_wrong()
    }

    /// Adds `note` to the error, in parentheses: `exit status 3 (not retried: …)`.
    pub fn note(&mut self, note: &str) {
        match &mut self.error {
            Some(e) => {
                e.push_str(" (");
                e.push_str(note);
                e.push(')');
            }
            None => self.error = Some(format!("({note})")),
        }
    }

    /// A result for a job that never ran.
    pub fn without_attempt(status: Status, error: impl Into<String>) -> Self {
        JobResult {
            status,
            attempts: 0,
            last: None,
            error: Some(error.into()),
            stderr_tail: None,
        }
    }
}

/// How the run as a whole ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// Every job succeeded or was resumed.
    Succeeded,
    /// At least one failure.
    Failed,
    /// Stopped by a signal.
    Interrupted,
    /// `--deadline` reached.
    DeadlineExceeded,
}

impl RunOutcome {
    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Succeeded => "succeeded",
            RunOutcome::Failed => "failed",
            RunOutcome::Interrupted => "interrupted",
            RunOutcome::DeadlineExceeded => "deadline_exceeded",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ended(exit_code: Option<i32>, signal: Option<i32>, killed: Option<KillReason>) -> Attempt {
        Attempt {
            end: AttemptEnd::Ended {
                exit_code,
                signal,
                killed,
            },
            started_at: SystemTime::UNIX_EPOCH,
            duration: Duration::ZERO,
            leaked_processes: 0,
            usage: None,
        }
    }

    #[test]
    fn a_death_by_the_stop_signal_is_cancelled_and_not_retried() {
        let term = ended(None, Some(libc::SIGTERM), None);
        assert!(term.died_of_stop_signal());
        assert_eq!(term.status(), Status::Failed);
        assert!(ended(None, Some(libc::SIGHUP), None).died_of_stop_signal());
        assert!(ended(None, Some(libc::SIGINT), None).died_of_stop_signal());
        assert!(!ended(None, Some(libc::SIGKILL), None).died_of_stop_signal());
        assert!(!ended(Some(143), None, None).died_of_stop_signal());
        let cancel = ended(None, Some(libc::SIGTERM), Some(KillReason::Cancel));
        assert!(!cancel.died_of_stop_signal());
        let stopped = ended(None, Some(libc::SIGTERM), Some(KillReason::StopSignal));
        assert_eq!(stopped.status(), Status::Cancelled);
        assert!(!stopped.retryable());
        assert_eq!(
            stopped.error().unwrap(),
            "killed by SIGTERM, as the run was stopped"
        );
    }

    #[test]
    fn statuses_and_errors() {
        assert_eq!(ended(Some(0), None, None).status(), Status::Succeeded);
        assert_eq!(ended(Some(0), None, None).error(), None);
        assert_eq!(ended(Some(2), None, None).error().unwrap(), "exit status 2");
        assert_eq!(
            ended(None, Some(9), None).error().unwrap(),
            "killed by signal 9 (SIGKILL)"
        );
        let t = ended(
            None,
            Some(15),
            Some(KillReason::Timeout(Duration::from_millis(300))),
        );
        assert_eq!(t.status(), Status::TimedOut);
        assert_eq!(t.error().unwrap(), "timed out after 300ms");
        assert_eq!(
            ended(None, Some(15), Some(KillReason::Cancel)).status(),
            Status::Cancelled
        );
        let mut leak = ended(Some(0), None, None);
        leak.leaked_processes = 2;
        assert_eq!(leak.status(), Status::Succeeded);
        assert_eq!(
            leak.error().unwrap(),
            "2 leftover processes in its process group terminated"
        );
    }

    #[test]
    fn plurals() {
        assert_eq!(plural(1, "job"), "1 job");
        assert_eq!(plural(0, "job"), "0 jobs");
        assert_eq!(plural(2, "process"), "2 processes");
    }

    #[test]
    fn failures() {
        let failures: Vec<_> = Status::ALL.iter().filter(|s| s.is_failure()).collect();
        assert_eq!(
            failures,
            [
                &Status::Failed,
                &Status::TimedOut,
                &Status::StartFailed,
                &Status::Skipped
            ]
        );
    }
}
