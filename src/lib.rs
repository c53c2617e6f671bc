/*!
batchrun: run the jobs of a CSV manifest as child processes on a fixed pool of OS worker
threads, cancel cooperatively, collect every error, write a report, and exit with a code that
shell scripts can trust.

The stages, one module each: [`cli`] (flags → [`cli::Config`]), [`manifest`] (CSV →
[`manifest::JobSpec`]s), [`plan`] (cross-row checks → [`plan::Plan`]), [`schedule`] (what may
start next), [`pool`] (worker threads and channels), [`exec`] (one child process →
[`outcome::Attempt`]), [`runner`] (the dispatcher loop), [`console`], [`joblog`] and [`report`]
(everything the user sees), [`exit`] (exit codes).

[`pool::WorkerPool`] is usable on its own to run closures on a fixed set of threads.
*/
#![warn(missing_docs)]

pub mod adjacency;
pub mod cancel;
pub mod cli;
pub mod console;
pub mod error;
pub mod event;
pub mod exec;
pub mod exit;
mod idset;
pub mod joblog;
pub mod manifest;
pub mod order;
pub mod outcome;
pub mod plan;
pub mod pool;
pub mod report;
pub mod resume;
pub mod runner;
pub mod schedule;
mod spare;
mod sys;
pub mod template;

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use cli::{Action, Config, RunConfig};
use error::Error;
use event::Event;
use exit::{Exit, StopReason};
use plan::Plan;

pub use cancel::{CancelToken, SignalSource};

/// Reads and validates the manifest named in `config`, returning the plan or every problem.
pub fn load_plan(config: &Config) -> Result<Plan, Error> {
    let bytes = manifest::read_source(&config.manifest).map_err(|source| Error::ReadManifest {
        path: config.manifest.clone(),
        source,
    })?;
    let name = manifest::display_name(&config.manifest);
    let tsv = Path::new(&config.manifest)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("tsv"));
    let invalid = |problems| Error::Invalid {
        manifest: name.clone(),
        problems,
    };
    // Cross-row checks run on the valid rows even when others have problems, so one pass
    // reports everything.
    let (m, mut problems) = manifest::parse_all(&name, &bytes, tsv, &config.manifest_options);
    // Logged, so `-q` keeps a cron run that succeeds silent.
    for w in &m.warnings {
        log::warn!("{w}");
    }
    match Plan::new(m, &config.limits) {
        Ok(plan) if problems.is_empty() => Ok(plan),
        Ok(_) => Err(invalid(problems)),
        Err(more) => {
            problems.extend(more);
            problems.sort_by_key(|p| p.line.unwrap_or(u64::MAX));
            Err(invalid(problems))
        }
    }
}

/// What [`run`] did.
#[derive(Debug)]
pub struct Finished {
    /// The exit code batchrun should end with.
    pub exit: exit::Exit,
    /// The run's summary, when jobs were run.
    pub summary: Option<report::RunSummary>,
}

/// Does what `config` asks: `check`, `run --dry-run`, or a real run with signals from
/// `signals`. Prints job output, notices and the summary; returns the exit code.
pub fn run(config: &Config, signals: SignalSource) -> Result<Finished, Error> {
    let plan = load_plan(config)?;
    let rc = match &config.action {
        Action::Check => {
            console::write_stdout(|w| report::write_plan_table(w, &plan));
            return Ok(Finished {
                exit: Exit::Success,
                summary: None,
            });
        }
        Action::Run(rc) => rc,
    };
    if rc.dry_run {
        dry_run(&plan, rc)?;
        return Ok(Finished {
            exit: Exit::Success,
            summary: None,
        });
    }
    run_plan(&plan, rc, signals)
}

/// `--dry-run`: prints the command of every job that would run, in start order; with
/// `--resume`, says on stderr how many would be resumed.
fn dry_run(plan: &Plan, rc: &RunConfig) -> Result<(), Error> {
    let joblog = rc.joblog.as_deref().filter(|_| rc.resume);
    let resumed = resume::from_joblog(plan, joblog).map_err(joblog_error)?;
    console::write_stdout(|w| {
        for i in plan.start_order() {
            if !resumed[i] {
                plan.jobs[i].command.write_display(w)?;
                w.write_all(b"\n")?;
            }
        }
        Ok(())
    });
    if let Some(path) = joblog {
        let n = resumed.iter().filter(|&&r| r).count();
        console::eprint_line(&format!(
            "{n} of {} job{} would be resumed (succeeded before, per {}); {} would run",
            resumed.len(),
            if resumed.len() == 1 { "" } else { "s" },
            path.display(),
            resumed.len() - n
        ));
    }
    Ok(())
}

fn joblog_error(e: joblog::JoblogError) -> Error {
    Error::Output {
        what: "joblog",
        path: e.path,
        source: e.source,
    }
}

/// Takes the `--lock` file, writing our pid into it.
fn take_lock(path: &Path) -> Result<std::fs::File, Error> {
    let io_err = |source| Error::Output {
        what: "lock file",
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io_err)?;
    match file.try_lock() {
        Ok(()) => {
            file.set_len(0).map_err(io_err)?;
            writeln!(file, "{}", std::process::id()).map_err(io_err)?;
            Ok(file)
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(path)
                .ok()
                .and_then(|s| s.trim().parse::<u32>().ok())
                .map(|pid| format!(" (pid {pid})"))
                .unwrap_or_default();
            Err(Error::Locked {
                path: path.to_path_buf(),
                holder,
            })
        }
        Err(std::fs::TryLockError::Error(e)) => Err(io_err(e)),
    }
}

/// What a run writes besides job output, opened and checked before any job starts.
struct Outputs {
    /// The joblog, appending.
    joblog: Option<joblog::Joblog>,
    /// Where job output is captured.
    paths: runner::OutputPaths,
    /// Jobs already done per the joblog (`--resume`).
    resumed: Vec<bool>,
    /// The private directory for captured output; removed when dropped.
    _tmp: tempfile::TempDir,
}

/// Checks that everything batchrun must write can be written, and opens it, before any job
/// starts.
fn prepare_outputs(plan: &Plan, rc: &RunConfig) -> Result<Outputs, Error> {
    for (path, _) in &rc.reports {
        report::check_writable(path).map_err(|source| Error::Output {
            what: "report",
            path: path.clone(),
            source,
        })?;
    }
    let resumed = resume::from_joblog(plan, rc.joblog.as_deref().filter(|_| rc.resume))
        .map_err(joblog_error)?;
    let joblog = rc
        .joblog
        .as_deref()
        .map(joblog::Joblog::open)
        .transpose()
        .map_err(joblog_error)?;
    let tmp = tempfile::Builder::new()
        .prefix("batchrun-")
        .tempdir()
        .map_err(|e| Error::Internal(format!("cannot create a temporary directory: {e}")))?;
    let paths = match &rc.output_dir {
        Some(dir) => {
            let out_err = |source| Error::Output {
                what: "output directory",
                path: dir.clone(),
                source,
            };
            std::fs::create_dir_all(dir).map_err(out_err)?;
            tempfile::NamedTempFile::new_in(dir).map_err(out_err)?;
            runner::OutputPaths::new(dir.clone(), true)
        }
        None => runner::OutputPaths::new(tmp.path().to_path_buf(), false),
    };
    Ok(Outputs {
        joblog,
        paths,
        resumed,
        _tmp: tmp,
    })
}

/// Runs a validated plan for real.
pub fn run_plan(plan: &Plan, rc: &RunConfig, signals: SignalSource) -> Result<Finished, Error> {
    let _lock = rc.lock.as_deref().map(take_lock).transpose()?;
    let mut outputs = prepare_outputs(plan, rc)?;
    if let Err(e) = sys::become_subreaper() {
        log::warn!("cannot become a child subreaper ({e}): background processes that jobs leave behind may not be found");
    }
    let token = CancelToken::new()
        .map_err(|e| Error::Internal(format!("cannot create the cancel token: {e}")))?;
    let settings = runner::RunSettings {
        workers: rc.workers,
        retry_delay: rc.retry_delay,
        max_failures: rc.max_failures,
        deadline: rc
            .deadline
            .map(|t| Instant::now() + t.duration_since(SystemTime::now()).unwrap_or_default()),
        grace: rc.grace,
    };
    let mut console = console::Console::new(rc.output, rc.quiet, rc.progress);
    if rc.keep_order {
        console.keep_order(&outputs.resumed);
    }
    let started_at = SystemTime::now();
    let t0 = Instant::now();
    let results = runner::run(runner::RunContext {
        plan,
        settings: &settings,
        token: &token,
        signals: &signals,
        console: &mut console,
        joblog: outputs.joblog.as_mut(),
        paths: &outputs.paths,
        resumed: &outputs.resumed,
    });
    let reaped = sys::reap_exited_children();
    if reaped > 0 {
        log::debug!("reaped {reaped} processes that had left their job's process group");
    }
    let mut stop = results.stop;
    // Job output still queued is printed before the run is decided; a signal (or, once jobs
    // were being terminated, a moment) ends the wait, and what is left is dropped.
    let limit = results.terminating.then_some(Duration::from_secs(1));
    match console.flush(&signals.events, limit) {
        console::Flushed::All => {}
        console::Flushed::Interrupted(jobs) => {
            StopReason::escalate(&mut stop, StopReason::Interrupted);
            console.handle(Event::OutputDropped { jobs });
        }
        console::Flushed::GaveUp(jobs) => console.handle(Event::OutputDropped { jobs }),
    }
    let any_failure = results.results.iter().any(|r| r.status.is_failure());
    let decision = exit::decide(stop, any_failure);
    let mut summary = report::RunSummary {
        manifest: plan.manifest.clone(),
        started_at,
        finished_at: SystemTime::now(),
        duration: t0.elapsed(),
        workers: rc.workers,
        outcome: decision.outcome,
        exit_code: decision.exit.code().into(),
        ids: plan.jobs.iter().map(|j| j.id.clone()).collect(),
        max_attempts: plan.jobs.iter().map(|j| j.retries + 1).collect(),
        results: results.results,
        internal_errors: results.internal_errors,
    };
    let exit = write_reports(&mut summary, &rc.reports, stop, any_failure);
    if !(rc.quiet && exit == Exit::Success) {
        console.handle(Event::Summary { summary: &summary });
    }
    console.close(&signals.events);
    Ok(Finished {
        exit,
        summary: Some(summary),
    })
}

/// Writes every report. A report that cannot be written is part of the decision: it escalates
/// to batchrun's own failure (exit 3) before any report is renamed into place, so the reports
/// on disk, the summary and the exit code agree. Returns the final exit code.
fn write_reports(
    summary: &mut report::RunSummary,
    reports: &[(std::path::PathBuf, report::ReportFormat)],
    stop: Option<StopReason>,
    any_failure: bool,
) -> Exit {
    let mut stop = stop;
    let mut staged = Vec::new();
    for (path, format) in reports {
        match report::stage(path, *format, summary) {
            Ok(s) => staged.push(s),
            Err(e) => report_failed(summary, path, &e),
        }
    }
    if staged.len() < reports.len() && escalate_to_internal(summary, &mut stop, any_failure) {
        staged.retain_mut(|s| match s.rewrite(summary) {
            Ok(()) => true,
            Err(e) => {
                report_failed(summary, s.path(), &e);
                false
            }
        });
    }
    let mut persisted = Vec::new();
    for s in staged {
        let (path, format) = (s.path().to_path_buf(), s.format());
        match s.persist() {
            Ok(()) => persisted.push((path, format)),
            Err(e) => report_failed(summary, &path, &e),
        }
    }
    // A rename that failed after others were done (rare: the directory went away): the ones in
    // place are written again with the escalated decision.
    if persisted.len() < reports.len() && escalate_to_internal(summary, &mut stop, any_failure) {
        for (path, format) in persisted {
            if let Err(e) = report::stage(&path, format, summary).and_then(|s| s.persist()) {
                report_failed(summary, &path, &e);
            }
        }
    }
    exit::decide(stop, any_failure).exit
}

/// Notes, once, that the report at `path` could not be written.
fn report_failed(summary: &mut report::RunSummary, path: &Path, e: &std::io::Error) {
    summary
        .internal_errors
        .push(format!("cannot write report {}: {e}", path.display()));
}

/// Escalates the decision to batchrun's own failure and updates the summary; false if it was
/// that already.
fn escalate_to_internal(
    summary: &mut report::RunSummary,
    stop: &mut Option<StopReason>,
    any_failure: bool,
) -> bool {
    if !StopReason::escalate(stop, StopReason::Internal) {
        return false;
    }
    let d = exit::decide(*stop, any_failure);
    summary.outcome = d.outcome;
    summary.exit_code = d.exit.code().into();
    true
}
