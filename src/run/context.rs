//! What the dispatcher is given for a run ([`RunContext`], [`RunSettings`]) and what it gives
//! back ([`RunResults`]).

use std::time::{Duration, Instant};

use crate::capture::OutputPaths;
use crate::event::EventSink;
use crate::model::exit::StopReason;
use crate::plan::Plan;
use crate::process::cancel::CancelToken;
use crate::process::signals::SignalSource;
use crate::run::monitor::MonitorSettings;

/// Settings of the run loop (validated; see [`crate::cli`]).
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// Worker threads asked for.
    pub workers: usize,
    /// First retry delay.
    pub retry_delay: Duration,
    /// Stop the run after this many failures (`--fail-fast` is 1).
    pub max_failures: Option<usize>,
    /// When the whole run must end.
    pub deadline: Option<Instant>,
    /// Time between SIGTERM and SIGKILL.
    pub grace: Duration,
}

/// Everything the run loop works with.
pub struct RunContext<'a> {
    /// The jobs.
    pub plan: &'a Plan,
    /// How to run them.
    pub settings: &'a RunSettings,
    /// Shared with every worker.
    pub token: &'a CancelToken,
    /// Where SIGINT, SIGTERM and SIGHUP arrive.
    pub signals: &'a SignalSource,
    /// Where events go: the console, the joblog, … (see [`crate::event`]).
    pub sink: &'a mut dyn EventSink,
    /// Where job output is captured.
    pub paths: &'a OutputPaths,
    /// Jobs already done per the joblog (`--resume`); they are not run.
    pub resumed: &'a [bool],
    /// The live-status board (SIGUSR1, `--heartbeat`, `--slow`), kept up to date.
    pub board: Option<&'a crate::process::board::Board>,
    /// The `--heartbeat` and `--slow` timers.
    pub monitor: MonitorSettings,
}

/// What the run loop returns.
#[derive(Debug)]
pub struct RunResults {
    /// One result per job, in manifest order.
    pub results: crate::model::results::Results,
    /// Why the run stopped early, the most severe reason.
    pub stop: Option<StopReason>,
    /// True once running jobs were being terminated (second signal, deadline, halt).
    pub terminating: bool,
    /// batchrun's own errors during the run (also in the jobs' errors).
    pub internal_errors: Vec<String>,
}

impl RunSettings {
    /// True when no job's result can change which job starts next, or whether any does: no job
    /// waits on another (`after`), no group is limited, nothing is retried, and no number of
    /// failures stops the run. (A signal or the deadline stops queued tasks too: workers check the
    /// token before starting one.)
    pub fn start_order_is_fixed(&self, plan: &Plan) -> bool {
        self.max_failures.is_none()
            && plan.deps.has_no_edges()
            && plan.group_limits.iter().all(Option::is_none)
            && (0..plan.jobs.len()).all(|i| plan.jobs.retries(i) == 0)
    }
}
