/*!
Reports: the human summary on stderr, and `--report` files in JSON (the schema of SPEC §6),
Markdown and JUnit XML. Files are written atomically (a temporary file in the same directory,
then a rename), also when the run was interrupted.
*/

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::outcome::{AttemptEnd, JobResult, RunOutcome, Status};
use crate::plan::Plan;
use crate::shard::Shard;

/// How many bytes of a failed job's stderr are kept at most.
const TAIL_BYTES: u64 = 4096;
/// How many lines of a failed job's stderr are kept at most.
const TAIL_LINES: usize = 10;

/// A report file format, chosen by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// `.json`
    Json,
    /// `.md`
    Markdown,
    /// `.xml` (JUnit)
    Junit,
}

impl ReportFormat {
    /// The format for a file name, from its extension.
    pub fn for_path(path: &Path) -> Option<ReportFormat> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "json" => Some(ReportFormat::Json),
            "md" | "markdown" => Some(ReportFormat::Markdown),
            "xml" => Some(ReportFormat::Junit),
            _ => None,
        }
    }
}

/// Everything a report says about a finished run.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// The manifest's display name.
    pub manifest: String,
    /// Hex SHA-256 of the manifest's bytes.
    pub manifest_sha256: String,
    /// With `--shard`: which shard ran.
    pub shard: Option<Shard>,
    /// When the run started.
    pub started_at: SystemTime,
    /// When it ended.
    pub finished_at: SystemTime,
    /// Its wall time.
    pub duration: Duration,
    /// Worker threads.
    pub workers: usize,
    /// How it ended.
    pub outcome: RunOutcome,
    /// batchrun's exit code.
    pub exit_code: i32,
    /// The plan's jobs' ids, in manifest order.
    pub ids: Vec<String>,
    /// One result per job, in manifest order.
    pub results: Vec<JobResult>,
    /// For each job, its retries + 1.
    pub max_attempts: Vec<u32>,
    /// batchrun's own errors during the run.
    pub internal_errors: Vec<String>,
}

impl RunSummary {
    /// How many jobs ended with each status.
    pub fn counts(&self) -> BTreeMap<Status, usize> {
        let mut c: BTreeMap<Status, usize> = Status::ALL.iter().map(|&s| (s, 0)).collect();
        for r in &self.results {
            *c.entry(r.status).or_default() += 1;
        }
        c
    }

    /// True when any job failed.
    pub fn any_failure(&self) -> bool {
        self.results.iter().any(|r| r.status.is_failure())
    }
}

/// Formats a time as RFC 3339 UTC with whole seconds: `2026-11-23T02:00:00Z`.
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// The last lines of a file (at most 10 lines, 4 KiB), or `None` if it is empty or missing.
pub fn read_tail(path: &Path) -> Option<String> {
    read_tail_of(std::fs::File::open(path).ok()?)
}

/// [`read_tail`] of an open file, whatever its position.
pub fn read_tail_of(mut f: std::fs::File) -> Option<String> {
    let len = f.metadata().ok()?.len();
    if len == 0 {
        return None;
    }
    let start = len.saturating_sub(TAIL_BYTES);
    f.seek(SeekFrom::Start(start)).ok()?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf);
    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    if start > 0 && lines.len() > 1 {
        lines.remove(0); // a partial first line
    }
    let keep = lines.len().saturating_sub(TAIL_LINES);
    Some(lines[keep..].concat())
}

#[derive(Serialize)]
struct JsonReport<'a> {
    schema: u32,
    batchrun_version: &'static str,
    manifest: &'a str,
    manifest_sha256: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    shard: Option<JsonShard>,
    started_at: String,
    finished_at: String,
    duration_ms: u128,
    workers: usize,
    outcome: RunOutcome,
    exit_code: i32,
    counts: JsonCounts,
    jobs: Vec<JsonJob<'a>>,
}

#[derive(Serialize)]
struct JsonShard {
    index: u32,
    count: u32,
}

#[derive(Serialize)]
struct JsonCounts {
    total: usize,
    succeeded: usize,
    failed: usize,
    timed_out: usize,
    start_failed: usize,
    skipped: usize,
    cancelled: usize,
    not_started: usize,
    resumed: usize,
}

#[derive(Serialize)]
struct JsonJob<'a> {
    id: &'a str,
    status: Status,
    attempts: u32,
    exit_code: Option<i32>,
    signal: Option<i32>,
    started_at: Option<String>,
    duration_ms: Option<u128>,
    error: Option<&'a str>,
    stderr_tail: Option<&'a str>,
    leaked_processes: u32,
}

fn exit_and_signal(r: &JobResult) -> (Option<i32>, Option<i32>) {
    match r.last.as_ref().map(|a| &a.end) {
        Some(AttemptEnd::Ended {
            exit_code, signal, ..
        }) => (*exit_code, *signal),
        _ => (None, None),
    }
}

/// The JSON report (SPEC §6).
pub fn json(s: &RunSummary) -> String {
    let c = s.counts();
    let counts = JsonCounts {
        total: s.results.len(),
        succeeded: c[&Status::Succeeded],
        failed: c[&Status::Failed],
        timed_out: c[&Status::TimedOut],
        start_failed: c[&Status::StartFailed],
        skipped: c[&Status::Skipped],
        cancelled: c[&Status::Cancelled],
        not_started: c[&Status::NotStarted],
        resumed: c[&Status::Resumed],
    };
    let jobs = s
        .ids
        .iter()
        .zip(&s.results)
        .map(|(id, r)| {
            let (exit_code, signal) = exit_and_signal(r);
            JsonJob {
                id,
                status: r.status,
                attempts: r.attempts,
                exit_code,
                signal,
                started_at: r.last.as_ref().map(|a| rfc3339(a.started_at)),
                duration_ms: r.last.as_ref().map(|a| a.duration.as_millis()),
                error: r.error.as_deref(),
                stderr_tail: r.stderr_tail.as_deref(),
                leaked_processes: r.last.as_ref().map_or(0, |a| a.leaked_processes),
            }
        })
        .collect();
    let report = JsonReport {
        schema: 1,
        batchrun_version: env!("CARGO_PKG_VERSION"),
        manifest: &s.manifest,
        manifest_sha256: &s.manifest_sha256,
        shard: s.shard.map(|sh| JsonShard {
            index: sh.index,
            count: sh.count,
        }),
        started_at: rfc3339(s.started_at),
        finished_at: rfc3339(s.finished_at),
        duration_ms: s.duration.as_millis(),
        workers: s.workers,
        outcome: s.outcome,
        exit_code: s.exit_code,
        counts,
        jobs,
    };
    let mut text = serde_json::to_string_pretty(&report).expect("the report serialises");
    text.push('\n');
    text
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// The counts line: `12 jobs in 3.2s: 9 succeeded, 1 failed, …` (zero counts left out).
fn counts_line(s: &RunSummary) -> String {
    let parts: Vec<String> = s
        .counts()
        .into_iter()
        .filter(|&(_, n)| n > 0)
        .map(|(st, n)| format!("{n} {}", st.as_str().replace('_', " ")))
        .collect();
    format!(
        "{} in {:.1}s: {}; {}",
        plural(s.results.len(), "job"),
        s.duration.as_secs_f64(),
        if parts.is_empty() {
            "nothing to do".to_string()
        } else {
            parts.join(", ")
        },
        s.outcome.as_str().replace('_', " ")
    )
}

/// A short label for a result that is not a success, e.g. `failed (attempt 3/3)`.
fn label(s: &RunSummary, i: usize) -> String {
    let r = &s.results[i];
    let max = s.max_attempts[i];
    if r.attempts > 0 && max > 1 {
        format!("{} (attempt {}/{max})", r.status.as_str(), r.attempts)
    } else {
        r.status.as_str().to_string()
    }
}

/// The human summary for stderr: counts, wall time, and every failure with its reason and the
/// last lines of its stderr. Each line starts `batchrun: ` or is indented under one.
pub fn summary_text(s: &RunSummary) -> String {
    let mut out = String::new();
    for (i, r) in s.results.iter().enumerate() {
        if r.status.is_failure() || r.status == Status::Cancelled {
            let _ = writeln!(
                out,
                "batchrun: {} {}: {}",
                label(s, i),
                s.ids[i],
                r.error.as_deref().unwrap_or("")
            );
            if let Some(tail) = &r.stderr_tail {
                for line in tail.lines() {
                    let _ = writeln!(out, "    | {line}");
                }
            }
        }
    }
    let not_started = s.counts()[&Status::NotStarted];
    if not_started > 0 {
        let _ = writeln!(out, "batchrun: {} not started", plural(not_started, "job"));
    }
    for e in &s.internal_errors {
        let _ = writeln!(out, "batchrun: internal error: {e}");
    }
    let _ = writeln!(out, "batchrun: {}", counts_line(s));
    out
}

/// Escapes text for a Markdown table cell or line.
fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The Markdown report: a counts table, every failure with its error and stderr tail, and the
/// slowest jobs.
pub fn markdown(s: &RunSummary) -> String {
    let mut out = String::new();
    let shard = s
        .shard
        .map(|sh| format!(" (shard {} of {})", sh.index, sh.count))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "# batchrun report: {}{shard}\n",
        md_escape(&s.manifest)
    );
    let _ = writeln!(
        out,
        "**Outcome: {}** (exit code {}) — {} jobs, {} workers, started {}, took {:.1}s\n",
        s.outcome.as_str(),
        s.exit_code,
        s.results.len(),
        s.workers,
        rfc3339(s.started_at),
        s.duration.as_secs_f64()
    );
    let _ = writeln!(out, "| status | jobs |\n|---|---:|");
    for (st, n) in s.counts() {
        let _ = writeln!(out, "| {} | {n} |", st.as_str());
    }
    let _ = writeln!(out, "| **total** | **{}** |\n", s.results.len());
    let failures: Vec<usize> = (0..s.results.len())
        .filter(|&i| s.results[i].status.is_failure() || s.results[i].status == Status::Cancelled)
        .collect();
    if !failures.is_empty() {
        let _ = writeln!(out, "## Failures\n");
        for i in failures {
            let r = &s.results[i];
            let _ = writeln!(
                out,
                "### `{}` — {}\n\n{}\n",
                s.ids[i],
                label(s, i),
                md_escape(r.error.as_deref().unwrap_or(""))
            );
            if let Some(tail) = &r.stderr_tail {
                let fence = if tail.contains("```") { "~~~~" } else { "```" };
                let _ = writeln!(out, "{fence}\n{}\n{fence}\n", tail.trim_end_matches('\n'));
            }
        }
    }
    let mut ran: Vec<usize> = (0..s.results.len())
        .filter(|&i| s.results[i].last.is_some())
        .collect();
    ran.sort_by_key(|&i| std::cmp::Reverse(s.results[i].last.as_ref().map(|a| a.duration)));
    if !ran.is_empty() {
        let _ = writeln!(
            out,
            "## Slowest jobs\n\n| job | status | duration |\n|---|---|---:|"
        );
        for &i in ran.iter().take(10) {
            let d = s.results[i]
                .last
                .as_ref()
                .map_or(Duration::ZERO, |a| a.duration);
            let _ = writeln!(
                out,
                "| `{}` | {} | {:.3}s |",
                s.ids[i],
                s.results[i].status.as_str(),
                d.as_secs_f64()
            );
        }
    }
    out
}

/// Escapes text for XML attribute values and text.
fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\t' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// The JUnit XML report: one testcase per job; failures as `<failure>`, skipped and
/// not-started jobs as `<skipped/>`.
pub fn junit(s: &RunSummary) -> String {
    let c = s.counts();
    let failures =
        c[&Status::Failed] + c[&Status::TimedOut] + c[&Status::StartFailed] + c[&Status::Cancelled];
    let skipped = c[&Status::Skipped] + c[&Status::NotStarted];
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let name = xml_escape(&s.manifest);
    let _ = writeln!(
        out,
        "<testsuites name=\"batchrun\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{:.3}\">",
        s.results.len(),
        s.duration.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{name}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{:.3}\" timestamp=\"{}\">",
        s.results.len(),
        s.duration.as_secs_f64(),
        rfc3339(s.started_at)
    );
    let _ = writeln!(
        out,
        "      <properties>\n        <property name=\"manifest_sha256\" value=\"{}\"/>",
        xml_escape(&s.manifest_sha256)
    );
    if let Some(sh) = s.shard {
        let _ = writeln!(out, "        <property name=\"shard\" value=\"{sh}\"/>");
    }
    out.push_str("      </properties>\n");
    for (i, r) in s.results.iter().enumerate() {
        let secs = r.last.as_ref().map_or(0.0, |a| a.duration.as_secs_f64());
        let _ = write!(
            out,
            "    <testcase name=\"{}\" classname=\"{name}\" time=\"{secs:.3}\"",
            xml_escape(&s.ids[i])
        );
        let msg = xml_escape(r.error.as_deref().unwrap_or(""));
        match r.status {
            Status::Succeeded | Status::Resumed => out.push_str("/>\n"),
            Status::Skipped | Status::NotStarted => {
                let _ = writeln!(
                    out,
                    ">\n      <skipped message=\"{msg}\"/>\n    </testcase>"
                );
            }
            st => {
                let _ = writeln!(
                    out,
                    ">\n      <failure message=\"{msg}\" type=\"{}\">{}</failure>\n    </testcase>",
                    st.as_str(),
                    xml_escape(r.stderr_tail.as_deref().unwrap_or(""))
                );
            }
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// Checks, before any job starts, that a report can be written to `path` (its directory
/// exists and takes a new file).
pub fn check_writable(path: &Path) -> std::io::Result<()> {
    tempfile::NamedTempFile::new_in(parent_dir(path)).map(drop)
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Writes a report atomically: a temporary file in the same directory, then a rename.
pub fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let mut tmp = tempfile::NamedTempFile::new_in(parent_dir(path))?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Renders the report for `format`.
pub fn render(format: ReportFormat, s: &RunSummary) -> String {
    match format {
        ReportFormat::Json => json(s),
        ReportFormat::Markdown => markdown(s),
        ReportFormat::Junit => junit(s),
    }
}

/// The `check` plan table: id, command, timeout, retries, group, after, in start order.
pub fn plan_table(plan: &Plan) -> String {
    let rows: Vec<[String; 6]> = plan
        .start_order()
        .into_iter()
        .map(|i| {
            let j = &plan.jobs[i];
            [
                j.id.clone(),
                j.command.display(),
                j.timeout
                    .map(|t| humantime::format_duration(t).to_string())
                    .unwrap_or_else(|| "-".into()),
                j.retries.to_string(),
                j.group.clone().unwrap_or_else(|| "-".into()),
                if j.after.is_empty() {
                    "-".into()
                } else {
                    j.after.join(" ")
                },
            ]
        })
        .collect();
    // Long commands are cut to keep the table readable; `--dry-run` prints them whole.
    let rows: Vec<[String; 6]> = rows
        .into_iter()
        .map(|mut r| {
            if r[1].chars().count() > 60 {
                r[1] = r[1].chars().take(59).collect::<String>() + "…";
            }
            r
        })
        .collect();
    let header = ["ID", "COMMAND", "TIMEOUT", "RETRIES", "GROUP", "AFTER"];
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let mut l = String::new();
        for (k, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if k + 1 == cells.len() {
                l.push_str(cell);
            } else {
                let _ = write!(l, "{cell:<w$}  ");
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(header.to_vec(), &mut out);
    for r in &rows {
        line(r.iter().map(String::as_str).collect(), &mut out);
    }
    let _ = writeln!(
        out,
        "\n{} in {}{}; start order shown (manifest order, as far as `after` allows)",
        plural(plan.jobs.len(), "job"),
        plan.manifest,
        plan.shard
            .map(|s| format!(" (shard {s})"))
            .unwrap_or_default()
    );
    for (g, name) in plan.groups.iter().enumerate() {
        let members = plan.group_of.iter().filter(|&&x| x == Some(g)).count();
        let _ = writeln!(
            out,
            "group {name}: {}, {}",
            plural(members, "job"),
            match plan.group_limits[g] {
                Some(n) => format!("at most {n} at once"),
                None => "no limit".to_string(),
            }
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e");
        let text: String = (0..50).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&p, text).unwrap();
        let t = read_tail(&p).unwrap();
        assert!(
            t.starts_with("line 40\n") && t.ends_with("line 49\n"),
            "{t}"
        );
        std::fs::write(&p, "").unwrap();
        assert_eq!(read_tail(&p), None);
    }

    #[test]
    fn xml_escapes() {
        assert_eq!(
            xml_escape("a<b & \"c\"\u{1}"),
            "a&lt;b &amp; &quot;c&quot;\u{FFFD}"
        );
    }

    #[test]
    fn formats_by_extension() {
        assert_eq!(
            ReportFormat::for_path(Path::new("r.JSON")),
            Some(ReportFormat::Json)
        );
        assert_eq!(
            ReportFormat::for_path(Path::new("r.md")),
            Some(ReportFormat::Markdown)
        );
        assert_eq!(
            ReportFormat::for_path(Path::new("r.xml")),
            Some(ReportFormat::Junit)
        );
        assert_eq!(ReportFormat::for_path(Path::new("r.txt")), None);
    }

    #[test]
    fn rfc3339_whole_seconds() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_000_000_500);
        assert_eq!(rfc3339(t), "2026-11-18T11:06:40Z");
    }
}
