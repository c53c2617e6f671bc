/*!
Exit codes (README's *Exit codes*), why a run stopped early ([`StopReason`]), and the one function that turns
both into the run's outcome and exit code ([`decide`]).

The decision is made once, before any report is written, and the report on disk, the summary
line and the process exit code all come from it. A report that cannot be written escalates the
decision (to [`Exit::Internal`]) before anything is renamed into place, so they still agree.
*/

use crate::model::outcome::RunOutcome;

/// An exit code of batchrun's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Exit {
    /// 0: every job succeeded (or was resumed).
    Success,
    /// 1: at least one job failed, timed out, could not start, or was skipped.
    Failure,
    /// 2: usage error or invalid manifest: nothing ran.
    Usage,
    /// 3: batchrun itself failed (cannot write the report or joblog, …).
    Internal,
    /// 75: `--lock` is held by another run (`EX_TEMPFAIL`, as flock(1) -E suggests).
    Locked,
    /// 124: `--deadline` reached (as timeout(1)).
    Deadline,
    /// 130: interrupted by a signal (128 + SIGINT, as shells report Ctrl+C).
    Interrupted,
}

impl Exit {
    /// Every exit code, in numeric order.
    pub const ALL: [Exit; 7] = [
        Exit::Success,
        Exit::Failure,
        Exit::Usage,
        Exit::Internal,
        Exit::Locked,
        Exit::Deadline,
        Exit::Interrupted,
    ];

    /// What the code means, in a few words (`--help` and the man page list them from here).
    pub fn meaning(self) -> &'static str {
        match self {
            Exit::Success => "all succeeded",
            Exit::Failure => "a job failed",
            Exit::Usage => "usage or manifest error",
            Exit::Internal => "batchrun failed",
            Exit::Locked => "lock held",
            Exit::Deadline => "deadline reached",
            Exit::Interrupted => "interrupted",
        }
    }

    /// The one-paragraph table of every code: `Exit codes: 0 all succeeded, 1 …`.
    pub fn table() -> String {
        let codes: Vec<String> = Exit::ALL
            .iter()
            .map(|e| format!("{} {}", e.code(), e.meaning()))
            .collect();
        format!("Exit codes: {}.", codes.join(", "))
    }

    /// The numeric code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failure => 1,
            Exit::Usage => 2,
            Exit::Internal => 3,
            Exit::Locked => 75,
            Exit::Deadline => 124,
            Exit::Interrupted => 130,
        }
    }
}

/// Why a run stopped before every job had its chance, in order of severity: a later reason
/// overrides an earlier one ([`StopReason::escalate`]), never the reverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StopReason {
    /// `--fail-fast` / `--max-failures` tripped.
    Halted,
    /// `--deadline` passed.
    Deadline,
    /// A signal arrived (SIGINT, SIGTERM, SIGHUP).
    Interrupted,
    /// batchrun itself failed (a worker died, a wait failed, the joblog or a report could not
    /// be written).
    Internal,
}

impl StopReason {
    /// Raises `current` to `to` if `to` is more severe; returns true if it changed.
    pub fn escalate(current: &mut Option<StopReason>, to: StopReason) -> bool {
        if current.is_some_and(|c| c >= to) {
            return false;
        }
        *current = Some(to);
        true
    }
}

/// How the run ended, as the report, the summary line and the exit code all say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// The report's `outcome`.
    pub outcome: RunOutcome,
    /// The process exit code.
    pub exit: Exit,
}

/// The one decision: batchrun's own failure first (exit 3), then 130, then 124, then 1, else 0.
pub fn decide(stop: Option<StopReason>, any_failure: bool) -> Decision {
    let (outcome, exit) = match stop {
        Some(StopReason::Internal) => (RunOutcome::Failed, Exit::Internal),
        Some(StopReason::Interrupted) => (RunOutcome::Interrupted, Exit::Interrupted),
        Some(StopReason::Deadline) => (RunOutcome::DeadlineExceeded, Exit::Deadline),
        Some(StopReason::Halted) => (RunOutcome::Failed, Exit::Failure),
        None if any_failure => (RunOutcome::Failed, Exit::Failure),
        None => (RunOutcome::Succeeded, Exit::Success),
    };
    Decision { outcome, exit }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence() {
        use StopReason::*;
        assert_eq!(decide(Some(Internal), false).exit, Exit::Internal);
        assert_eq!(decide(Some(Interrupted), true).exit, Exit::Interrupted);
        assert_eq!(
            decide(Some(Interrupted), true).outcome,
            RunOutcome::Interrupted
        );
        assert_eq!(decide(Some(Deadline), true).exit, Exit::Deadline);
        assert_eq!(
            decide(Some(Deadline), false).outcome,
            RunOutcome::DeadlineExceeded
        );
        assert_eq!(decide(Some(Halted), true).exit, Exit::Failure);
        assert_eq!(decide(None, true).exit, Exit::Failure);
        assert_eq!(decide(None, false).exit, Exit::Success);
        assert_eq!(decide(None, false).outcome, RunOutcome::Succeeded);
    }

    #[test]
    fn escalation_only_goes_up() {
        let mut s = None;
        assert!(StopReason::escalate(&mut s, StopReason::Halted));
        assert!(StopReason::escalate(&mut s, StopReason::Interrupted));
        assert!(!StopReason::escalate(&mut s, StopReason::Deadline));
        assert!(!StopReason::escalate(&mut s, StopReason::Halted));
        assert_eq!(s, Some(StopReason::Interrupted));
        assert!(StopReason::escalate(&mut s, StopReason::Internal));
        assert_eq!(s, Some(StopReason::Internal));
    }

    #[test]
    fn codes() {
        let all = [
            (Exit::Success, 0),
            (Exit::Failure, 1),
            (Exit::Usage, 2),
            (Exit::Internal, 3),
            (Exit::Locked, 75),
            (Exit::Deadline, 124),
            (Exit::Interrupted, 130),
        ];
        for (e, c) in all {
            assert_eq!(e.code(), c);
        }
        assert_eq!(Exit::ALL.map(Exit::code), all.map(|(_, c)| c));
        assert_eq!(
            Exit::table(),
            "Exit codes: 0 all succeeded, 1 a job failed, 2 usage or manifest error, \
3 batchrun failed, 75 lock held, 124 deadline reached, 130 interrupted."
        );
    }
}
