/*!
One real run, step by step: every output checked and opened before any job starts, the
dispatcher run with its sinks (the console, the joblog), the output flushed, the one exit
decision, the reports, the summary, and `--on-finish`.
*/

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::app::{preflight, Finished};
use crate::event::summary::{RunSummary, Span};
use crate::event::{Event, EventSink, Fanout};
use crate::model::config::{EventsTarget, ReportFormat, RunConfig};
use crate::model::error::Error;
use crate::model::exit::{self, Exit, StopReason};
use crate::model::outcome;
use crate::output::events::EventsSink;
use crate::output::joblog::{self, JoblogSink};
use crate::output::metrics::{Metrics, MetricsSink};
use crate::output::ping::Pinger;
use crate::output::{console, report};
use crate::plan::Plan;
use crate::process::board::Board;
use crate::process::cancel::CancelToken;
use crate::process::signals::SignalSource;
use crate::run::dispatcher as runner;
use crate::run::monitor::MonitorSettings;
use crate::util::sys;

/// What a run writes besides job output, opened and checked before any job starts.
struct Outputs {
    /// The joblog, appending.
    joblog: Option<JoblogSink>,
    /// Where job output is captured.
    paths: crate::capture::OutputPaths,
    /// Jobs already done per the joblog (`--resume`).
    resumed: Vec<bool>,
    /// `--events`, opened.
    events: Option<EventsSink>,
    /// `--metrics`, with what the file said before this run.
    metrics: Option<Metrics>,
    /// The private directory for captured output; removed when dropped.
    _tmp: tempfile::TempDir,
}

/// What the status monitor does for a run.
fn monitor_settings(rc: &RunConfig) -> MonitorSettings {
    MonitorSettings {
        heartbeat: rc.heartbeat,
        slow: rc.slow,
    }
}

/// What the reports need besides the summary: the failures listed, the metrics.
fn report_context(rc: &RunConfig, metrics: Option<Metrics>) -> report::Context {
    report::Context {
        max_listed: rc.max_listed,
        see: report::Context::see_also(&rc.reports, rc.joblog.as_deref()),
        metrics,
    }
}

/// Once the reports are written and the console closed: `--on-finish`.
fn after_reports(rc: &RunConfig, summary: &RunSummary, written: &[(PathBuf, ReportFormat)]) {
    if let Some(cmd) = &rc.on_finish {
        let report = crate::app::hook::first_json_report(written);
        crate::app::hook::on_finish(
            cmd,
            (rc.on_finish_timeout, rc.grace),
            summary,
            report.as_deref(),
        );
    }
}

/// Checks that everything batchrun must write can be written, and opens it, before any job
/// starts.
fn prepare_outputs(plan: &Plan, rc: &RunConfig) -> Result<Outputs, Error> {
    for (path, _) in &rc.reports {
        preflight::check_report(path).map_err(|source| Error::Output {
            what: "report",
            path: path.clone(),
            source,
        })?;
    }
    let metrics = match &rc.metrics {
        Some(m) => {
            preflight::check_report(&m.path).map_err(|source| Error::Output {
                what: "metrics file",
                path: m.path.clone(),
                source,
            })?;
            Some(Metrics::new(m, &plan.manifest))
        }
        None => None,
    };
    let resumed = crate::app::resume::from_joblog(plan, rc.joblog.as_deref().filter(|_| rc.resume))
        .map_err(Error::from)?;
    let joblog = rc
        .joblog
        .as_deref()
        .map(joblog::Joblog::open)
        .transpose()
        .map(|log| log.map(JoblogSink::new))
        .map_err(Error::from)?;
    let tmp = crate::capture::files::private_tempdir()
        .map_err(|e| Error::Internal(format!("cannot create a temporary directory: {e}")))?;
    let paths = match &rc.output_dir {
        Some(dir) => {
            let out_err = |source| Error::Output {
                what: "output directory",
                path: dir.clone(),
                source,
            };
            std::fs::create_dir_all(dir).map_err(out_err)?;
            tempfile::NamedTempFile::new_in(dir).map_err(|e| out_err(crate::util::fs::plain(e)))?;
            crate::capture::OutputPaths::new(dir.clone(), true)
        }
        None => crate::capture::OutputPaths::new(tmp.path().to_path_buf(), false),
    };
    let events = match &rc.events {
        Some(target) => Some(EventsSink::open(target).map_err(|source| Error::Output {
            what: "events file",
            path: match target {
                EventsTarget::Path(p) => p.clone(),
                EventsTarget::Stdout => PathBuf::from("-"),
            },
            source,
        })?),
        None => None,
    };
    Ok(Outputs {
        joblog,
        paths,
        resumed,
        events,
        metrics,
        _tmp: tmp,
    })
}

/// Prints the job output still queued before the run is decided; a signal (or, once jobs were
/// being terminated, a moment) ends the wait, and what is left is dropped, with a note.
fn flush_output(
    console: &mut console::Console,
    signals: &SignalSource,
    terminating: bool,
    stop: &mut Option<StopReason>,
) {
    let limit = terminating.then_some(Duration::from_secs(1));
    match console.flush(&signals.events, limit) {
        console::Flushed::All => {}
        console::Flushed::Interrupted(jobs) => {
            StopReason::escalate(stop, StopReason::Interrupted);
            console.handle(&Event::OutputDropped { jobs });
        }
        console::Flushed::GaveUp(jobs) => console.handle(&Event::OutputDropped { jobs }),
    }
}

/// How many capture files `--keep-order` may hold open: half of what the open-file limit
/// leaves after what the workers, the printer's queue (64 jobs) and batchrun itself need, so
/// jobs never run out of descriptors because output waits to be printed.
fn held_output_budget(workers: usize) -> usize {
    let limit = usize::try_from(sys::nofile_limit()).unwrap_or(usize::MAX);
    limit
        .saturating_sub(192)
        .saturating_sub(workers.saturating_mul(8))
        / 2
}

/// Raises the open-file limit and makes batchrun the subreaper of its jobs' processes.
fn prepare_limits() {
    match sys::raise_nofile_limit() {
        Ok((old, new)) => log::debug!("open-file limit: soft {old}, raised to {new}"),
        Err(e) => log::debug!("cannot raise the open-file limit: {e}"),
    }
    if let Err(e) = sys::become_subreaper() {
        log::warn!("cannot become a child subreaper ({e}): background processes that jobs leave behind may not be found");
    }
}

/// The run loop's settings.
fn run_settings(rc: &RunConfig) -> runner::RunSettings {
    runner::RunSettings {
        workers: rc.workers,
        retry_delay: rc.retry_delay,
        max_failures: rc.max_failures,
        deadline: rc
            .deadline
            .map(|t| Instant::now() + t.duration_since(SystemTime::now()).unwrap_or_default()),
        grace: rc.grace,
    }
}

/// Checks the files batchrun was given and takes `--lock`; then, with `ping`, sends `/start`.
/// Returns the lock, held while it lives.
fn check_and_lock(
    plan: &Plan,
    rc: &RunConfig,
    ping: Option<&mut Pinger>,
) -> Result<Option<std::fs::File>, Error> {
    let manifest = (plan.manifest != "<stdin>").then(|| Path::new(&plan.manifest));
    preflight::check_given_files(manifest, plan, rc)?;
    let lock = rc.lock.as_deref().map(preflight::take_lock).transpose()?;
    if let Some(p) = ping {
        p.start();
    }
    Ok(lock)
}

/// The console of a run: how job output is shown, failures listed, `--keep-order`.
fn console_for(rc: &RunConfig, ctx: &report::Context, resumed: &[bool]) -> console::Console {
    let mut console = console::Console::new(rc.output, rc.quiet, rc.progress);
    console.list_at_most(rc.max_listed, ctx.see.clone());
    if rc.keep_order {
        console.keep_order(resumed, held_output_budget(rc.workers));
    }
    console
}

/// The live board for the jobs to run; attempts are told as they start only when someone
/// listens (`--events`).
fn board_for(outputs: &Outputs) -> Board {
    let to_run = outputs.resumed.iter().filter(|&&r| !r).count();
    if outputs.events.is_some() {
        Board::with_starts(to_run)
    } else {
        Board::new(to_run)
    }
}

/// Runs a validated plan for real.
/// With `ping`, `/start` is sent once the lock is taken (the final ping is the caller's).
pub fn run_plan(
    plan: &Plan,
    rc: &RunConfig,
    signals: SignalSource,
    ping: Option<&mut Pinger>,
) -> Result<Finished, Error> {
    // Everything batchrun must write is checked before any job starts.
    let _lock = check_and_lock(plan, rc, ping)?;
    let mut outputs = prepare_outputs(plan, rc)?;
    prepare_limits();
    crate::process::exec::spawners_needed(rc.records_job_memory());
    let token = CancelToken::new()
        .map_err(|e| Error::Internal(format!("cannot create the cancel token: {e}")))?;
    let settings = run_settings(rc);
    let ctx = report_context(rc, outputs.metrics.take());
    let mut console = console_for(rc, &ctx, &outputs.resumed);
    let board = board_for(&outputs);
    let mut refresh = ctx
        .metrics
        .clone()
        .filter(|_| rc.heartbeat.is_some())
        .map(MetricsSink::new);
    let started_at = SystemTime::now();
    let t0 = Instant::now();
    let mut sinks: Vec<&mut dyn EventSink> = Vec::with_capacity(4);
    // The joblog first: a job's line is on disk before its output is printed.
    if let Some(j) = outputs.joblog.as_mut() {
        sinks.push(j);
    }
    if let Some(e) = outputs.events.as_mut() {
        sinks.push(e);
    }
    if let Some(m) = refresh.as_mut() {
        sinks.push(m);
    }
    sinks.push(&mut console);
    let results = runner::run(runner::RunContext {
        plan,
        settings: &settings,
        token: &token,
        signals: &signals,
        sink: &mut Fanout::new(sinks),
        paths: &outputs.paths,
        resumed: &outputs.resumed,
        board: Some(&board),
        monitor: monitor_settings(rc),
    });
    let reaped = sys::reap_exited_children();
    if reaped > 0 {
        log::debug!("reaped {reaped} processes that had left their job's process group");
    }
    let mut stop = results.stop;
    flush_output(&mut console, &signals, results.terminating, &mut stop);
    let any_failure = results.results.statuses().any(outcome::Status::is_failure);
    let span = Span {
        started_at,
        finished_at: SystemTime::now(),
        duration: t0.elapsed(),
    };
    let decision = exit::decide(stop, any_failure);
    let mut summary = RunSummary::new(
        plan,
        results.results,
        decision,
        span,
        rc.workers,
        results.internal_errors,
    );
    let (exit, written) = write_reports(&mut summary, rc, &ctx, stop, any_failure);
    if let Some(events) = outputs.events.as_mut() {
        events.handle(&Event::RunFinished {
            summary: &summary,
            reports: &written,
        });
        events.close(&signals.events);
    }
    if !(rc.quiet && exit == Exit::Success) {
        console.handle(&Event::Summary { summary: &summary });
    }
    if !rc.quiet {
        console.handle(&Event::ReportsWritten { reports: &written });
    }
    console.close(&signals.events);
    after_reports(rc, &summary, &written);
    Ok(Finished {
        exit,
        summary: Some(summary),
    })
}

/// Writes the reports (one decision: see [`report::write_all`]), saying so on stderr when that
/// takes more than a second.
fn write_reports(
    summary: &mut RunSummary,
    rc: &RunConfig,
    ctx: &report::Context,
    stop: Option<StopReason>,
    any_failure: bool,
) -> (Exit, Vec<(PathBuf, ReportFormat)>) {
    let jobs = summary.jobs.len();
    let _slow = (!rc.reports.is_empty())
        .then(|| SlowNotice::after(Duration::from_secs(1), &rc.reports, jobs));
    report::write_all(summary, &rc.reports, ctx, stop, any_failure)
}

/// A line on stderr saying what is being written, when writing it takes longer than a while
/// (a million jobs' report): printed by a helper thread unless dropped first.
struct SlowNotice {
    done: Option<crossbeam_channel::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SlowNotice {
    /// Says, after `wait`, that the `reports` of `jobs` jobs are being written.
    fn after(wait: Duration, reports: &[(PathBuf, ReportFormat)], jobs: usize) -> SlowNotice {
        let (tx, rx) = crossbeam_channel::bounded::<()>(0);
        let names: Vec<String> = reports
            .iter()
            .map(|(p, _)| p.display().to_string())
            .collect();
        let line = format!(
            "writing {} ({})…",
            names.join(", "),
            crate::util::text::plural(jobs, "job")
        );
        let thread = std::thread::Builder::new()
            .name("batchrun-notice".into())
            .spawn(move || {
                if rx.recv_timeout(wait) == Err(crossbeam_channel::RecvTimeoutError::Timeout) {
                    console::eprint_line(&line);
                }
            })
            .ok();
        SlowNotice {
            done: Some(tx),
            thread,
        }
    }
}

impl Drop for SlowNotice {
    fn drop(&mut self) {
        drop(self.done.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
