/*!
The vocabulary between the engine and its consumers. The dispatcher (`crate::run`) and the
session around it (`crate::app`) emit typed [`Event`]s into an [`EventSink`] and format no
text; the consumers (`crate::output`: the console, the joblog, and whatever comes next) decide
what each one means for them. A test sink records the exact sequence of a run.
*/

pub mod summary;

use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::Receiver;

use crate::capture::Captured;
use crate::event::summary::RunSummary;
use crate::model::config::ReportFormat;
use crate::model::job::JobSpec;
use crate::model::outcome::{Attempt, JobResult, Status};
use crate::plan::Plan;
use crate::process::board::{Running, Snapshot, Started};
use crate::process::signals::StopSignal;

/// One thing that happened.
#[derive(Debug)]
pub enum Event<'a> {
    /// The run starts with this many jobs to run (resumed ones not counted).
    RunStarted {
        /// Jobs to run.
        total: usize,
        /// Jobs resumed (per the joblog), not run.
        resumed: usize,
        /// The plan: the manifest, its hash, the shard and every job.
        plan: &'a Plan,
        /// Worker threads asked for.
        workers: usize,
    },
    /// A job is `resumed` (it succeeded in an earlier run, per the joblog): its final result,
    /// told once, right after [`Event::RunStarted`] (no [`Event::JobFinished`] follows).
    JobResumed {
        /// The job's id.
        id: &'a str,
        /// Its result.
        result: &'a JobResult,
    },
    /// A worker spawned an attempt's process (told only when the board was asked for starts:
    /// see [`crate::process::board::Board::with_starts`]).
    AttemptStarted {
        /// The job's id.
        id: &'a str,
        /// 1-based attempt number.
        attempt: u32,
        /// The pid of its main process (also its process group id).
        pid: u32,
        /// When it was spawned.
        at: SystemTime,
    },
    /// An attempt ended (or could not start); [`Event::AttemptOutput`] follows when it ran.
    AttemptFinished {
        /// The job's id.
        id: &'a str,
        /// 1-based attempt number.
        attempt: u32,
        /// How it went.
        result: &'a Attempt,
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
    /// A job has its final result. The job itself is not built for it (a stop settles a
    /// million jobs that never ran): its id, position and, when a sink
    /// [wants it](EventSink::wants_command_keys), its command key.
    JobFinished {
        /// The job's id.
        id: &'a str,
        /// Its position in the manifest ([`JobSpec::index`]).
        index: usize,
        /// Its result.
        result: &'a JobResult,
        /// Its [`command_key`](crate::model::job::command_key): always there when a sink
        /// [wants it](EventSink::wants_command_keys).
        key: Option<u64>,
    },
    /// First signal: nothing new starts; running jobs finish.
    Draining {
        /// Jobs running now.
        running: usize,
        /// The signal.
        signal: StopSignal,
    },
    /// Second signal: running jobs are terminated.
    Terminating {
        /// Jobs running now.
        running: usize,
        /// SIGTERM → SIGKILL time.
        grace: Duration,
        /// The signal.
        signal: StopSignal,
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
        /// Jobs running now (being terminated).
        running: usize,
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
    /// The run is over, decided, and its reports (and metrics) are written: the last event.
    RunFinished {
        /// Everything about the run.
        summary: &'a RunSummary,
        /// The reports written.
        reports: &'a [(std::path::PathBuf, ReportFormat)],
    },
    /// These reports were written (after the summary; none: nothing is said).
    ReportsWritten {
        /// Their paths and formats.
        reports: &'a [(std::path::PathBuf, ReportFormat)],
    },
    /// The status of the run: on `SIGUSR1` (`full`: a line per running job) or every
    /// `--heartbeat` (one line).
    Status {
        /// The board as it is now.
        snapshot: &'a Snapshot,
        /// A line per running job, not one line in all.
        full: bool,
        /// When the snapshot was taken.
        now: Instant,
    },
    /// An attempt has run longer than `--slow`.
    Slow {
        /// The attempt.
        running: &'a Running,
        /// The `--slow` limit.
        limit: Duration,
        /// When it was seen.
        now: Instant,
    },
}

impl<'a> From<&'a Started> for Event<'a> {
    /// The start a board told ([`Board::with_starts`](crate::process::board::Board::with_starts)).
    fn from(s: &'a Started) -> Self {
        Event::AttemptStarted {
            id: &s.id,
            attempt: s.attempt,
            pid: s.pid,
            at: s.at,
        }
    }
}

impl Event<'_> {
    /// The event's name, in `snake_case` (what a test sink records).
    #[cfg(test)]
    pub fn name(&self) -> &'static str {
        match self {
            Event::RunStarted { .. } => "run_started",
            Event::JobResumed { .. } => "job_resumed",
            Event::AttemptStarted { .. } => "attempt_started",
            Event::AttemptFinished { .. } => "attempt_finished",
            Event::RunFinished { .. } => "run_finished",
            Event::WorkersShort { .. } => "workers_short",
            Event::AttemptOutput { .. } => "attempt_output",
            Event::RetryScheduled { .. } => "retry_scheduled",
            Event::StartDeferred { .. } => "start_deferred",
            Event::JobFinished { .. } => "job_finished",
            Event::Draining { .. } => "draining",
            Event::Terminating { .. } => "terminating",
            Event::Halted { .. } => "halted",
            Event::DeadlineReached { .. } => "deadline_reached",
            Event::InternalError { .. } => "internal_error",
            Event::OutputDropped { .. } => "output_dropped",
            Event::Summary { .. } => "summary",
            Event::ReportsWritten { .. } => "reports_written",
            Event::Status { .. } => "status",
            Event::Slow { .. } => "slow",
        }
    }
}

/// A consumer of a run's events. Only [`handle`](EventSink::handle) is required; the rest is
/// the flow control the console needs (a printer that falls behind holds new starts back) and
/// how a sink reports a failure of its own.
pub trait EventSink {
    /// Takes one event, in the order they happen.
    fn handle(&mut self, event: &Event<'_>);

    /// True while the sink is too far behind: the engine starts no new job until
    /// [`drained`](EventSink::drained) says so.
    fn backlogged(&self) -> bool {
        false
    }

    /// Gets a message when a backlog has drained (never, for a sink that is never behind).
    fn drained(&self) -> Option<Receiver<()>> {
        None
    }

    /// Whether job stdout must be captured for this sink.
    fn wants_stdout(&self) -> bool {
        false
    }

    /// Whether the sink uses the jobs' [`command_key`](crate::model::job::command_key): the
    /// engine then hands it with [`Event::JobFinished`], computed on every core where many
    /// jobs finish at once (a stop).
    fn wants_command_keys(&self) -> bool {
        false
    }

    /// A failure of the sink's own (a joblog that cannot be written), taken once: the run stops
    /// with batchrun's own error.
    fn take_failure(&mut self) -> Option<String> {
        None
    }

    /// Writes out what the sink holds back. The engine calls it once it has handled what
    /// happened at one moment (a job that ended, and the jobs that settles; or a stop that
    /// settles every job not started), so a sink may gather the events of one moment into one
    /// write.
    fn flush(&mut self) {}
}

/// Several sinks as one: each event goes to every sink in order; flow control is the union.
pub struct Fanout<'a> {
    sinks: Vec<&'a mut dyn EventSink>,
}

impl std::fmt::Debug for Fanout<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Fanout({} sinks)", self.sinks.len())
    }
}

impl<'a> Fanout<'a> {
    /// Events go to `sinks`, in this order.
    pub fn new(sinks: Vec<&'a mut dyn EventSink>) -> Self {
        Fanout { sinks }
    }
}

impl EventSink for Fanout<'_> {
    fn handle(&mut self, event: &Event<'_>) {
        for s in &mut self.sinks {
            s.handle(event);
        }
    }

    fn backlogged(&self) -> bool {
        self.sinks.iter().any(|s| s.backlogged())
    }

    fn drained(&self) -> Option<Receiver<()>> {
        self.sinks.iter().find_map(|s| s.drained())
    }

    fn wants_stdout(&self) -> bool {
        self.sinks.iter().any(|s| s.wants_stdout())
    }

    fn wants_command_keys(&self) -> bool {
        self.sinks.iter().any(|s| s.wants_command_keys())
    }

    fn take_failure(&mut self) -> Option<String> {
        self.sinks.iter_mut().find_map(|s| s.take_failure())
    }

    fn flush(&mut self) {
        for s in &mut self.sinks {
            s.flush();
        }
    }
}

/// A sink that keeps the name of every event (tests of the engine's event sequence).
#[cfg(test)]
#[derive(Debug, Default)]
pub struct Recorder {
    /// `name` or `name:id` for job events, in order.
    pub events: Vec<String>,
}

#[cfg(test)]
impl EventSink for Recorder {
    fn handle(&mut self, event: &Event<'_>) {
        let id = match event {
            Event::AttemptOutput { job, .. }
            | Event::RetryScheduled { job, .. }
            | Event::StartDeferred { job, .. } => Some(job.id.as_str()),
            Event::JobFinished { id, .. } => Some(*id),
            Event::AttemptStarted { id, .. }
            | Event::AttemptFinished { id, .. }
            | Event::JobResumed { id, .. } => Some(*id),
            _ => None,
        };
        let status = match event {
            Event::JobFinished { result, .. } => Some(result.status.as_str()),
            _ => None,
        };
        let mut text = event.name().to_string();
        for part in [id, status].into_iter().flatten() {
            text.push(':');
            text.push_str(part);
        }
        self.events.push(text);
    }
}
