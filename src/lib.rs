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

pub mod cancel;
pub mod cli;
pub mod console;
pub mod error;
pub mod exec;
pub mod exit;
pub mod files;
pub mod joblog;
pub mod manifest;
pub mod outcome;
pub mod plan;
pub mod pool;
pub mod reaper;
pub mod report;
pub mod runner;
pub mod schedule;
mod sys;

use std::io::Write;
use std::path::Path;
use std::time::{Instant, SystemTime};

use cli::{Action, Config, RunConfig};
use error::Error;
use outcome::RunOutcome;
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
    pub exit_code: i32,
    /// The run's summary, when jobs were run.
    pub summary: Option<report::RunSummary>,
}

/// Does what `config` asks: `check`, `run --dry-run`, or a real run with signals from
/// `signals`. Prints job output, notices and the summary; returns the exit code.
pub fn run(config: &Config, signals: SignalSource) -> Result<Finished, Error> {
    let plan = load_plan(config)?;
    let rc = match &config.action {
        Action::Check => {
            print_stdout(&report::plan_table(&plan));
            return Ok(Finished {
                exit_code: exit::SUCCESS,
                summary: None,
            });
        }
        Action::Run(rc) => rc,
    };
    if rc.dry_run {
        let text: String = plan
            .start_order()
            .into_iter()
            .map(|i| plan.jobs[i].command.display() + "\n")
            .collect();
        print_stdout(&text);
        return Ok(Finished {
            exit_code: exit::SUCCESS,
            summary: None,
        });
    }
    run_plan(&plan, rc, signals)
}

fn print_stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
}

/// Runs a validated plan for real.
pub fn run_plan(plan: &Plan, rc: &RunConfig, signals: SignalSource) -> Result<Finished, Error> {
    // Everything batchrun must write is checked before any job starts.
    let manifest = (plan.manifest != "<stdin>").then(|| Path::new(&plan.manifest));
    files::check_given_files(manifest, plan, rc)?;
    let _lock = rc.lock.as_deref().map(files::take_lock).transpose()?;
    for (path, _) in &rc.reports {
        files::check_report(path).map_err(|source| Error::Output {
            what: "report",
            path: path.clone(),
            source,
        })?;
    }
    let resume_from = match (&rc.joblog, rc.resume) {
        (Some(p), true) => Some(joblog::read_successes(p).map_err(|e| Error::Output {
            what: "joblog",
            path: e.path,
            source: e.source,
        })?),
        _ => None,
    };
    let mut log = rc
        .joblog
        .as_deref()
        .map(joblog::Joblog::open)
        .transpose()
        .map_err(|e| Error::Output {
            what: "joblog",
            path: e.path,
            source: e.source,
        })?;
    let tmp = files::private_tempdir()
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

    let resumed: Vec<bool> = plan
        .jobs
        .iter()
        .map(|j| {
            resume_from
                .as_ref()
                .and_then(|ok| ok.get(&j.id))
                .is_some_and(|h| *h == joblog::command_hash(j))
        })
        .collect();

    match sys::raise_nofile_limit() {
        Ok((old, new)) => log::debug!("open-file limit: soft {old}, raised to {new}"),
        Err(e) => log::debug!("cannot raise the open-file limit: {e}"),
    }
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
    let started_at = SystemTime::now();
    let t0 = Instant::now();
    let results = runner::run(
        plan,
        &settings,
        &token,
        &signals,
        &mut console,
        log.as_mut(),
        &paths,
        &resumed,
    );
    let reaped = sys::reap_exited_children();
    if reaped > 0 {
        log::debug!("reaped {reaped} processes that had left their job's process group");
    }
    let duration = t0.elapsed();
    let any_failure = results.results.iter().any(|r| r.status.is_failure());
    let mut exit_code = exit::for_run(&results.stops, any_failure);
    let outcome = if results.stops.interrupted {
        RunOutcome::Interrupted
    } else if results.stops.deadline {
        RunOutcome::DeadlineExceeded
    } else if exit_code == exit::SUCCESS {
        RunOutcome::Succeeded
    } else {
        RunOutcome::Failed
    };
    let mut summary = report::RunSummary {
        manifest: plan.manifest.clone(),
        started_at,
        finished_at: SystemTime::now(),
        duration,
        workers: rc.workers,
        outcome,
        exit_code,
        ids: plan.jobs.iter().map(|j| j.id.clone()).collect(),
        max_attempts: plan.jobs.iter().map(|j| j.retries + 1).collect(),
        results: results.results,
        internal_errors: results.internal_errors,
    };
    for (path, format) in &rc.reports {
        if let Err(e) = report::write_atomic(path, &report::render(*format, &summary)) {
            let msg = format!("cannot write report {}: {e}", path.display());
            console::eprint_line(&msg);
            summary.internal_errors.push(msg);
            exit_code = exit::INTERNAL;
        }
    }
    summary.exit_code = exit_code;
    if !(rc.quiet && exit_code == exit::SUCCESS) {
        let text = report::summary_text(&summary);
        let _ = std::io::stderr().write_all(text.as_bytes());
    }
    Ok(Finished {
        exit_code,
        summary: Some(summary),
    })
}
