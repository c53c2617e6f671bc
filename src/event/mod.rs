/*!
What the dispatcher (and the run around it) tells the outside world. [`crate::run::dispatcher`] and
[`crate::lib`](crate) emit these typed events and format no text; [`crate::output::console::Console`]
alone turns each into what the user sees.
*/

use std::time::Duration;

use crate::capture::Captured;
use crate::model::job::JobSpec;
use crate::model::outcome::{Attempt, JobResult, Status};
use crate::output::report::RunSummary;

/// One thing that happened.
#[derive(Debug)]
pub enum Event<'a> {
    /// The run starts with this many jobs to run (resumed ones not counted).
    RunStarted {
        /// Jobs to run.
        total: usize,
    },
    /// Fewer worker threads could be started than asked for; the run goes on with those.
    WorkersShort {
        /// Threads started.
        started: usize,
        /// Threads asked for.
        wanted: usize,
        /// Why the next one failed.
        error: String,
    },
    /// An attempt ended; its output, as captured, may be shown now.
    AttemptOutput {
        /// The job.
        job: &'a JobSpec,
        /// The attempt's status.
        status: Status,
        /// Another attempt follows.
        retry: bool,
        /// Its stdout.
        out: Captured,
        /// Its stderr.
        err: Captured,
    },
    /// An attempt failed and the job will be retried after `delay`.
    RetryScheduled {
        /// The job.
        job: &'a JobSpec,
        /// The attempt that failed (1-based).
        attempt: u32,
        /// Attempts allowed in all.
        of: u32,
        /// How it ended.
        last: &'a Attempt,
        /// Until the next attempt.
        delay: Duration,
    },
    /// A job could not start for want of descriptors or processes; it waits for a running job
    /// to finish (not counted as an attempt).
    StartDeferred {
        /// The job.
        job: &'a JobSpec,
        /// What the system said.
        error: &'a str,
    },
    /// A job has its final result.
    JobFinished {
        /// The job.
        job: &'a JobSpec,
        /// Its result.
        result: &'a JobResult,
    },
    /// First signal: nothing new starts; running jobs finish.
    Draining {
        /// Jobs running now.
        running: usize,
    },
    /// Second signal: running jobs are terminated.
    Terminating {
        /// Jobs running now.
        running: usize,
        /// SIGTERM → SIGKILL time.
        grace: Duration,
    },
    /// `--fail-fast` / `--max-failures` stopped the run.
    Halted {
        /// Failures so far.
        failures: usize,
        /// The limit.
        limit: usize,
        /// Jobs running now (being terminated).
        running: usize,
    },
    /// `--deadline` passed.
    DeadlineReached {
        /// Jobs running now (being terminated).
        running: usize,
    },
    /// batchrun's own failure during the run.
    InternalError {
        /// What failed.
        message: &'a str,
    },
    /// Job output still queued when the run ended was dropped: stdout was not being read.
    OutputDropped {
        /// Jobs whose output was not written.
        jobs: usize,
    },
    /// The run is over and decided: the summary.
    Summary {
        /// Everything about the run.
        summary: &'a RunSummary,
    },
    /// These reports were written (after the summary; none: nothing is said).
    ReportsWritten {
        /// Their paths and formats.
        reports: &'a [(std::path::PathBuf, crate::model::config::ReportFormat)],
    },
}
