/*!
`batchrun merge`: one report and one exit code from the JSON reports of `run --shard K/N`.

The manifest is read again (the path the reports name, or `--manifest`), its SHA-256 checked
against the reports', and the partition recomputed ([`crate::plan::shard::assign`]), so merge knows
which shard every job belongs to. Inconsistent inputs are a usage error (exit 2) naming each
file, and nothing is written. A shard without a report leaves its jobs `not_started`. The
merged jobs become the crate's own [`JobResult`]s, so the same renderers as `run` write the
reports and the summary.

Reports are read and folded into one result per job in order, the next one parsed while one
is folded, so memory holds the plan, the results and two reports, whatever the number of
shards.
*/

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::app::merge_index::{JobIndex, Walk};
use crate::app::merge_inputs::{recover, Recovery, Shards};
use crate::app::merge_read::{parse_report, read_all, read_input, InJob, InReport};
use crate::event::summary::{MergeInfo, RunSummary, Span};
use crate::model::config::{Config, MergeConfig};
use crate::model::error::Error;
use crate::model::exit::{Exit, StopReason};
use crate::model::outcome::{Attempt, AttemptEnd, JobResult, KillReason, Status};
use crate::model::results::Results;
use crate::model::shard::{self, Shard};
use crate::output::console;
use crate::output::report;
use crate::plan::shard::assign;
use crate::plan::Plan;
use crate::process::signals::SignalSource;
use crate::util::sys::Usage;

fn parse_time(path: &Path, what: &str, s: &str) -> Result<SystemTime, String> {
    humantime::parse_rfc3339_weak(s).map_err(|e| {
        format!(
            "{}: {what} '{s}' is not an RFC 3339 time ({e})",
            path.display()
        )
    })
}

/// How a job's last attempt ended, as far as the report tells.
fn attempt_end(
    status: Status,
    exit_code: Option<i32>,
    signal: Option<i32>,
    error: &str,
) -> AttemptEnd {
    let killed = match status {
        // The limit itself is not in the report; the error text (kept) names it.
        Status::TimedOut => Some(KillReason::Timeout(Duration::ZERO)),
        Status::Cancelled => Some(KillReason::Cancel),
        Status::StartFailed if exit_code.is_none() && signal.is_none() => {
            return AttemptEnd::StartFailed {
                message: error.to_string(),
                transient: false,
            }
        }
        _ => None,
    };
    AttemptEnd::Ended {
        exit_code,
        signal,
        killed,
    }
}

/// A report's job as the crate's own result.
fn to_result(path: &Path, j: InJob<'_>) -> Result<JobResult, String> {
    let status = Status::ALL
        .into_iter()
        .find(|s| s.as_str() == &*j.status)
        .ok_or_else(|| {
            format!(
                "{}: job '{}' has status '{}' (expected one of succeeded, failed, timed_out, \
                 start_failed, skipped, cancelled, not_started, resumed)",
                path.display(),
                j.id,
                &*j.status
            )
        })?;
    let last = match &j.started_at {
        None => None,
        Some(t) => Some(Attempt {
            end: attempt_end(
                status,
                j.exit_code,
                j.signal,
                j.error.as_deref().unwrap_or_default(),
            ),
            started_at: parse_time(path, "started_at", t)?,
            duration: Duration::from_millis(j.duration_ms.unwrap_or(0)),
            leaked_processes: j.leaked_processes,
            usage: match (j.max_rss_kib, j.user_ms, j.system_ms) {
                (Some(rss), Some(user), Some(system)) => Some(Usage {
                    max_rss_kib: rss,
                    user: Duration::from_millis(user),
                    system: Duration::from_millis(system),
                }),
                _ => None,
            },
        }),
    };
    Ok(JobResult {
        status,
        attempts: j.attempts,
        last,
        error: j.error.map(|t| t.0.into_owned()),
        stderr_tail: j.stderr_tail.map(|t| t.0.into_owned()),
    })
}

/// How many problems with the jobs of one report are listed; the rest are counted.
const JOB_PROBLEMS_SHOWN: usize = 10;

/// What the reports must agree on: taken from the first one.
struct Expected {
    file: PathBuf,
    sha256: String,
    count: u32,
    /// `balance_sha256`: the report the shards were balanced by.
    balance: Option<String>,
}

/// The shard a report is of; a report of a run without `--shard` is shard 1 of 1.
fn shard_of(r: &InReport<'_>) -> Shard {
    r.shard.map_or(Shard { index: 1, count: 1 }, |s| Shard {
        index: s.index,
        count: s.count,
    })
}

/// The merge in progress: one slot per job of the plan, filled report by report.
struct Merged<'p> {
    plan: &'p Plan,
    /// For each job, its shard.
    shards: Vec<u32>,
    /// Finds the reports' jobs: made at the first report, once `shards` is final.
    index: Option<JobIndex<'p>>,
    expected: Expected,
    results: Results,
    /// For each shard (index 0 unused), the file that gave it.
    given: Vec<Option<PathBuf>>,
    started_at: Option<SystemTime>,
    finished_at: Option<SystemTime>,
    longest: Duration,
    workers: usize,
    interrupted: bool,
    deadline: bool,
    internal_errors: Vec<String>,
    problems: Vec<String>,
}

impl<'p> Merged<'p> {
    fn new(plan: &'p Plan, expected: Expected) -> Merged<'p> {
        let count = expected.count;
        Merged {
            plan,
            shards: assign(plan, count),
            index: None,
            expected,
            results: Results::new(plan.jobs.len()),
            given: vec![None; count as usize + 1],
            started_at: None,
            finished_at: None,
            longest: Duration::ZERO,
            workers: 0,
            interrupted: false,
            deadline: false,
            internal_errors: Vec::new(),
            problems: Vec::new(),
        }
    }

    /// Checks a report's header against the others; returns its shard if it fits.
    fn check_header(&mut self, path: &Path, r: &InReport<'_>) -> Option<Shard> {
        let name = path.display();
        let first = self.expected.file.display();
        let sha = r.manifest_sha256.as_deref().unwrap_or_default();
        if sha != self.expected.sha256 {
            self.problems.push(format!(
                "{name}: manifest_sha256 {sha} differs from {} in {first} (expected reports of one manifest)",
                self.expected.sha256
            ));
            return None;
        }
        if r.balance_sha256 != self.expected.balance {
            self.problems.push(format!(
                "{name}: balance_sha256 {} differs from {} in {first} (expected shards balanced by one report)",
                r.balance_sha256.as_deref().unwrap_or("(none)"),
                self.expected.balance.as_deref().unwrap_or("(none)")
            ));
            return None;
        }
        let s = shard_of(r);
        if s.count != self.expected.count {
            self.problems.push(format!(
                "{name}: shard {s}, but {first} is of {} shards (expected one N for every report)",
                self.expected.count
            ));
            return None;
        }
        if let Some(other) = &self.given[s.index as usize] {
            self.problems.push(format!(
                "{name}: shard {s} is also in {} (expected each shard once)",
                other.display()
            ));
            return None;
        }
        Some(s)
    }

    /// Folds one report in, or records why it does not fit.
    fn add(&mut self, path: &Path, r: InReport<'_>) {
        let Some(s) = self.check_header(path, &r) else {
            return;
        };
        self.given[s.index as usize] = Some(path.to_path_buf());
        match r.outcome.as_str() {
            "interrupted" => self.interrupted = true,
            "deadline_exceeded" => self.deadline = true,
            "succeeded" | "failed" => {}
            other => self.problems.push(format!(
                "{}: outcome '{other}' (expected succeeded, failed, interrupted or deadline_exceeded)",
                path.display()
            )),
        }
        if r.exit_code == i32::from(Exit::Internal.code()) {
            self.internal_errors.push(format!(
                "shard {s} ({}) ended with exit code 3: batchrun failed there",
                path.display()
            ));
        }
        self.add_times(path, &r);
        // Saturating: reports of `-j 2^64-1` runs must not wrap to 0.
        self.workers = self.workers.saturating_add(r.workers);
        let (mut shown, mut more) = (0, 0);
        let (plan, shards, count) = (self.plan, &self.shards, self.expected.count);
        let index = self
            .index
            .get_or_insert_with(|| JobIndex::new(plan, shards, count));
        let mut walk = index.walk(s.index);
        for j in r.jobs {
            if let Err(e) = self.add_job(path, s, &mut walk, j) {
                // A report of another manifest would give one problem per job: list a few.
                if shown < JOB_PROBLEMS_SHOWN {
                    self.problems.push(e);
                    shown += 1;
                } else {
                    more += 1;
                }
            }
        }
        if more > 0 {
            self.problems.push(format!(
                "{}: {more} more problems with its jobs",
                path.display()
            ));
        }
    }

    fn add_times(&mut self, path: &Path, r: &InReport<'_>) {
        match (
            parse_time(path, "started_at", &r.started_at),
            parse_time(path, "finished_at", &r.finished_at),
        ) {
            (Ok(a), Ok(b)) => {
                self.started_at = Some(self.started_at.map_or(a, |t| t.min(a)));
                self.finished_at = Some(self.finished_at.map_or(b, |t| t.max(b)));
            }
            (a, b) => self.problems.extend(a.err().into_iter().chain(b.err())),
        }
        self.longest = self.longest.max(Duration::from_millis(r.duration_ms));
    }

    fn add_job(
        &mut self,
        path: &Path,
        s: Shard,
        walk: &mut Walk,
        j: InJob<'_>,
    ) -> Result<(), String> {
        let name = path.display();
        let index = self.index.as_mut().expect("made before the first job");
        let Some(i) = index.find(walk, &j.id) else {
            return Err(format!(
                "{name}: job '{}' is not in {} (expected the ids of the manifest)",
                j.id, self.plan.manifest
            ));
        };
        if self.shards[i] != s.index {
            return Err(format!(
                "{name}: job '{}' belongs to shard {}/{}, not to shard {s}",
                j.id, self.shards[i], s.count
            ));
        }
        if self.results.has(i) {
            return Err(format!("{name}: job '{}' appears twice", j.id));
        }
        self.results.set(i, to_result(path, j)?);
        Ok(())
    }

    /// Checks every given shard's report listed all of its jobs; returns the missing shards.
    fn check_complete(&mut self) -> Vec<u32> {
        let mut lacking: Vec<(usize, usize)> = vec![(0, 0); self.given.len()];
        for i in 0..self.results.len() {
            let s = self.shards[i] as usize;
            if !self.results.has(i) && self.given[s].is_some() {
                if lacking[s].0 == 0 {
                    lacking[s].1 = i;
                }
                lacking[s].0 += 1;
            }
        }
        for (s, &(n, first)) in lacking.iter().enumerate() {
            if let (Some(file), true) = (&self.given[s], n > 0) {
                self.problems.push(format!(
                    "{}: lacks {n} job(s) of shard {s}/{}, e.g. '{}' (expected every job of its shard)",
                    file.display(),
                    self.expected.count,
                    self.plan.jobs.id(first)
                ));
            }
        }
        (1..self.given.len() as u32)
            .filter(|&s| self.given[s as usize].is_none())
            .collect()
    }
}

/// Reads the manifest (the one report `r` names, unless `--manifest` is given), checking its
/// SHA-256 against the report's.
fn load(
    config: &Config,
    first: &Path,
    r: &InReport<'_>,
    signals: &SignalSource,
) -> Result<Plan, Error> {
    let from_report = config.manifest.is_empty();
    let manifest = if from_report {
        if r.manifest == "<stdin>" {
            return Err(Error::usage(format!(
                "{}: the shards read their manifest from standard input; give it with --manifest",
                first.display()
            )));
        }
        r.manifest.clone()
    } else {
        config.manifest.clone()
    };
    let full = Config {
        manifest,
        shard: None,
        ..config.clone()
    };
    let plan = crate::app::load::load_plan_or_stop(&full, signals).map_err(|e| match e {
        Error::ReadManifest { path, source } if from_report => Error::usage(format!(
            "cannot read manifest {path} (named in {}, relative to the directory the shard ran in): {source}; give its path with --manifest",
            first.display()
        )),
        e => e,
    })?;
    let want = r.manifest_sha256.as_deref().unwrap_or_default();
    if plan.manifest_sha256 != want {
        return Err(Error::usage(format!(
            "{}: SHA-256 {} differs from the manifest_sha256 {want} in {} (the manifest changed \
             since the shards ran, or is another file)",
            plan.manifest,
            plan.manifest_sha256,
            first.display()
        )));
    }
    Ok(plan)
}

/// What merge's reports need besides the summary: the failures listed, the metrics.
fn report_context(mc: &MergeConfig, plan: &Plan) -> report::Context {
    report::Context {
        max_listed: mc.max_listed,
        see: report::Context::see_also(&mc.reports, None),
        metrics: mc
            .metrics
            .as_ref()
            .map(|m| crate::output::metrics::Metrics::new(m, &plan.manifest)),
    }
}

/// `batchrun merge`: checks and folds the shard reports, writes the merged reports, prints the
/// summary as `run` does, and returns the exit code by `run`'s precedence. A stop signal
/// before the reports are written ends it with [`Error::Stopped`]: nothing is written.
pub fn merge(
    config: &Config,
    mc: &MergeConfig,
    signals: &SignalSource,
) -> Result<(Exit, RunSummary), Error> {
    let stopped = || {
        signals.pending_stop().map(|s| Error::Stopped {
            signal: s.name(),
            during: "merging reports",
        })
    };
    // The first readable report names the manifest and is the one the others must match.
    let mut problems = Vec::new();
    let paths = crate::app::merge_inputs::report_paths(mc)?;
    let mut inputs = paths.iter();
    let mut first_bytes = Vec::new();
    let first = loop {
        let Some((path, in_dir)) = inputs.next() else {
            problems.push("no readable shard report; nothing was written".into());
            return Err(Error::Usage(problems));
        };
        match read_input(path, *in_dir, &mut first_bytes) {
            Ok(Some(_)) => break path,
            Ok(None) => {}
            Err(e) => problems.push(e),
        }
        stopped().map_or(Ok(()), Err)?;
    };
    // Parsed again, borrowing the bytes kept (the loop cannot hand its borrow out).
    let r = parse_report(first, &first_bytes).map_err(|e| Error::Usage(vec![e]))?;
    let plan = load(config, first, &r, signals)?;
    crate::app::merge_inputs::refuse_overwriting_inputs(mc, &plan)?;
    let expected = Expected {
        file: first.clone(),
        sha256: plan.manifest_sha256.clone(),
        count: shard_of(&r).count,
        balance: r.balance_sha256.clone(),
    };
    let balanced = crate::app::merge_inputs::balanced_partition(
        &plan,
        expected.count,
        expected.balance.as_deref(),
        first,
        config.balance_from.as_deref(),
    )?;
    let mut m = Merged::new(&plan, expected);
    if let Some(shards) = balanced {
        m.shards = shards;
    }
    m.problems = problems;
    m.add(first, r);
    drop(first_bytes);
    read_all(inputs.as_slice(), stopped, |path, read| match read {
        Ok(Some(r)) => m.add(path, r),
        Ok(None) => {}
        Err(e) => m.problems.push(e),
    })?;
    let missing = m.check_complete();
    let (missing, recovered) = recover_from_joblogs(&mut m, missing, &mc.joblogs);
    if !m.problems.is_empty() {
        let mut problems = m.problems;
        problems.push("inconsistent reports; nothing was written".into());
        return Err(Error::Usage(problems));
    }
    stopped().map_or(Ok(()), Err)?;
    let count = m.expected.count;
    let (mut summary, stop, any_failure) = finish(m, &missing);
    crate::app::merge_inputs::tell(&recovered, count);
    summary.merged = Some(MergeInfo {
        shards: count,
        recovered_from_joblogs: recovered.iter().map(|r| r.shard).collect(),
    });
    // A shard recovered from its joblog died: the merge is not a success.
    let any_failure = any_failure || !recovered.is_empty();
    let ctx = report_context(mc, &plan);
    Ok(write_and_print(
        summary,
        &mc.reports,
        &ctx,
        stop,
        any_failure,
    ))
}

/// Folds reports already read into one summary for `plan`, as `merge` does once the manifest
/// is loaded (the first report sets what the others must match), or returns every problem.
/// For the fuzz target: any bytes, never a panic.
pub fn fold_reports(plan: &Plan, reports: &[(&Path, &[u8])]) -> Result<RunSummary, Vec<String>> {
    let mut problems = Vec::new();
    let mut merged: Option<Merged<'_>> = None;
    for &(path, bytes) in reports {
        let r = match parse_report(path, bytes) {
            Ok(r) => r,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        let m = merged.get_or_insert_with(|| {
            Merged::new(
                plan,
                Expected {
                    file: path.to_path_buf(),
                    sha256: r.manifest_sha256.clone().unwrap_or_default(),
                    count: shard_of(&r).count,
                    balance: r.balance_sha256.clone(),
                },
            )
        });
        m.add(path, r);
    }
    let Some(mut m) = merged else {
        return Err(problems);
    };
    let missing = m.check_complete();
    problems.append(&mut m.problems);
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(finish(m, &missing).0)
}

/// `--joblog`: fills the shards whose report is missing or older than their joblog; returns the
/// shards still missing and those recovered.
fn recover_from_joblogs(
    m: &mut Merged<'_>,
    missing: Vec<u32>,
    joblogs: &[PathBuf],
) -> (Vec<u32>, Vec<Recovery>) {
    let shards = Shards {
        plan: m.plan,
        of_job: &m.shards,
        given: &m.given,
    };
    let recovered = recover(&shards, &mut m.results, joblogs, &mut m.problems);
    let missing = missing
        .into_iter()
        .filter(|s| !recovered.iter().any(|r| r.shard == *s))
        .collect();
    (missing, recovered)
}

/// The merged summary: missing shards' jobs `not_started`, the exit code by `run`'s rules.
/// Returns the summary with the decision's inputs (why the shards stopped, whether any job
/// failed).
fn finish(m: Merged<'_>, missing: &[u32]) -> (RunSummary, Option<StopReason>, bool) {
    let count = m.expected.count;
    // Not needed any more: gone before the summary takes its own memory.
    drop(m.index);
    let mut missing_jobs = 0;
    let mut results = m.results;
    for (i, &s) in m.shards.iter().enumerate() {
        if !results.has(i) {
            missing_jobs += 1;
            let why = format!("shard {s}/{count} has no report");
            results.set(i, JobResult::without_attempt(Status::NotStarted, why));
        }
    }
    if !missing.is_empty() {
        console::eprint_line(&format!(
            "no report for shard {} of {count}: its {} are not_started",
            shard::ranges(missing),
            if missing_jobs == 1 {
                "1 job".to_string()
            } else {
                format!("{missing_jobs} jobs")
            }
        ));
    }
    let any_failure = results.statuses().any(Status::is_failure) || !missing.is_empty();
    let stop = stop_reason(!m.internal_errors.is_empty(), m.interrupted, m.deadline);
    let decision = crate::model::exit::decide(stop, any_failure);
    let now = SystemTime::now();
    let started_at = m.started_at.unwrap_or(now);
    let finished_at = m.finished_at.unwrap_or(now);
    let span = finished_at.duration_since(started_at).unwrap_or_default();
    let span = Span {
        started_at,
        finished_at,
        duration: span.max(m.longest),
    };
    let summary = RunSummary::new(
        m.plan,
        results,
        decision,
        span,
        m.workers,
        m.internal_errors,
    );
    (summary, stop, any_failure)
}

/// What stopped or broke a shard, over all shards, as `run`'s [`StopReason`]: batchrun's own
/// failure in a shard, then an interrupted shard, then one past its deadline.
fn stop_reason(internal: bool, interrupted: bool, deadline: bool) -> Option<StopReason> {
    let mut stop = None;
    for (happened, reason) in [
        (deadline, StopReason::Deadline),
        (interrupted, StopReason::Interrupted),
        (internal, StopReason::Internal),
    ] {
        if happened {
            StopReason::escalate(&mut stop, reason);
        }
    }
    stop
}

/// Writes the `--report` files and prints the summary on stderr, as `run` does, from the
/// same decision.
fn write_and_print(
    mut summary: RunSummary,
    reports: &[(PathBuf, crate::model::config::ReportFormat)],
    ctx: &report::Context,
    stop: Option<StopReason>,
    any_failure: bool,
) -> (Exit, RunSummary) {
    let (exit, _) = report::write_all(&mut summary, reports, ctx, stop, any_failure);
    console::print_summary(&summary, &ctx.listing());
    (exit, summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::merge_read::read_report;

    #[test]
    fn folding_saturates_and_garbage_is_refused() {
        let m = crate::manifest::parse(
            "m.csv",
            b"id,command\na,true\nb,false\n",
            false,
            &Default::default(),
        )
        .unwrap();
        let plan = Plan::new(m, &[]).unwrap();
        // One report per shard, each of 2^63 workers.
        let shards = assign(&plan, 2);
        let texts: Vec<String> = (1..=2u32)
            .map(|k| {
                let jobs: Vec<String> = plan
                    .jobs
                    .ids()
                    .zip(&shards)
                    .filter(|&(_, &s)| s == k)
                    .map(|(id, _)| format!(
                        r#"{{"id":"{id}","status":"succeeded","attempts":1,"exit_code":0,"signal":null,"started_at":"2026-11-23T02:00:01Z","duration_ms":5,"error":null,"stderr_tail":null}}"#
                    ))
                    .collect();
                format!(
                    r#"{{"schema":1,"batchrun_version":"0.1.0","manifest":"m.csv","manifest_sha256":"","shard":{{"index":{k},"count":2}},"started_at":"2026-11-23T02:00:00Z","finished_at":"2026-11-23T02:04:12Z","duration_ms":9,"workers":9223372036854775808,"outcome":"succeeded","exit_code":0,"jobs":[{}]}}"#,
                    jobs.join(",")
                )
            })
            .collect();
        let reports: Vec<(&Path, &[u8])> = texts
            .iter()
            .map(|r| (Path::new("s.json"), r.as_bytes()))
            .collect();
        let summary = fold_reports(&plan, &reports).unwrap();
        assert_eq!(summary.workers, usize::MAX);
        assert_eq!(summary.results.len(), 2);
        for bad in [&b""[..], b"[]", b"{\"schema\": 1}", b"\xff"] {
            assert!(fold_reports(&plan, &[(Path::new("x"), bad)]).is_err());
        }
    }

    #[test]
    fn attempts_round_trip_their_status() {
        for status in Status::ALL {
            let end = attempt_end(status, None, None, "why");
            let a = Attempt {
                end,
                started_at: SystemTime::UNIX_EPOCH,
                duration: Duration::ZERO,
                leaked_processes: 0,
                usage: None,
            };
            match status {
                // Statuses no attempt of its own gives.
                Status::Skipped | Status::NotStarted | Status::Resumed | Status::Succeeded => {}
                s => assert_eq!(a.status(), s),
            }
        }
        let end = attempt_end(Status::Failed, Some(2), None, "exit status 2");
        assert_eq!(
            end,
            AttemptEnd::Ended {
                exit_code: Some(2),
                signal: None,
                killed: None
            }
        );
    }

    #[test]
    fn stop_reason_precedence() {
        use crate::model::exit::decide;
        let d = |i, n, dl, f| decide(stop_reason(i, n, dl), f).exit;
        assert_eq!(d(true, true, true, true), Exit::Internal);
        assert_eq!(d(false, true, true, true), Exit::Interrupted);
        assert_eq!(d(false, false, true, true), Exit::Deadline);
        assert_eq!(d(false, false, false, true), Exit::Failure);
        assert_eq!(d(false, false, false, false), Exit::Success);
    }

    #[test]
    fn a_report_without_a_hash_or_of_another_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.json");
        let read = |p: &Path| {
            let mut bytes = Vec::new();
            read_report(p, &mut bytes)?;
            parse_report(p, &bytes).map(|_| ())
        };
        std::fs::write(&p, "{\"schema\": 1}").unwrap();
        assert!(read(&p).unwrap_err().contains("not a batchrun JSON report"));
        std::fs::write(&p, "[1, 2]").unwrap();
        assert!(read(&p).unwrap_err().contains("not a batchrun JSON report"));
        std::fs::write(&p, "not json").unwrap();
        assert!(read(&p).unwrap_err().contains("not a batchrun JSON report"));
        let huge = r#"{"schema": 1, "batchrun_version": "0.1.0", "manifest": "m.csv",
            "manifest_sha256": "00", "shard": {"index": 1, "count": 4000000000},
            "started_at": "2026-11-23T02:00:00Z", "finished_at": "2026-11-23T02:00:00Z",
            "duration_ms": 0, "workers": 1, "outcome": "succeeded", "exit_code": 0, "jobs": []}"#;
        std::fs::write(&p, huge).unwrap();
        assert!(read(&p).unwrap_err().contains("out of range"));
        std::fs::write(&p, huge.replace("4000000000", "2")).unwrap();
        assert!(read(&p).is_ok());
    }
}
