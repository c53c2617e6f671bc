/*!
The run itself: the dispatcher loop on the main thread, the workers that run attempts, and what
happens on signals, timeouts, failures and the deadline.

The dispatcher owns the [`JobTable`] (every job's one state) and emits [`Event`]s to the
sinks ([`crate::event::EventSink`]); it formats no text. Its loop ([`wait`]) `select!`s over
results from workers, signal events, the printer's "drained" notice and a timer for the next
retry, the deadline or a deferred start, and reads the results of short jobs in batches, each
held at most [`wait::HOLD`]. It never writes to a terminal, so a blocked stdout cannot stall it.

Every stop (first or second signal, `--deadline`, `--fail-fast` / `--max-failures`, an internal
error) goes through [`StopReason::escalate`] and [`JobTable::settle_unstarted`], so every job
not running gets its true final result at that moment.
*/

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::Sender;

use crate::capture::{Anonymous, OutputPaths};
use crate::event::{Event, EventSink};
use crate::model::exit::StopReason;
use crate::model::job::JobSpec;
use crate::model::outcome::{Attempt, AttemptEnd, JobResult, Status};
use crate::plan::Plan;
use crate::process::cancel::CancelToken;
use crate::process::signals::{SignalSource, StopSignal};
use crate::run::monitor::Monitor;
use crate::run::pool::WorkerPool;
use crate::run::schedule::{retry_delay, JobTable, LastAttempt};
use crate::run::stop_deaths::{Held, StopDeaths};
use crate::run::worker::{work, Shared, Task, TaskEnd};

pub(crate) use crate::run::context::{RunContext, RunResults, RunSettings};

mod wait;

/// How often in a row a start may be put off for want of descriptors or processes before the
/// job fails to start (per run: the count starts again only when a job starts).
const MAX_DEFERRALS: u32 = 12;

/// Appended to the error of a job whose start kept failing for want of descriptors or
/// processes (or with ETXTBSY) with no job running.
const GAVE_UP: &str = " (no job was running to free anything: gave up after 12 tries in a row; until a job starts, a start that fails so fails at once)";

/// The dispatcher's state while the run goes on.
struct Dispatcher<'a> {
    plan: &'a Plan,
    settings: &'a RunSettings,
    token: &'a CancelToken,
    sink: &'a mut dyn EventSink,
    paths: &'a OutputPaths,
    /// The `--heartbeat` and `--slow` timers.
    monitor: Monitor,
    /// The live-status board: finished jobs are counted on it.
    board: Option<&'a crate::process::board::Board>,
    /// Every job's state: the one record of it.
    table: JobTable<'a>,
    /// Tasks handed to workers whose result has not come back.
    in_flight: usize,
    /// Jobs whose process workers are running now; workers keep it up to date.
    running: &'a AtomicUsize,
    /// Jobs that ran and failed (skipped dependents not counted).
    failures: usize,
    /// Why the run is stopping, the most severe reason.
    stop: Option<StopReason>,
    /// `--fail-fast` / `--max-failures` tripped.
    halted: bool,
    /// `--deadline` passed.
    deadline_reached: bool,
    signals_seen: u32,
    internal_errors: Vec<String>,
    /// Starts put off in a row for want of descriptors or processes while no other job ran,
    /// and until when nothing new starts (or until a running job ends).
    deferrals: u32,
    /// The first deferral was told to the user (once per run).
    warned_deferral: bool,
    stalled_until: Option<Instant>,
    rng: u64,
    /// Jobs that died of a stop signal, held until batchrun's own tells whether they were
    /// stopped with the run.
    stop_deaths: StopDeaths,
    /// The last result recorded that jobs share ([`JobTable::shared_result`]), built.
    shared: Option<(u32, JobResult)>,
}

impl Dispatcher<'_> {
    /// A pseudo-random number in [0, 1) for retry jitter (xorshift; quality is not a concern).
    fn jitter(&mut self) -> f64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng >> 11) as f64 / (1u64 << 53) as f64
    }

    fn stopping(&self) -> bool {
        self.token.is_stopped()
    }

    fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    /// Tells the sinks job `i`'s final result (from the table), with its command key when a
    /// sink wants it: `key` when it was computed already, or from `job` (the job as it ran),
    /// or from its row.
    fn record(&mut self, i: usize, job: Option<&JobSpec>, key: Option<u64>) {
        // A result jobs share (a stop's not-started jobs) is built once, not for each.
        let (shared, result) = match (self.table.shared_result(i), self.shared.take()) {
            (Some(s), Some((m, r))) if s == m => (Some(s), r),
            (s, _) => match self.table.result(i) {
                Some(r) => (s, r),
                None => return,
            },
        };
        let key = match (key, job) {
            (Some(k), _) => Some(k),
            _ if !self.sink.wants_command_keys() => None,
            (None, Some(j)) => Some(crate::model::job::command_key(j)),
            (None, None) => Some(self.plan.jobs.command_key(i)),
        };
        if let Some(board) = self.board {
            board.finished(result.status);
        }
        self.emit(&Event::JobFinished {
            id: self.plan.jobs.id(i),
            index: self.plan.jobs.index(i),
            result: &result,
            key,
        });
        self.shared = shared.map(|s| (s, result));
    }

    /// The sinks write out what they held back for this moment; a failure stops the run.
    fn flush_sinks(&mut self) {
        self.sink.flush();
        if let Some(msg) = self.sink.take_failure() {
            self.internal_error(&msg);
        }
    }

    /// Hands an event to the sinks; a sink's own failure (the joblog) stops the run.
    fn emit(&mut self, event: &Event<'_>) {
        self.sink.handle(event);
        if let Some(msg) = self.sink.take_failure() {
            self.internal_error(&msg);
        }
    }

    /// `SIGUSR1`: the status of every running job.
    fn on_status_request(&mut self) {
        if let Some(board) = self.board {
            let snapshot = board.snapshot();
            self.sink.handle(&Event::Status {
                snapshot: &snapshot,
                full: true,
                now: Instant::now(),
            });
        }
    }

    /// `--heartbeat` and `--slow`: what is due now.
    fn on_monitor(&mut self, now: Instant) {
        let Some(board) = self.board else {
            return;
        };
        if self.monitor.next_wake().is_none_or(|t| now < t) {
            return;
        }
        let due = self.monitor.due(board, now);
        if let Some(limit) = self.monitor.slow_limit() {
            for running in &due.slow {
                self.sink.handle(&Event::Slow {
                    running,
                    limit,
                    now,
                });
            }
        }
        if let Some(snapshot) = &due.heartbeat {
            self.sink.handle(&Event::Status {
                snapshot,
                full: false,
                now,
            });
        }
    }

    /// Records jobs that got their result together, in manifest order.
    /// Many at once (a stop settles every job not started, a million in a big run): no job is
    /// built for it; when a sink wants their command keys, they are made on every core, a
    /// batch at a time (a plain list's without building the job: [`Jobs::command_key`]), and
    /// recorded in order, the next batch made while this one is recorded
    /// ([`crate::util::par::pipelined`]).
    ///
    /// [`Jobs::command_key`]: crate::store::jobs::Jobs::command_key
    fn record_all(&mut self, jobs: Vec<usize>) {
        const BATCH: usize = 8192;
        if !self.sink.wants_command_keys() {
            return jobs.into_iter().for_each(|i| self.record(i, None, None));
        }
        let plan = self.plan;
        crate::util::par::pipelined(
            &jobs,
            BATCH,
            |&i| plan.jobs.command_key(i),
            |batch, keys| {
                for (&i, &key) in batch.iter().zip(keys) {
                    self.record(i, None, Some(key));
                }
            },
        );
    }

    /// Gives a job its final result, records it and the dependents it settles, and halts the
    /// run when `--fail-fast` / `--max-failures` say so.
    fn finish(&mut self, i: usize, result: JobResult, job: Option<&JobSpec>) {
        let failed = result.status.is_failure();
        let settled = self.table.finish(i, result);
        self.record(i, job, None);
        self.record_all(settled);
        // Only jobs that ran and failed count towards the limit, not the jobs skipped because
        // of them.
        if !failed {
            return;
        }
        self.failures += 1;
        if let Some(limit) = self.settings.max_failures {
            if self.failures >= limit && !self.halted {
                self.halted = true;
                StopReason::escalate(&mut self.stop, StopReason::Halted);
                self.terminate_and_settle(Event::Halted {
                    failures: self.failures,
                    limit,
                    running: self.running(),
                });
            }
        }
    }

    /// Running jobs are terminated and nothing else starts; every job not running gets its
    /// final result now.
    fn terminate_and_settle(&mut self, event: Event<'_>) {
        self.token.terminate();
        self.emit(&event);
        self.settle_unstarted();
    }

    fn settle_unstarted(&mut self) {
        let settled = self.table.settle_unstarted(self.not_started_reason());
        self.record_all(settled);
    }

    /// One attempt came back from a worker.
    fn attempt_done(&mut self, i: usize, end: TaskEnd) {
        // Its start (and any other told before it) comes first.
        self.drain_starts();
        self.in_flight -= 1;
        self.stalled_until = None; // a worker is free, and maybe a descriptor or a process
        match end {
            TaskEnd::NotStarted => self.unstart(i),
            TaskEnd::Deferred(msg) => self.defer(i, &msg),
            TaskEnd::Internal(msg) => {
                self.internal_error(&msg);
                let attempts = self.table.running_attempt(i).unwrap_or(1);
                let mut r = JobResult::without_attempt(Status::Failed, format!("batchrun: {msg}"));
                r.attempts = attempts;
                self.finish(i, r, None);
            }
            TaskEnd::Ran(a, ..) if a.is_transient_start_failure() && self.may_defer() => {
                let msg = a.error().unwrap_or_default();
                self.defer(i, &msg);
            }
            TaskEnd::Ran(mut a, anonymous, job) => {
                if let AttemptEnd::StartFailed {
                    message,
                    transient: true,
                } = &mut a.end
                {
                    message.push_str(GAVE_UP);
                }
                if let Some(h) = self.stop_deaths.arrived(i, a, anonymous, job) {
                    self.ran(h.index, h.attempt, h.anonymous, &h.job);
                }
            }
        }
    }

    /// Attempts held by [`StopDeaths`] go on: now `cancelled` (`stopped`), or as they were.
    fn release(&mut self, held: Vec<Held>) {
        for h in held {
            self.ran(h.index, h.attempt, h.anonymous, &h.job);
        }
    }

    /// Tells the sinks the run starts, and the result of every job `resumed`; returns the
    /// number of jobs to run.
    fn announce(&mut self, resumed: &[bool]) -> usize {
        let done = self.table.counts().done;
        let total = self.plan.jobs.len() - done;
        self.emit(&Event::RunStarted {
            total,
            resumed: done,
            plan: self.plan,
            workers: self.settings.workers,
        });
        let plan = self.plan;
        for i in (0..resumed.len()).filter(|&i| resumed[i]) {
            if let Some(result) = &self.table.result(i) {
                self.emit(&Event::JobResumed {
                    id: plan.jobs.id(i),
                    result,
                });
            }
        }
        total
    }

    /// Tells the sinks every attempt spawned since the last call (`--events`).
    fn drain_starts(&mut self) {
        let starts = self.board.and_then(|b| b.starts());
        for s in starts.into_iter().flat_map(|rx| rx.try_iter()) {
            self.emit(&Event::from(&s));
        }
    }

    /// The job goes back to `Ready`; the stop that made its worker skip it settles it.
    fn unstart(&mut self, i: usize) {
        if !self.table.unstart(i) {
            self.internal_error(&format!(
                "job '{}' came back but was not running",
                self.plan.jobs.id(i)
            ));
            return;
        }
        if self.stopping() {
            self.settle_unstarted();
        }
    }

    /// Whether a start that found no descriptor or process free may wait and try again: while
    /// other jobs run (one of them ending frees what it holds), or a few times with a back-off
    /// when none does.
    fn may_defer(&self) -> bool {
        !self.stopping() && (self.in_flight > 0 || self.deferrals < MAX_DEFERRALS)
    }

    /// Puts off a start that found no descriptor or process free: the job is `Ready` again,
    /// and nothing new starts until a running job ends (or, with none running, a back-off
    /// passes). After [`MAX_DEFERRALS`] in a row it fails to start.
    fn defer(&mut self, i: usize, msg: &str) {
        if !self.may_defer() {
            let attempt = self.table.running_attempt(i).unwrap_or(1);
            let a = Attempt {
                end: AttemptEnd::StartFailed {
                    message: format!("{msg}{GAVE_UP}"),
                    transient: true,
                },
                started_at: SystemTime::now(),
                duration: Duration::ZERO,
                leaked_processes: 0,
                usage: None,
            };
            let r = LastAttempt {
                attempt: a,
                stderr_tail: None,
                attempts: attempt,
            };
            self.emit(&Event::AttemptFinished {
                id: self.plan.jobs.id(i),
                attempt,
                result: &r.attempt,
            });
            return self.finish(i, r.into_result(), None);
        }
        if !self.warned_deferral {
            self.warned_deferral = true;
            self.emit(&Event::StartDeferred {
                job: &self.plan.jobs.get(i),
                error: msg,
            });
        }
        self.table.unstart(i);
        // With jobs running, the next one to end ends the stall; with none, a back-off does.
        let backoff = if self.in_flight > 0 {
            Duration::from_secs(1)
        } else {
            self.deferrals += 1;
            Duration::from_millis(25) * (1 << self.deferrals.min(7))
        };
        self.stalled_until = Some(Instant::now() + backoff);
    }

    /// An attempt ran: show its output, then retry it or give the job its final result.
    fn ran(&mut self, i: usize, attempt: Attempt, anonymous: Anonymous, job: &JobSpec) {
        // Only a start that worked proves the cause cleared: once the budget of starts put
        // off with no job running is spent, the next start that fails so fails at once.
        if !matches!(attempt.end, AttemptEnd::StartFailed { .. }) {
            self.deferrals = 0;
        }
        let Some(attempts) = self.table.running_attempt(i) else {
            return self.internal_error(&format!(
                "job '{}' ran but was not running",
                self.plan.jobs.id(i)
            ));
        };
        let status = attempt.status();
        // A failure that could be retried, when `retry_on` does not refuse it.
        let could = attempt.retryable() && attempts <= job.retries && !self.stopping();
        let refused = job.retry_on.as_ref().and_then(|r| r.refuses(&attempt.end));
        let retry = could && refused.is_none();
        let (out, err) = self.paths.captured(self.plan.jobs.id(i), anonymous);
        let stderr_tail = if status.is_success() {
            None
        } else {
            err.open().and_then(crate::capture::tail::read_tail_of)
        };
        self.emit(&Event::AttemptFinished {
            id: &job.id,
            attempt: attempts,
            result: &attempt,
        });
        self.emit(&Event::AttemptOutput {
            job,
            status,
            retry,
            out,
            err,
        });
        let last = LastAttempt {
            attempt,
            stderr_tail,
            attempts,
        };
        if !retry {
            let mut result = last.into_result();
            if let Some(why) = refused.filter(|_| could) {
                result.note(&why);
            }
            return self.finish(i, result, Some(job));
        }
        let delay = retry_delay(self.settings.retry_delay, attempts, self.jitter());
        self.emit(&Event::RetryScheduled {
            job,
            attempt: attempts,
            of: job.retries + 1,
            last: &last.attempt,
            delay,
        });
        self.table.retry_later(i, last, Instant::now() + delay);
    }

    /// Why jobs did not start, for their error.
    fn not_started_reason(&self) -> &'static str {
        match self.stop {
            Some(StopReason::Deadline) => "not started: the deadline was reached",
            Some(StopReason::Halted) => "not started: the run stopped after too many failures",
            Some(StopReason::Interrupted) => "not started: the run was interrupted",
            Some(StopReason::Internal) => "not started: batchrun failed (see its errors)",
            None => "not started: the run was stopped",
        }
    }

    fn internal_error(&mut self, msg: &str) {
        self.internal_errors.push(msg.to_string());
        StopReason::escalate(&mut self.stop, StopReason::Internal);
        self.terminate_and_settle(Event::InternalError {
            message: msg,
            running: self.running(),
        });
    }

    fn on_signal(&mut self, signal: StopSignal) {
        let held = self.stop_deaths.on_stop(SystemTime::now());
        self.signals_seen += 1;
        StopReason::escalate(&mut self.stop, StopReason::Interrupted);
        let running = self.running();
        if self.signals_seen == 1 {
            self.token.stop();
            self.emit(&Event::Draining { running, signal });
            self.settle_unstarted();
        } else if self.token.terminate() {
            self.emit(&Event::Terminating {
                running,
                grace: self.settings.grace,
                signal,
            });
        }
        self.release(held);
    }

    fn on_deadline(&mut self) {
        self.deadline_reached = true;
        StopReason::escalate(&mut self.stop, StopReason::Deadline);
        self.terminate_and_settle(Event::DeadlineReached {
            running: self.running(),
        });
    }

    /// Whether new tasks may go out now.
    fn may_start(&self) -> bool {
        !self.stopping() && self.stalled_until.is_none() && !self.sink.backlogged()
    }

    /// Hands out ready jobs until `window` tasks are out.
    fn start_ready(&mut self, jobs: &Sender<Task>, window: usize) {
        self.table.promote_due(Instant::now());
        // Never more tasks out than workers: a queued task would start before the dispatcher
        // has seen the results ahead of it, so it could overtake a job that a success is about
        // to release, or start after a failure that halts the run. Unless no result can change
        // what starts next (see `window`).
        while self.in_flight < window {
            let Some((index, attempt)) = self.table.next_ready() else {
                break;
            };
            if jobs.send(Task { index, attempt }).is_err() {
                self.table.unstart(index);
                return self.internal_error("every worker thread has stopped");
            }
            self.in_flight += 1;
        }
    }

    /// When the loop must wake up even if nothing arrives.
    fn next_wake(&mut self) -> Option<Instant> {
        let retry = if self.stopping() {
            None
        } else {
            self.table.next_retry_at()
        };
        let deadline = self.settings.deadline.filter(|_| !self.deadline_reached);
        let monitor = self.board.and(self.monitor.next_wake());
        let held = self.stop_deaths.next_wake();
        [retry, deadline, self.stalled_until, monitor, held]
            .into_iter()
            .flatten()
            .min()
    }
}

/// Runs every job of the plan and returns their results.
pub fn run(ctx: RunContext<'_>) -> RunResults {
    let RunContext {
        plan,
        settings,
        token,
        signals,
        sink,
        paths,
        resumed,
        board,
        monitor,
    } = ctx;
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1;
    let running = AtomicUsize::new(0);
    let stdout_wanted = sink.wants_stdout();
    let mut d = Dispatcher {
        plan,
        settings,
        token,
        sink,
        paths,
        monitor: Monitor::new(monitor, Instant::now()),
        board,
        table: JobTable::new(plan, resumed),
        in_flight: 0,
        running: &running,
        failures: 0,
        stop: None,
        halted: false,
        deadline_reached: false,
        signals_seen: 0,
        stop_deaths: StopDeaths::default(),
        shared: None,
        internal_errors: Vec::new(),
        deferrals: 0,
        warned_deferral: false,
        stalled_until: None,
        rng: seed,
    };
    let to_run = d.announce(resumed);
    if to_run > 0 {
        let shared = Shared {
            plan,
            token,
            grace: settings.grace,
            paths,
            stdout_wanted,
            running: &running,
            board,
        };
        run_pool(&mut d, &shared, to_run, signals);
    }
    let settled = d.table.settle_all(d.not_started_reason());
    d.record_all(settled);
    d.flush_sinks();
    let (results, lost) = d.table.into_results();
    let mut internal_errors = d.internal_errors;
    let mut stop = d.stop;
    if !lost.is_empty() {
        internal_errors.push(format!(
            "batchrun lost track of {} (internal error)",
            crate::util::text::plural(lost.len(), "job")
        ));
        StopReason::escalate(&mut stop, StopReason::Internal);
    }
    RunResults {
        results,
        stop,
        terminating: token.is_terminating(),
        internal_errors,
    }
}

/// Starts at most one worker per job to run, and runs the dispatcher loop on them.
fn run_pool(d: &mut Dispatcher<'_>, shared: &Shared<'_>, to_run: usize, signals: &SignalSource) {
    // When no result can change which job starts next, a queue of tasks spares each worker a
    // round trip through the dispatcher between two jobs (with jobs as short as `/bin/true` on
    // two CPUs, waiting for the dispatcher to be scheduled costs a fifth of the run time), and
    // results are read in batches (see `wait`).
    let batch = d.settings.start_order_is_fixed(d.plan);
    let per_worker = if batch { wait::QUEUE_PER_WORKER } else { 2 };
    let pool = WorkerPool::new(d.settings.workers.min(to_run)).queue(per_worker);
    pool.scope(
        |task: Task| {
            let index = task.index;
            (index, work(shared, task))
        },
        |dispatch| {
            if let Some(error) = &dispatch.spawn_error {
                let event = Event::WorkersShort {
                    started: dispatch.workers,
                    wanted: pool.workers(),
                    error: error.clone(),
                };
                d.emit(&event);
            }
            if dispatch.workers == 0 {
                let msg = format!(
                    "no worker thread could be started: {}",
                    dispatch.spawn_error.as_deref().unwrap_or("unknown error")
                );
                return d.internal_error(&msg);
            }
            let window = if batch {
                wait::QUEUE_PER_WORKER * dispatch.workers
            } else {
                dispatch.workers
            };
            d.run_loop(dispatch, window, batch, signals);
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Recorder;
    use crate::manifest::parse;
    use crate::model::config::ManifestOptions;
    use crate::process::signals::SignalEvent;
    use crate::run::monitor::MonitorSettings;

    const SIGINT: SignalEvent = SignalEvent::Stop(StopSignal::Interrupt);

    /// Runs `manifest` (jobs run in `dir`) with manual signals; `during` gets the signal sender
    /// and runs on its own thread while the run goes on.
    fn run_with(
        dir: &std::path::Path,
        manifest: &str,
        settings: RunSettings,
        during: impl FnOnce(Sender<SignalEvent>) + Send + 'static,
    ) -> (RunResults, Vec<String>) {
        run_on_board(dir, manifest, settings, None, during)
    }

    /// [`run_with`] with a live board.
    fn run_on_board(
        dir: &std::path::Path,
        manifest: &str,
        settings: RunSettings,
        board: Option<&crate::process::board::Board>,
        during: impl FnOnce(Sender<SignalEvent>) + Send + 'static,
    ) -> (RunResults, Vec<String>) {
        let m = parse(
            "m.csv",
            manifest.as_bytes(),
            false,
            &ManifestOptions::default(),
        )
        .unwrap();
        let mut plan = Plan::new(m, &[]).unwrap();
        let mut specs: Vec<_> = plan.jobs.iter().collect();
        for j in &mut specs {
            j.cwd = Some(dir.to_path_buf());
        }
        plan.jobs = crate::store::jobs::Jobs::from_specs(specs);
        let (signals, tx) = SignalSource::manual();
        let token = CancelToken::new().unwrap();
        let mut recorder = Recorder::default();
        let paths = OutputPaths::new(dir.to_path_buf(), false);
        let resumed = vec![false; plan.jobs.len()];
        let helper = std::thread::spawn(move || during(tx));
        let results = run(RunContext {
            plan: &plan,
            settings: &settings,
            token: &token,
            signals: &signals,
            sink: &mut recorder,
            paths: &paths,
            resumed: &resumed,
            board,
            monitor: MonitorSettings::default(),
        });
        helper.join().unwrap();
        (results, recorder.events)
    }

    fn settings(workers: usize) -> RunSettings {
        RunSettings {
            workers,
            retry_delay: Duration::from_secs(3600),
            max_failures: None,
            deadline: None,
            grace: Duration::from_secs(5),
        }
    }

    fn wait_for(path: std::path::PathBuf) {
        let end = Instant::now() + Duration::from_secs(60);
        while !path.exists() {
            assert!(Instant::now() < end, "{} never appeared", path.display());
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    const MANIFEST: &str = "id,command,retries\n\
        f,false,1\n\
        w,\"sh -c 'touch started; sleep 30'\",\n\
        q,true,\n";

    #[test]
    fn two_signals_settle_every_state() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("started");
        let (r, events) = run_with(dir.path(), MANIFEST, settings(1), move |tx| {
            wait_for(marker);
            tx.send(SIGINT).unwrap();
            std::thread::sleep(Duration::from_millis(50)); // two signals, not one merged
            tx.send(SIGINT).unwrap();
        });
        assert_eq!(r.stop, Some(StopReason::Interrupted));
        assert!(r.terminating);
        let statuses: Vec<Status> = r.results.iter().map(|r| r.status).collect();
        assert_eq!(
            statuses,
            [Status::Failed, Status::Cancelled, Status::NotStarted]
        );
        assert_eq!(r.results.job(0).attempts, 1);
        assert!(r
            .results
            .job(0)
            .error
            .as_deref()
            .unwrap()
            .ends_with("(retry not attempted: the run was stopped)"));
        assert!(r.internal_errors.is_empty());
        assert_eq!(
            events,
            [
                "run_started",
                "attempt_finished:f",
                "attempt_output:f",
                "retry_scheduled:f",
                "draining",
                "job_finished:f:failed",
                "job_finished:q:not_started",
                "terminating",
                "attempt_finished:w",
                "attempt_output:w",
                "job_finished:w:cancelled",
            ]
        );
    }

    #[test]
    fn every_attempt_is_told_started_before_it_is_told_finished() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = "id,command,retries\nf,false,2\na,true,\nb,true,\nc,\"sh -c 'exit 3'\",\n";
        let board = crate::process::board::Board::with_starts(4);
        let mut s = settings(2);
        s.retry_delay = Duration::from_millis(1);
        let (r, events) = run_on_board(dir.path(), manifest, s, Some(&board), |_| {});
        assert_eq!(r.results.job(0).attempts, 3);
        for id in ["f", "a", "b", "c"] {
            let told = |name: &str| -> Vec<usize> {
                let e = format!("{name}:{id}");
                (0..events.len()).filter(|&k| events[k] == e).collect()
            };
            let (started, finished) = (told("attempt_started"), told("attempt_finished"));
            assert_eq!(started.len(), if id == "f" { 3 } else { 1 }, "{events:?}");
            assert_eq!(started.len(), finished.len(), "{events:?}");
            for (s, f) in started.iter().zip(&finished) {
                assert!(s < f, "{id}: started after finished: {events:?}");
            }
        }
    }

    #[test]
    fn one_signal_drains() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("started");
        let manifest = MANIFEST.replace("sleep 30", "sleep 0.2");
        let (r, events) = run_with(dir.path(), &manifest, settings(1), move |tx| {
            wait_for(marker);
            tx.send(SIGINT).unwrap();
        });
        assert_eq!(r.stop, Some(StopReason::Interrupted));
        assert!(!r.terminating);
        let statuses: Vec<Status> = r.results.iter().map(|r| r.status).collect();
        assert_eq!(
            statuses,
            [Status::Failed, Status::Succeeded, Status::NotStarted]
        );
        assert_eq!(
            events,
            [
                "run_started",
                "attempt_finished:f",
                "attempt_output:f",
                "retry_scheduled:f",
                "draining",
                "job_finished:f:failed",
                "job_finished:q:not_started",
                "attempt_finished:w",
                "attempt_output:w",
                "job_finished:w:succeeded",
            ]
        );
    }

    #[test]
    fn one_signal_drains_when_results_are_read_in_batches() {
        // No retries, no `after`: every task is queued at once and results are read in
        // batches. The queued tasks come back not started, each job with one result.
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("started");
        let manifest = "id,command\n\
            w,\"sh -c 'touch started; sleep 0.2'\"\n\
            q,true\n\
            r,true\n";
        let (r, events) = run_with(dir.path(), manifest, settings(1), move |tx| {
            wait_for(marker);
            tx.send(SIGINT).unwrap();
        });
        assert_eq!(r.stop, Some(StopReason::Interrupted));
        let statuses: Vec<Status> = r.results.iter().map(|r| r.status).collect();
        assert_eq!(
            statuses,
            [Status::Succeeded, Status::NotStarted, Status::NotStarted]
        );
        assert_eq!(
            events,
            [
                "run_started",
                "draining",
                "attempt_finished:w",
                "attempt_output:w",
                "job_finished:w:succeeded",
                "job_finished:q:not_started",
                "job_finished:r:not_started",
            ]
        );
    }

    #[test]
    fn deadline_and_halt_terminate() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = settings(2);
        s.deadline = Some(Instant::now() + Duration::from_secs(2));
        let (r, events) = run_with(dir.path(), MANIFEST, s, |_| {});
        assert_eq!(r.stop, Some(StopReason::Deadline));
        assert_eq!(r.results.job(1).status, Status::Cancelled);
        // Two workers: f's retry waits an hour, w runs, q succeeds; then the deadline.
        let at = |name: &str| events.iter().position(|e| e == name).unwrap();
        assert!(
            at("deadline_reached") < at("job_finished:f:failed"),
            "{events:?}"
        );
        assert!(
            at("deadline_reached") < at("job_finished:w:cancelled"),
            "{events:?}"
        );
        assert_eq!(
            events
                .iter()
                .filter(|e| e.starts_with("job_finished"))
                .count(),
            3
        );

        let mut s = settings(2);
        s.max_failures = Some(1);
        let manifest = "id,command\nw,\"sh -c 'touch started; sleep 30'\"\nf,\"sh -c 'while [ ! -e started ]; do sleep 0.01; done; exit 1'\"\nq,true\n";
        let (r, events) = run_with(dir.path(), manifest, s, |_| {});
        assert_eq!(r.stop, Some(StopReason::Halted));
        let statuses: Vec<Status> = r.results.iter().map(|r| r.status).collect();
        assert_eq!(
            statuses,
            [Status::Cancelled, Status::Failed, Status::NotStarted]
        );
        let halted = events.iter().position(|e| e == "halted").unwrap();
        assert_eq!(events[halted - 1], "job_finished:f:failed", "{events:?}");
        assert_eq!(
            events[halted + 1],
            "job_finished:q:not_started",
            "{events:?}"
        );
        assert_eq!(events.last().unwrap(), "job_finished:w:cancelled");
    }
}
