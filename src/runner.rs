/*!
The run itself: the dispatcher loop on the main thread (the one owner of results), the workers
that run attempts, and what happens on signals, timeouts, failures and the deadline.

The main thread `select!`s over three things and nothing else: results from workers, signal
events, and a timer for the next retry or the deadline. It never polls.
*/

use std::collections::HashMap;
use std::fs::File;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{never, select};

use crate::cancel::{CancelToken, SignalSource};
use crate::console::{Captured, Console};
use crate::exec::{self, ExecRequest};
use crate::joblog::Joblog;
use crate::outcome::{Attempt, JobResult, Status};
use crate::plan::Plan;
use crate::pool::{Done, WorkerPool};
use crate::schedule::{retry_delay, Scheduler};

/// Settings of the run loop (validated; see [`crate::cli`]).
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// Worker threads.
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

/// Why the run stopped early, if it did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stops {
    /// A signal arrived.
    pub interrupted: bool,
    /// The deadline passed.
    pub deadline: bool,
    /// `--fail-fast` / `--max-failures` tripped.
    pub halted: bool,
    /// batchrun itself failed during the run (a worker panicked, a wait failed).
    pub internal: Option<&'static str>,
}

/// What the run loop returns.
#[derive(Debug)]
pub struct RunResults {
    /// One result per job, in manifest order.
    pub results: Vec<JobResult>,
    /// Why the run stopped early.
    pub stops: Stops,
    /// batchrun's own errors during the run (also in the jobs' errors).
    pub internal_errors: Vec<String>,
}

/// Work for one attempt.
struct Task {
    index: usize,
    attempt: u32,
}

/// What a worker sends back.
enum TaskEnd {
    /// The run was stopped before the attempt started.
    NotStarted,
    /// The attempt ran (or failed to start), with its output when that went to anonymous files.
    Ran(Attempt, Anonymous),
    /// batchrun could not run or wait for it.
    Internal(String),
}

/// Handles on an attempt's anonymous output files (no `--output-dir`). They have no name, so
/// nothing is left to remove, and they vanish when these handles are dropped.
#[derive(Debug, Default)]
struct Anonymous {
    out: Option<File>,
    err: Option<File>,
}

impl Anonymous {
    /// The stdout and stderr the console and the report read.
    fn captured(&self) -> (Captured<'_>, Captured<'_>) {
        fn c(f: &Option<File>) -> Captured<'_> {
            f.as_ref().map_or(Captured::Nothing, Captured::File)
        }
        (c(&self.out), c(&self.err))
    }
}

/// Where one job's output files are.
#[derive(Debug, Clone)]
pub struct OutputPaths {
    /// The directory.
    dir: PathBuf,
    /// True for `--output-dir` (files named by id and kept); false for the private temporary
    /// directory (files with no name, gone once the dispatcher has read them).
    keep: bool,
}

impl OutputPaths {
    /// Output files in `dir`, kept when `keep`.
    pub fn new(dir: PathBuf, keep: bool) -> Self {
        OutputPaths { dir, keep }
    }

    /// The kept file of one stream (`ext`: `out` or `err`) of job `index`: `DIR/ID.ext` with
    /// `--output-dir`, `None` otherwise (the files have no name).
    fn kept(&self, plan: &Plan, index: usize, ext: &str) -> Option<PathBuf> {
        self.keep
            .then(|| self.dir.join(format!("{}.{ext}", plan.jobs[index].id)))
    }

    /// Whether files are kept.
    pub fn keep(&self) -> bool {
        self.keep
    }

    /// Creates the file one stream (`ext`: `out` or `err`) of job `index` goes to. Returns the
    /// handle for the child and, unless files are kept, a second handle to read the output
    /// back: then the file has no name (`O_TMPFILE`), so creating it does not touch the
    /// directory, which workers would otherwise contend for, and nothing needs removing.
    fn create(&self, plan: &Plan, index: usize, ext: &str) -> Result<(File, Option<File>), String> {
        if let Some(p) = self.kept(plan, index, ext) {
            let f = crate::files::create_output(&p)
                .map_err(|e| format!("cannot create {}: {e}", p.display()))?;
            return Ok((f, None));
        }
        let err = |e| format!("cannot create a file in {}: {e}", self.dir.display());
        let reader = tempfile::tempfile_in(&self.dir).map_err(err)?;
        let f = reader.try_clone().map_err(err)?;
        Ok((f, Some(reader)))
    }
}

/// Runs one attempt on a worker thread.
fn work(
    plan: &Plan,
    task: Task,
    token: &CancelToken,
    grace: Duration,
    paths: &OutputPaths,
    stdout_wanted: bool,
    running: &AtomicUsize,
) -> TaskEnd {
    if token.is_stopped() {
        return TaskEnd::NotStarted;
    }
    running.fetch_add(1, Ordering::SeqCst);
    let end = work_started(plan, task, token, grace, paths, stdout_wanted);
    running.fetch_sub(1, Ordering::SeqCst);
    end
}

/// [`work`] once the job is counted as running.
fn work_started(
    plan: &Plan,
    task: Task,
    token: &CancelToken,
    grace: Duration,
    paths: &OutputPaths,
    stdout_wanted: bool,
) -> TaskEnd {
    let job = &plan.jobs[task.index];
    let mut anonymous = Anonymous::default();
    let stdout = if stdout_wanted || paths.keep() {
        match paths.create(plan, task.index, "out") {
            Ok((f, reader)) => {
                anonymous.out = reader;
                Stdio::from(f)
            }
            Err(e) => return TaskEnd::Internal(e),
        }
    } else {
        Stdio::null()
    };
    let stderr = match paths.create(plan, task.index, "err") {
        Ok((f, reader)) => {
            anonymous.err = reader;
            Stdio::from(f)
        }
        Err(e) => return TaskEnd::Internal(e),
    };
    match exec::run_attempt(ExecRequest {
        job,
        attempt: task.attempt,
        stdout,
        stderr,
        grace,
        token,
    }) {
        Ok(a) => {
            if let Some(why) = crate::files::capture_lost(&a, &paths.dir) {
                return TaskEnd::Internal(format!("job '{}': {why}", job.id));
            }
            // With no job output shown, only a failure's stderr tail is ever read: drop a
            // success's file here rather than on the dispatcher's thread.
            if !stdout_wanted && a.status().is_success() {
                anonymous.err = None;
            }
            TaskEnd::Ran(a, anonymous)
        }
        Err(e) => TaskEnd::Internal(format!("waiting for job '{}' failed: {e}", job.id)),
    }
}

/// The dispatcher's state while the run goes on.
struct Dispatcher<'a> {
    plan: &'a Plan,
    settings: &'a RunSettings,
    token: &'a CancelToken,
    console: &'a mut Console,
    joblog: Option<&'a mut Joblog>,
    paths: &'a OutputPaths,
    sched: Scheduler<'a>,
    results: Vec<Option<JobResult>>,
    /// Attempts started so far, per job.
    attempts: Vec<u32>,
    /// The last finished attempt (and its stderr tail) of each job waiting out a retry delay.
    /// Only jobs that are waiting have an entry.
    pending_retry: HashMap<usize, (Attempt, Option<String>)>,
    /// Tasks handed to workers whose result has not come back (at most one per worker, unless
    /// the start order is fixed).
    in_flight: usize,
    /// Jobs whose process workers are running now; workers keep it up to date.
    running: &'a AtomicUsize,
    failures: usize,
    stops: Stops,
    signals_seen: u32,
    internal_errors: Vec<String>,
    rng: u64,
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

    /// Writes a job's final result to the joblog and the console, and keeps it.
    fn record(&mut self, i: usize, result: JobResult) {
        if let Some(log) = self.joblog.as_deref_mut() {
            if let Err(e) = log.append(&self.plan.jobs[i], &result) {
                self.internal_errors.push(e.to_string());
                self.stops.internal.get_or_insert("cannot write the joblog");
            }
        }
        self.console.job_finished(&self.plan.jobs[i], &result);
        self.results[i] = Some(result);
    }

    /// Records a job's final result, settles its dependents, and halts the run when
    /// `--fail-fast` / `--max-failures` say so.
    fn finish(&mut self, i: usize, result: JobResult) {
        let status = result.status;
        self.record(i, result);
        for (skipped, because) in self.sched.finish(i, status) {
            let dep = &self.plan.jobs[because];
            let dep_status = self.results[because]
                .as_ref()
                .map_or(Status::Skipped, |r| r.status);
            // A dependency the stopped run never finished leaves its dependents not started;
            // one that failed (or was skipped) makes them skipped.
            let status = match dep_status {
                Status::NotStarted | Status::Cancelled => Status::NotStarted,
                _ => Status::Skipped,
            };
            let r = JobResult::without_attempt(
                status,
                format!("dependency '{}' {}", dep.id, dep_status.as_str()),
            );
            self.record(skipped, r);
        }
        // Only jobs that ran and failed count towards the limit, not the jobs skipped because
        // of them.
        if !status.is_failure() {
            return;
        }
        self.failures += 1;
        if let Some(max) = self.settings.max_failures {
            if self.failures >= max && !self.stops.halted {
                self.stops.halted = true;
                let running = self.running.load(Ordering::SeqCst);
                self.console.notice(&format!(
                    "{} failure{} reached the limit of {max}: stopping the run, terminating {running} running job{}",
                    self.failures,
                    if self.failures == 1 { "" } else { "s" },
                    if running == 1 { "" } else { "s" }
                ));
                self.token.terminate();
                self.drop_pending_retries();
            }
        }
    }

    /// Builds the final result of job `i` from its last attempt.
    fn result_from(
        &mut self,
        i: usize,
        attempt: Attempt,
        stderr_tail: Option<String>,
    ) -> JobResult {
        JobResult {
            status: attempt.status(),
            attempts: self.attempts[i],
            error: attempt.error(),
            stderr_tail,
            last: Some(attempt),
        }
    }

    /// One attempt came back from a worker.
    fn attempt_done(&mut self, i: usize, end: TaskEnd) {
        self.in_flight -= 1;
        let (attempt, anonymous) = match end {
            TaskEnd::NotStarted => {
                self.attempts[i] -= 1;
                let r = JobResult::without_attempt(Status::NotStarted, self.not_started_reason());
                self.finish(i, r);
                return;
            }
            TaskEnd::Internal(msg) => {
                self.internal_error(&msg);
                let r = JobResult::without_attempt(Status::Failed, format!("batchrun: {msg}"));
                self.finish(i, r);
                return;
            }
            TaskEnd::Ran(a, anonymous) => (a, anonymous),
        };
        // A retry's entry is not needed once it has run.
        self.pending_retry.remove(&i);
        let status = attempt.status();
        let named = self
            .paths
            .kept(self.plan, i, "out")
            .zip(self.paths.kept(self.plan, i, "err"));
        let (out, err) = match &named {
            Some((out, err)) => (Captured::Path(out), Captured::Path(err)),
            None => anonymous.captured(),
        };
        let job = &self.plan.jobs[i];
        let retry = attempt.retryable() && self.attempts[i] <= job.retries && !self.stopping();
        self.console.job_output(job, status, retry, out, err);
        let tail = if status.is_success() {
            None
        } else {
            err.open().and_then(crate::report::read_tail_of)
        };
        if retry {
            let delay = retry_delay(self.settings.retry_delay, self.attempts[i], self.jitter());
            self.console
                .retrying(job, self.attempts[i], job.retries + 1, &attempt, delay);
            self.sched.delay(i, Instant::now() + delay);
            self.pending_retry.insert(i, (attempt, tail));
            return;
        }
        let r = self.result_from(i, attempt, tail);
        self.finish(i, r);
    }

    /// Why jobs did not start, for their error.
    fn not_started_reason(&self) -> &'static str {
        if self.stops.deadline {
            "not started: the deadline was reached"
        } else if self.stops.halted {
            "not started: the run stopped after too many failures"
        } else if self.stops.interrupted {
            "not started: the run was interrupted"
        } else {
            "not started: the run was stopped"
        }
    }

    fn internal_error(&mut self, msg: &str) {
        self.console.error(msg);
        self.internal_errors.push(msg.to_string());
        self.stops.internal.get_or_insert("internal error");
        self.token.terminate();
        self.drop_pending_retries();
    }

    /// A stopping run retries nothing: jobs waiting out a delay keep their last attempt's result.
    fn drop_pending_retries(&mut self) {
        for i in self.sched.take_delayed() {
            if let Some((a, tail)) = self.pending_retry.remove(&i) {
                let mut r = self.result_from(i, a, tail);
                if let Some(e) = &mut r.error {
                    e.push_str(" (retry not attempted: the run was stopped)");
                }
                self.finish(i, r);
            }
        }
    }

    fn on_signal(&mut self) {
        self.signals_seen += 1;
        self.stops.interrupted = true;
        let running = self.running.load(Ordering::SeqCst);
        let s = if running == 1 { "" } else { "s" };
        if self.signals_seen == 1 {
            self.token.stop();
            self.drop_pending_retries();
            if running > 0 {
                self.console.notice(&format!(
                    "interrupted: starting no new jobs; waiting for {running} running job{s} to finish (send the signal again to terminate them)"
                ));
            }
        } else if self.token.terminate() {
            self.console.notice(&format!(
                "second signal: terminating {running} running job{s} (SIGTERM, then SIGKILL after {})",
                humantime::format_duration(self.settings.grace)
            ));
        }
    }

    fn on_deadline(&mut self) {
        self.stops.deadline = true;
        let running = self.running.load(Ordering::SeqCst);
        self.console.notice(&format!(
            "deadline reached: starting no new jobs, terminating {running} running job{}",
            if running == 1 { "" } else { "s" }
        ));
        self.token.terminate();
        self.drop_pending_retries();
    }
}

/// True when no job's result can change which job starts next, or whether any does: no job
/// waits on another (`after`), no group is limited, nothing is retried, and no number of
/// failures stops the run. (A signal or the deadline stops queued tasks too: workers check the
/// token before starting one.)
fn start_order_is_fixed(plan: &Plan, settings: &RunSettings) -> bool {
    settings.max_failures.is_none()
        && plan.deps.iter().all(Vec::is_empty)
        && plan.group_limits.iter().all(Option::is_none)
        && plan.jobs.iter().all(|j| j.retries == 0)
}

/// Runs every job of the plan and returns their results.
///
/// `resumed` marks jobs already done (per the joblog); they are not run.
#[allow(clippy::too_many_arguments)]
pub fn run(
    plan: &Plan,
    settings: &RunSettings,
    token: &CancelToken,
    signals: &SignalSource,
    console: &mut Console,
    joblog: Option<&mut Joblog>,
    paths: &OutputPaths,
    resumed: &[bool],
) -> RunResults {
    let n = plan.jobs.len();
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1;
    let stdout_wanted = console.wants_stdout();
    let running = AtomicUsize::new(0);
    let mut d = Dispatcher {
        plan,
        settings,
        token,
        console,
        joblog,
        paths,
        sched: Scheduler::new(plan),
        results: vec![None; n],
        attempts: vec![0; n],
        pending_retry: HashMap::new(),
        in_flight: 0,
        running: &running,
        failures: 0,
        stops: Stops::default(),
        signals_seen: 0,
        internal_errors: Vec::new(),
        rng: seed,
    };
    for (i, &r) in resumed.iter().enumerate() {
        if r {
            d.results[i] = Some(JobResult {
                status: Status::Resumed,
                attempts: 0,
                last: None,
                error: None,
                stderr_tail: None,
            });
            d.sched.finish(i, Status::Resumed);
        }
    }
    d.console.start(d.sched.open());

    let pool = WorkerPool::new(settings.workers);
    // When no result can change which job starts next, a short queue spares each worker a
    // round trip through the dispatcher between two jobs: with jobs as short as `/bin/true`
    // on two CPUs, waiting for the dispatcher to be scheduled costs a fifth of the run time.
    let window = if start_order_is_fixed(plan, settings) {
        pool.capacity()
    } else {
        pool.workers()
    };
    let grace = settings.grace;
    pool.scope(
        |task: Task| {
            let index = task.index;
            (
                index,
                work(plan, task, token, grace, paths, stdout_wanted, &running),
            )
        },
        |dispatch| loop {
            if let Some(deadline) = settings.deadline {
                if !d.stops.deadline && Instant::now() >= deadline {
                    d.on_deadline();
                }
            }
            if !d.stopping() {
                d.sched.promote_due(Instant::now());
                // Never more tasks out than workers: a queued task would start before the
                // dispatcher has seen the results ahead of it, so it could overtake a job that
                // a success is about to release, or start after a failure that halts the run.
                // Unless no result can change what starts next (see `window`).
                while d.in_flight < window {
                    let Some(i) = d.sched.next_ready() else { break };
                    d.attempts[i] += 1;
                    d.in_flight += 1;
                    dispatch
                        .jobs
                        .send(Task {
                            index: i,
                            attempt: d.attempts[i],
                        })
                        .expect("workers hold the receiver while the pool runs");
                }
            }
            if d.in_flight == 0 && (d.stopping() || d.sched.idle()) {
                break;
            }
            let wake = [
                d.sched.next_retry_at().filter(|_| !d.stopping()),
                settings.deadline.filter(|_| !d.stops.deadline),
            ]
            .into_iter()
            .flatten()
            .min();
            let timer = wake.map_or_else(never, crossbeam_channel::at);
            select! {
                recv(dispatch.results) -> msg => match msg {
                    Ok(Done::Finished((i, end))) => d.attempt_done(i, end),
                    Ok(Done::Panicked(m)) => {
                        // The worker is gone, and so is the index of its task: find which job
                        // is unaccounted for once everything else is in.
                        d.in_flight -= 1;
                        d.internal_error(&format!("a worker thread panicked: {m}"));
                    }
                    Err(_) => {
                        d.internal_error("every worker thread has stopped");
                        break;
                    }
                },
                recv(signals.events) -> _ => d.on_signal(),
                recv(timer) -> _ => {}
            }
        },
    );

    // Jobs with no result: never started because the run stopped (or a worker died).
    let reason = d.not_started_reason();
    let unfinished = d.sched.unfinished();
    for i in unfinished {
        if d.results[i].is_none() {
            let r = if d.attempts[i] > 0 {
                JobResult::without_attempt(
                    Status::Failed,
                    "batchrun: lost track of this job (internal error)",
                )
            } else {
                JobResult::without_attempt(Status::NotStarted, reason)
            };
            d.finish(i, r);
        }
    }
    d.console.finish();
    RunResults {
        results: d
            .results
            .into_iter()
            .map(|r| r.expect("every job has a result"))
            .collect(),
        stops: d.stops,
        internal_errors: d.internal_errors,
    }
}
