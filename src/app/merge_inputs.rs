/*!
What `batchrun merge` reads besides the reports it is given one by one: the reports in a
directory (`merge DIR`) or listed in a file (`--reports-from FILE|-`), and the joblogs of shards
that left no report (`--joblog FILE`).

A merged report carries a `merged` field; `merge DIR` skips such reports, so a merge may write
its report into the directory of the shard reports and be run again. Given by name, a merged
report is refused.

A shard killed with `kill -9`, or whose node died, leaves no report, but every job it finished
is a line of its joblog (written the moment the job ends). A joblog is used for its shard when
that shard has no report, or when the report is older than the joblog (the shard was resumed
and killed again): the jobs with a line there (the last line of each id, when its command hash
is the job's) get their status from it, the shard's other jobs are `not_started`.
*/

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::model::config::MergeConfig;
use crate::model::error::Error;
use crate::model::outcome::{Attempt, AttemptEnd, JobResult, KillReason, Status};
use crate::model::results::Results;
use crate::output::joblog::{self, LogLine};
use crate::plan::Plan;

/// Every `*.json` regular file of `dir`, in name order (merged reports among them are
/// skipped when read).
fn reports_in(dir: &Path, problems: &mut Vec<String>) -> Vec<PathBuf> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            problems.push(format!("{}: cannot read the directory: {e}", dir.display()));
            return Vec::new();
        }
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json") && p.is_file())
        .collect();
    found.sort();
    if found.is_empty() {
        problems.push(format!(
            "{}: no shard report (*.json) in the directory",
            dir.display()
        ));
    }
    found
}

/// The paths listed in `list` (`-`: standard input), one per line; blank lines are skipped.
fn listed(list: &Path, problems: &mut Vec<String>) -> Vec<PathBuf> {
    let mut text = String::new();
    let read = if list == Path::new("-") {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::File::open(list).and_then(|mut f| f.read_to_string(&mut text).map(|_| ()))
    };
    if let Err(e) = read {
        problems.push(format!(
            "--reports-from {}: cannot read: {e}",
            list.display()
        ));
    }
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(PathBuf::from)
        .collect()
}

/// The shard reports to merge, in order: each input (a directory gives its reports), then the
/// reports `--reports-from` lists; each with whether it came from a directory (a merged report
/// found there is skipped, one given by name refused, when read).
pub fn report_paths(mc: &MergeConfig) -> Result<Vec<(PathBuf, bool)>, Error> {
    let mut problems = Vec::new();
    let mut paths = Vec::new();
    for input in &mc.inputs {
        if input.is_dir() {
            paths.extend(
                reports_in(input, &mut problems)
                    .into_iter()
                    .map(|p| (p, true)),
            );
        } else {
            paths.push((input.clone(), false));
        }
    }
    if let Some(list) = &mc.reports_from {
        paths.extend(listed(list, &mut problems).into_iter().map(|p| (p, false)));
    }
    if problems.is_empty() {
        Ok(paths)
    } else {
        problems.push("nothing was written".into());
        Err(Error::Usage(problems))
    }
}

/// A shard whose results came from its joblog.
#[derive(Debug)]
pub struct Recovery {
    /// The shard.
    pub shard: u32,
    /// The joblog.
    pub joblog: PathBuf,
    /// Its jobs with a line in the joblog.
    pub found: usize,
    /// Its jobs.
    pub total: usize,
    /// The shard's report, older than the joblog, that was set aside.
    pub stale_report: Option<PathBuf>,
}

/// The jobs and shards merge recovers results for.
pub struct Shards<'a> {
    /// The whole manifest's plan.
    pub plan: &'a Plan,
    /// For each job, its shard.
    pub of_job: &'a [u32],
    /// For each shard (index 0 unused), the report that gave it.
    pub given: &'a [Option<PathBuf>],
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// A joblog line as the job's result (`None`: a status no joblog line has).
fn to_result(line: &LogLine) -> Option<JobResult> {
    let status = Status::ALL
        .into_iter()
        .find(|s| s.as_str() == line.status)?;
    let started_at = humantime::parse_rfc3339_weak(&line.started_at).ok();
    let end = match status {
        Status::StartFailed if line.exit_code.is_none() && line.signal.is_none() => {
            AttemptEnd::StartFailed {
                message: "could not be started (per its joblog line)".into(),
                transient: false,
            }
        }
        s => AttemptEnd::Ended {
            exit_code: line.exit_code,
            signal: line.signal,
            killed: match s {
                Status::TimedOut => Some(KillReason::Timeout(Duration::ZERO)),
                Status::Cancelled => Some(KillReason::Cancel),
                _ => None,
            },
        },
    };
    let last = started_at.map(|t| Attempt {
        end,
        started_at: t,
        duration: Duration::from_millis(line.duration_ms.unwrap_or(0)),
        leaked_processes: 0,
        usage: None,
    });
    let error = match status {
        s if s.is_success() => None,
        Status::TimedOut => Some("timed out (from the joblog)".to_string()),
        _ => Some(format!(
            "{} (from the joblog)",
            last.as_ref()
                .and_then(Attempt::error)
                .unwrap_or_else(|| status.as_str().to_string())
        )),
    };
    Some(JobResult {
        status,
        attempts: line.attempts,
        last,
        error,
        stderr_tail: None,
    })
}

/// For each job of the plan with a usable line in `lines`, the result of its last line.
fn last_results(s: &Shards<'_>, lines: &[LogLine]) -> HashMap<usize, JobResult> {
    let index: HashMap<&str, usize> = s
        .plan
        .jobs
        .ids()
        .enumerate()
        .map(|(i, id)| (id, i))
        .collect();
    let mut out = HashMap::new();
    let mut hashes: HashMap<usize, String> = HashMap::new();
    for line in lines {
        let Some(&i) = index.get(line.id.as_str()) else {
            continue;
        };
        let hash = hashes
            .entry(i)
            .or_insert_with(|| joblog::command_hash(&s.plan.jobs.get(i)));
        if *hash != line.command_hash {
            continue;
        }
        if let Some(r) = to_result(line) {
            out.insert(i, r);
        }
    }
    out
}

/// Fills the results of the shards whose joblogs are given and whose report is missing or older
/// than the joblog. Problems (an unreadable joblog, one holding jobs of two shards, two joblogs
/// for one shard) go to `problems`.
pub fn recover(
    s: &Shards<'_>,
    results: &mut Results,
    joblogs: &[PathBuf],
    problems: &mut Vec<String>,
) -> Vec<Recovery> {
    let mut done: Vec<Recovery> = Vec::new();
    for path in joblogs {
        let name = path.display();
        let (lines, skipped) = match joblog::read_lines(path) {
            Ok(l) => l,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        if skipped > 0 {
            log::warn!("{name}: {skipped} torn or malformed joblog line(s) skipped");
        }
        let found = last_results(s, &lines);
        let mut shards: Vec<u32> = found.keys().map(|&i| s.of_job[i]).collect();
        shards.sort_unstable();
        shards.dedup();
        let shard = match shards.as_slice() {
            [] => {
                log::info!("{name}: no line for a job of this manifest; nothing recovered");
                continue;
            }
            [one] => *one,
            many => {
                problems.push(format!(
                    "{name}: holds jobs of shards {} (expected the joblog of one shard, of the same N)",
                    crate::model::shard::ranges(many)
                ));
                continue;
            }
        };
        let report = s.given[shard as usize].clone();
        if let (Some(r), Some(log_time)) = (&report, modified(path)) {
            if modified(r).is_some_and(|t| t >= log_time) {
                log::info!(
                    "{name}: shard {shard} has a report as new ({}); joblog not used",
                    r.display()
                );
                continue;
            }
        }
        if let Some(other) = done.iter().find(|d| d.shard == shard) {
            problems.push(format!(
                "{name}: shard {shard} is also in {} (expected one joblog per shard)",
                other.joblog.display()
            ));
            continue;
        }
        let count = s.given.len() - 1;
        let mut rec = Recovery {
            shard,
            joblog: path.clone(),
            found: found.len(),
            total: 0,
            stale_report: report,
        };
        let mut found = found;
        for i in 0..results.len() {
            if s.of_job[i] != shard {
                continue;
            }
            rec.total += 1;
            let r = found.remove(&i).unwrap_or_else(|| {
                JobResult::without_attempt(
                    Status::NotStarted,
                    format!("shard {shard}/{count} left no report and no joblog line for it"),
                )
            });
            results.set(i, r);
        }
        done.push(rec);
    }
    done.sort_by_key(|r| r.shard);
    done
}

/// The stderr line for each recovered shard.
pub fn tell(recovered: &[Recovery], count: u32) {
    for r in recovered {
        let why = match &r.stale_report {
            Some(p) => format!("its report {} is older than the joblog", p.display()),
            None => "it left no report".to_string(),
        };
        crate::output::console::eprint_line(&format!(
            "shard {} of {count} recovered from its joblog {} ({why}): {} of its {} jobs have a result there, {} not_started",
            r.shard,
            r.joblog.display(),
            r.found,
            r.total,
            r.total - r.found
        ));
    }
}

/// The partition of shards balanced by `--balance-from`: `None` when the shards were not
/// balanced (`recorded`, the first report's `balance_sha256`, is empty). The report the shards
/// were balanced by must be given, and only then (exit 2 otherwise).
pub fn balanced_partition(
    plan: &Plan,
    count: u32,
    recorded: Option<&str>,
    first: &Path,
    given: Option<&Path>,
) -> Result<Option<Vec<u32>>, Error> {
    match (recorded, given) {
        (None, None) => Ok(None),
        (None, Some(g)) => Err(Error::usage(format!(
            "--balance-from {}: the shards were not balanced ({} has no balance_sha256); merge without it",
            g.display(),
            first.display()
        ))),
        (Some(sha), None) => Err(Error::usage(format!(
            "{}: the shards were balanced by a report with SHA-256 {sha}; give that report with --balance-from so merge can recompute the partition",
            first.display()
        ))),
        (Some(sha), Some(g)) => {
            let (got, durations) = crate::app::balance::read(g)?;
            if got != sha {
                return Err(Error::usage(format!(
                    "--balance-from {}: SHA-256 {got} differs from the balance_sha256 {sha} in {} (expected the report the shards were balanced by)",
                    g.display(),
                    first.display()
                )));
            }
            Ok(Some(crate::plan::shard::assign_balanced(
                plan, count, &durations,
            )))
        }
    }
}

/// Refuses (exit 2, before anything is written) a `--report` that is one of the shard reports
/// or the manifest (the same file, by device and inode, or the same path).
pub(crate) fn refuse_overwriting_inputs(mc: &MergeConfig, plan: &Plan) -> Result<(), Error> {
    use std::os::unix::fs::MetadataExt;
    let id = |p: &Path| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    let manifest = (plan.manifest != "<stdin>").then(|| Path::new(&plan.manifest));
    let inputs: Vec<(&Path, Option<(u64, u64)>)> = mc
        .inputs
        .iter()
        .map(PathBuf::as_path)
        .chain(manifest)
        .map(|p| (p, id(p)))
        .collect();
    let problems: Vec<String> = mc
        .reports
        .iter()
        .filter_map(|(out, _)| {
            let out_id = id(out);
            let (input, _) = inputs
                .iter()
                .find(|(p, i)| *p == out.as_path() || (i.is_some() && *i == out_id))?;
            Some(format!(
                "--report {} is {} given to merge (refusing to overwrite an input); nothing was written",
                out.display(),
                if Some(*input) == manifest { "the manifest".to_string() } else { format!("the report {}", input.display()) }
            ))
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Usage(problems))
    }
}
