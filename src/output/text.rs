//! Every line people read about a run: the summary, the status lines and the warnings.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::event::summary::RunSummary;
use crate::event::Event;
use crate::model::outcome::{JobResult, Status};
use crate::process::board::{Running, Snapshot};
use crate::store::jobs::Jobs;
use crate::util::text::human;
use crate::util::text::plural;

/// At most this many running jobs are named in a one-line status (a heartbeat).
const LINE_JOBS: usize = 10;

/// `12/40 done (10 succeeded, 2 failed), 3 running, 1m 4s elapsed`.
fn counts_text(s: &Snapshot) -> String {
    let done: usize = s.counts.iter().sum();
    let parts: Vec<String> = Status::ALL
        .iter()
        .zip(s.counts)
        .filter(|&(_, n)| n > 0)
        .map(|(st, n)| format!("{n} {}", st.as_str().replace('_', " ")))
        .collect();
    let detail = if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    };
    format!(
        "{done}/{} done{detail}, {} running, {} elapsed",
        s.total,
        s.running.len(),
        human(s.elapsed)
    )
}

/// One running attempt: `report-eu (pid 4242, attempt 2, 31.0s)`.
fn running_text(r: &Running, now: Instant) -> String {
    format!(
        "{} (pid {}, attempt {}, {})",
        r.id,
        r.pid,
        r.attempt,
        human(now.saturating_duration_since(r.started))
    )
}

/// The one-line status (heartbeats): the counts, then the running jobs, at most
/// ten of them by name.
pub fn status_line(s: &Snapshot, now: Instant) -> String {
    let mut line = format!("status: {}", counts_text(s));
    if !s.running.is_empty() {
        let named: Vec<String> = s
            .running
            .iter()
            .take(LINE_JOBS)
            .map(|r| running_text(r, now))
            .collect();
        let _ = write!(line, "; running: {}", named.join(", "));
        if s.running.len() > LINE_JOBS {
            let _ = write!(line, " and {} more", s.running.len() - LINE_JOBS);
        }
    }
    line
}

/// The full status (`SIGUSR1`): the counts line, then one line per running job.
pub fn status_report(s: &Snapshot, now: Instant) -> Vec<String> {
    let mut lines = vec![format!("status: {}", counts_text(s))];
    lines.extend(
        s.running
            .iter()
            .map(|r| format!("  running: {}", running_text(r, now))),
    );
    lines
}

/// The `--slow` warning for one attempt.
pub fn slow_line(r: &Running, now: Instant, limit: Duration) -> String {
    format!(
        "slow: job {} has been running for {} (attempt {}, pid {}; --slow {})",
        r.id,
        human(now.saturating_duration_since(r.started)),
        r.attempt,
        r.pid,
        humantime::format_duration(limit)
    )
}

/// The counts line: `12 jobs in 3.2s: 9 succeeded, 1 failed, …` (zero counts left out).
pub(crate) fn counts_line(s: &RunSummary) -> String {
    counts_line_of(s, &s.counts())
}

/// [`counts_line`] with the run's counts already made (a pass over every job's result).
fn counts_line_of(s: &RunSummary, counts: &std::collections::BTreeMap<Status, usize>) -> String {
    let parts: Vec<String> = counts
        .iter()
        .map(|(&st, &n)| (st, n))
        .filter(|&(_, n)| n > 0)
        .map(|(st, n)| format!("{n} {}", st.as_str().replace('_', " ")))
        .collect();
    let outcome = if s.exit_code == i32::from(crate::model::exit::Exit::Internal.code()) {
        format!(
            "{} (exit {}: batchrun itself failed)",
            s.outcome.as_str(),
            s.exit_code
        )
    } else {
        s.outcome.as_str().replace('_', " ")
    };
    format!(
        "{} in {:.1}s: {}; {outcome}",
        plural(s.results.len(), "job"),
        s.duration.as_secs_f64(),
        if parts.is_empty() {
            "nothing to do".to_string()
        } else {
            parts.join(", ")
        },
    )
}

/// A short label for a result that is not a success, e.g. `failed (attempt 3/3)`.
pub(crate) fn label(s: &RunSummary, i: usize, r: &JobResult) -> String {
    let max = s.max_attempts[i];
    if r.attempts > 0 && max > 1 {
        format!("{} (attempt {}/{max})", r.status.as_str(), r.attempts)
    } else {
        r.status.as_str().to_string()
    }
}

/// How long an item may be in a job's name before it is shortened in the middle.
const ITEM_SHOWN: usize = 60;

/// A job as people read its name: its id, and for a job of a plain list its item, shortened
/// in the middle when long (`11 (in/a b.txt)`; with `-n`, `3 (a … z, 100 items)`).
pub fn job_name(jobs: &Jobs, i: usize) -> Cow<'_, str> {
    let id = jobs.id(i);
    let items = match jobs.items(i) {
        Some(items) if !items.is_empty() => items,
        _ => return Cow::Borrowed(id),
    };
    let shown = |s: &str| crate::util::text::shorten_middle(s, ITEM_SHOWN);
    Cow::Owned(match items.as_slice() {
        [one] => format!("{id} ({})", shown(one)),
        [first, .., last] => format!(
            "{id} ({} … {}, {} items)",
            shown(first),
            shown(last),
            items.len()
        ),
        [] => id.to_string(),
    })
}

/// How the summary (and the Markdown report) list the jobs that went wrong.
pub struct Listing<'a> {
    /// At most this many (`--max-listed`); the rest are counted.
    pub max: usize,
    /// Where all of them are: the JSON report, else the joblog.
    pub see: Option<&'a Path>,
    /// Whether job `i`'s stderr was printed already (`-q` prints a failing job's output), so
    /// its tail is not repeated.
    pub tail_shown: &'a dyn Fn(usize) -> bool,
}

impl Listing<'_> {
    /// Every job listed, with its tail.
    #[cfg(test)]
    pub fn all() -> Listing<'static> {
        Listing {
            max: usize::MAX,
            see: None,
            tail_shown: &|_| false,
        }
    }

    /// `and 308 more: see out/nightly.json` for `more` jobs not listed.
    pub fn more_text(&self, more: usize) -> String {
        match self.see {
            Some(p) => format!("and {more} more: see {}", p.display()),
            None => format!("and {more} more (not listed: --max-listed {})", self.max),
        }
    }
}

/// The human summary for stderr: counts, wall time, and the failures (at most
/// `listing.max`) with their reason and the last lines of their stderr. Each line starts
/// `batchrun: ` or is indented under one.
pub fn summary_text(s: &RunSummary, listing: &Listing<'_>) -> String {
    let mut out = String::new();
    // The counts tell how many went wrong, so the jobs are looked at only up to the last one
    // listed: one pass over a million results less at the end of a big run or merge.
    let counts = s.counts();
    let wrong_total: usize = counts
        .iter()
        .filter(|(st, _)| st.went_wrong())
        .map(|(_, n)| n)
        .sum();
    let mut wrong = (0..s.results.len()).filter(|&i| s.results.went_wrong(i));
    for i in wrong.by_ref().take(listing.max.min(wrong_total)) {
        let r = s.results.job(i);
        let _ = writeln!(
            out,
            "batchrun: {} {}: {}",
            label(s, i, &r),
            job_name(&s.jobs, i),
            r.error.as_deref().unwrap_or("")
        );
        if let Some(tail) = r.stderr_tail.as_ref().filter(|_| !(listing.tail_shown)(i)) {
            for line in tail.lines() {
                let _ = writeln!(out, "    | {line}");
            }
        }
    }
    let more = wrong_total.saturating_sub(listing.max);
    if more > 0 {
        let _ = writeln!(out, "batchrun: {}", listing.more_text(more));
    }
    let not_started = counts[&Status::NotStarted];
    if not_started > 0 {
        let _ = writeln!(out, "batchrun: {} not started", plural(not_started, "job"));
    }
    for e in &s.internal_errors {
        let _ = writeln!(out, "batchrun: error: {e}");
    }
    if let Some(line) = slowest_line(s) {
        let _ = writeln!(out, "batchrun: {line}");
    }
    let _ = writeln!(out, "batchrun: {}", counts_line_of(s, &counts));
    out
}

/// The warning when a list read from standard input, because no file was given, had no item.
pub const NO_ITEMS: &str =
    "warning: standard input gave no item; nothing to run (give a list file, or pipe items in)";

/// The human summary names the slowest jobs only when the run took longer than this ...
pub const SLOWEST_AFTER: Duration = Duration::from_secs(10);

/// ... and more than this many jobs ran (with a handful, the user knows them all).
pub const SLOWEST_MIN_JOBS: usize = 5;

/// How many slowest jobs the human summary names.
pub const SLOWEST_SHOWN: usize = 3;

/// `slowest: report-eu 4m 2s, forecast 3m 1s, report-us 59.0s`, when the run was long
/// enough and had enough jobs for it to matter ([`SLOWEST_AFTER`], [`SLOWEST_MIN_JOBS`]).
fn slowest_line(s: &RunSummary) -> Option<String> {
    if s.duration <= SLOWEST_AFTER {
        return None;
    }
    let (top, ran) = slowest_of_ran(s, SLOWEST_SHOWN);
    if ran <= SLOWEST_MIN_JOBS {
        return None;
    }
    let named: Vec<String> = top
        .into_iter()
        .map(|i| {
            let d = s.results.duration(i).unwrap_or_default();
            format!("{} {}", s.jobs.id(i), crate::util::text::human(d))
        })
        .collect();
    Some(format!("slowest: {}", named.join(", ")))
}

/// The `n` jobs that ran longest (their last attempt), longest first; equal durations in
/// manifest order. Holds `n` entries, not one per job.
pub(crate) fn slowest(s: &RunSummary, n: usize) -> Vec<usize> {
    slowest_of_ran(s, n).0
}

/// [`slowest`], and how many jobs ran (have a duration), in one pass.
fn slowest_of_ran(s: &RunSummary, n: usize) -> (Vec<usize>, usize) {
    use std::cmp::Reverse;
    let mut top: std::collections::BinaryHeap<(Reverse<Duration>, usize)> =
        std::collections::BinaryHeap::with_capacity(n + 1);
    let mut ran = 0;
    for i in 0..s.results.len() {
        if let Some(d) = s.results.duration(i) {
            ran += 1;
            // Only a job longer than the shortest held enters: most jobs are looked at once.
            if top.len() == n && top.peek().is_none_or(|&(Reverse(least), _)| d <= least) {
                continue;
            }
            top.push((Reverse(d), i));
            if top.len() > n {
                top.pop();
            }
        }
    }
    (
        top.into_sorted_vec().into_iter().map(|(_, i)| i).collect(),
        ran,
    )
}

/// The one-line notice an event makes on stderr (after `batchrun: `), for the events that
/// are told in one line; `None` for the others.
pub fn notice(event: &Event<'_>) -> Option<String> {
    Some(match event {
        Event::WorkersShort {
            started,
            wanted,
            error,
        } => format!(
            "could start only {started} of {wanted} worker threads ({error}); running with {started}"
        ),
        Event::Draining { running, .. } if *running > 0 => format!(
            "interrupted: starting no new jobs; waiting for {} to finish (send the signal again to terminate them)",
            plural(*running, "running job")
        ),
        Event::Terminating { running, grace, .. } => format!(
            "second signal: terminating {} (SIGTERM, then SIGKILL after {})",
            plural(*running, "running job"),
            humantime::format_duration(*grace)
        ),
        Event::Halted {
            failures,
            limit,
            running,
        } => format!(
            "{} reached the limit of {limit}: stopping the run, terminating {}",
            plural(*failures, "failure"),
            plural(*running, "running job")
        ),
        Event::DeadlineReached { running } => format!(
            "deadline reached: starting no new jobs, terminating {}",
            plural(*running, "running job")
        ),
        Event::OutputDropped { jobs } => format!(
            "the output of {} was not written: stdout is not being read",
            plural(*jobs, "job")
        ),
        Event::Status {
            snapshot,
            full: false,
            now,
        } => status_line(snapshot, *now),
        Event::Slow {
            running,
            limit,
            now,
        } => slow_line(running, *now, *limit),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(running: usize) -> (Snapshot, Instant) {
        let now = Instant::now();
        let mut counts = [0; Status::ALL.len()];
        counts[0] = 3;
        counts[1] = 1;
        let running = (0..running)
            .map(|i| Running {
                id: format!("job{i}"),
                pid: 100 + i as u32,
                attempt: 1,
                started: now - Duration::from_secs(2),
                slow_warned: false,
            })
            .collect();
        let s = Snapshot {
            elapsed: Duration::from_secs(75),
            total: 10,
            running,
            counts,
        };
        (s, now)
    }

    #[test]
    fn status_texts() {
        let (s, now) = snapshot(2);
        assert_eq!(
            status_line(&s, now),
            "status: 4/10 done (3 succeeded, 1 failed), 2 running, 1m 15s elapsed; \
running: job0 (pid 100, attempt 1, 2.0s), job1 (pid 101, attempt 1, 2.0s)"
        );
        let report = status_report(&s, now);
        assert_eq!(report.len(), 3);
        assert_eq!(report[1], "  running: job0 (pid 100, attempt 1, 2.0s)");
        let (many, now) = snapshot(12);
        assert!(status_line(&many, now).ends_with("job9 (pid 109, attempt 1, 2.0s) and 2 more"));
        assert_eq!(
            slow_line(&s.running[0], now, Duration::from_secs(1)),
            "slow: job job0 has been running for 2.0s (attempt 1, pid 100; --slow 1s)"
        );
    }
}
