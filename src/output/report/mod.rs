/*!
Reports: the human summary on stderr, and `--report` files in JSON (the schema in README's *Reports*),
Markdown and JUnit XML. Files are written atomically (a temporary file in the same directory,
then a rename), also when the run was interrupted.
*/

use std::io::{Seek, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::event::summary::RunSummary;
use crate::model::config::ReportFormat;
use crate::model::outcome::{RunOutcome, Status};
use crate::output::in_order::write_in_order;
use crate::output::metrics::Metrics;
use crate::output::text::{job_name, label, slowest, Listing};
use crate::util::fs::{parent_dir, plain, WritebackAhead};
use crate::util::sys::Usage;
use crate::util::text::{kib, rfc3339};

#[derive(Serialize)]
struct JsonReport<'a> {
    schema: u32,
    batchrun_version: &'static str,
    manifest: &'a str,
    manifest_sha256: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    shard: Option<JsonShard>,
    #[serde(skip_serializing_if = "Option::is_none")]
    balance_sha256: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    merged: Option<JsonMerged<'a>>,
    started_at: String,
    finished_at: String,
    duration_ms: u128,
    workers: usize,
    outcome: RunOutcome,
    exit_code: i32,
    counts: JsonCounts,
}

/// The mark of a merged report (`merge DIR` skips such reports).
#[derive(Serialize)]
struct JsonMerged<'a> {
    shards: u32,
    recovered_from_joblogs: &'a [u32],
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
    command: std::borrow::Cow<'a, str>,
    status: Status,
    attempts: u32,
    exit_code: Option<i32>,
    signal: Option<i32>,
    started_at: Option<String>,
    duration_ms: Option<u128>,
    error: Option<String>,
    stderr_tail: Option<String>,
    leaked_processes: u32,
    max_rss_kib: Option<u64>,
    user_ms: Option<u128>,
    system_ms: Option<u128>,
}

impl<'a> JsonJob<'a> {
    /// The report's entry for job `i`.
    fn new(s: &'a RunSummary, i: usize) -> Self {
        let r = s.results.job(i);
        let (exit_code, signal) = r.exit_and_signal();
        let usage = r.last.as_ref().and_then(|a| a.usage);
        JsonJob {
            id: s.jobs.id(i),
            command: s.jobs.command(i),
            status: r.status,
            attempts: r.attempts,
            exit_code,
            signal,
            started_at: r.last.as_ref().map(|a| rfc3339(a.started_at)),
            duration_ms: r.last.as_ref().map(|a| a.duration.as_millis()),
            error: r.error,
            stderr_tail: r.stderr_tail,
            leaked_processes: r.last.as_ref().map_or(0, |a| a.leaked_processes),
            max_rss_kib: usage.map(|u| u.max_rss_kib),
            user_ms: usage.map(|u| u.user.as_millis()),
            system_ms: usage.map(|u| u.system.as_millis()),
        }
    }
}

/// Appends `value`'s JSON to `e`.
fn json_to(e: &mut Vec<u8>, value: &(impl Serialize + ?Sized)) {
    // Scalars and strings into memory: nothing can fail.
    serde_json::to_writer(e, value).expect("JSON of a scalar into memory");
}

/// Appends the JSON string of `s`: as it is between quotes when nothing in it needs an escape
/// (`serde_json` escapes only `"`, `\\` and control characters), else as `serde_json` writes it.
fn json_str(e: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        e.push(b'"');
        e.extend_from_slice(s.as_bytes());
        e.push(b'"');
    } else {
        json_to(e, s);
    }
}

/// Appends an integer, or `null`.
fn json_int(e: &mut Vec<u8>, n: Option<impl itoa::Integer>) {
    match n {
        Some(n) => e.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
        None => e.extend_from_slice(b"null"),
    }
}

/// Appends a string, or `null`.
fn json_opt_str(e: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => json_str(e, s),
        None => e.extend_from_slice(b"null"),
    }
}

/// A value of a job's entry: every one is a string, an integer or `null`.
enum Scalar<'a> {
    Text(Option<&'a str>),
    Int(Option<i32>),
    Uint(Option<u128>),
}

impl JsonJob<'_> {
    /// Writes the entry pretty-printed and indented to sit inside the array, byte for byte as
    /// `to_writer_pretty` and an indent of every line would, without the second pass: every
    /// value is a scalar, written the same pretty or compact, and each is written straight
    /// (a million-job report is hundreds of MB of these).
    fn write(&self, e: &mut Vec<u8>) {
        use Scalar::{Int, Text, Uint};
        e.extend_from_slice(b"    {\n      \"id\": ");
        json_str(e, self.id);
        for (name, value) in [
            ("command", Text(Some(&self.command))),
            ("status", Text(Some(self.status.as_str()))),
            ("attempts", Uint(Some(self.attempts.into()))),
            ("exit_code", Int(self.exit_code)),
            ("signal", Int(self.signal)),
            ("started_at", Text(self.started_at.as_deref())),
            ("duration_ms", Uint(self.duration_ms)),
            ("error", Text(self.error.as_deref())),
            ("stderr_tail", Text(self.stderr_tail.as_deref())),
            ("leaked_processes", Uint(Some(self.leaked_processes.into()))),
            ("max_rss_kib", Uint(self.max_rss_kib.map(u128::from))),
            ("user_ms", Uint(self.user_ms)),
            ("system_ms", Uint(self.system_ms)),
        ] {
            e.extend_from_slice(b",\n      \"");
            e.extend_from_slice(name.as_bytes());
            e.extend_from_slice(b"\": ");
            match value {
                Text(t) => json_opt_str(e, t),
                Int(n) => json_int(e, n),
                Uint(n) => json_int(e, n),
            }
        }
        e.extend_from_slice(b"\n    }");
    }
}

/// How many jobs' entries are made before they are written ([`write_in_order`]): about
/// 0.5 MB, so a report written on two threads takes little more memory than one streamed.
const BATCH: usize = 1024;

/// Writes the report's `jobs` array, one entry at a time from the summary (no job list is
/// built), the entries made on every core a batch at a time: a job that was not started for
/// the run's own reason (the run was interrupted, the deadline passed, …), and has nothing
/// else to tell, as one compact line with its id, status and attempts
/// (`{"id":"7","status":"not_started","attempts":0}`: the reason is the run's `outcome`);
/// every other job as a pretty-printed object.
fn write_jobs(w: &mut dyn Write, s: &RunSummary) -> std::io::Result<()> {
    w.write_all(b"  \"jobs\": [")?;
    let n = s.results.len();
    write_in_order(
        w,
        &s.jobs,
        (n, BATCH),
        |k| k,
        |i, entry: &mut Vec<u8>| {
            entry.extend_from_slice(if i == 0 { b"\n" } else { b",\n" });
            if s.results.plainly_not_started(i) {
                entry.extend_from_slice(b"{\"id\":");
                json_str(entry, s.jobs.id(i));
                entry.extend_from_slice(b",\"status\":\"not_started\",\"attempts\":");
                json_int(entry, Some(s.results.attempts(i)));
                entry.push(b'}');
            } else {
                JsonJob::new(s, i).write(entry);
            }
        },
    )?;
    w.write_all(if n == 0 { b"]\n}\n" } else { b"\n  ]\n}\n" })
}

/// Writes the JSON report (README's *Reports*) to `w`, streaming the jobs.
pub fn write_json(w: &mut dyn Write, s: &RunSummary) -> std::io::Result<()> {
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
    let report = JsonReport {
        schema: 1,
        batchrun_version: env!("CARGO_PKG_VERSION"),
        manifest: &s.manifest,
        manifest_sha256: &s.manifest_sha256,
        shard: s.shard.map(|sh| JsonShard {
            index: sh.index,
            count: sh.count,
        }),
        balance_sha256: s.balance_sha256.as_deref(),
        merged: s.merged.as_ref().map(|m| JsonMerged {
            shards: m.shards,
            recovered_from_joblogs: &m.recovered_from_joblogs,
        }),
        started_at: rfc3339(s.started_at),
        finished_at: rfc3339(s.finished_at),
        duration_ms: s.duration.as_millis(),
        workers: s.workers,
        outcome: s.outcome,
        exit_code: s.exit_code,
        counts,
    };
    // The header pretty-printed, its closing brace replaced by the jobs.
    let mut head = serde_json::to_vec_pretty(&report)?;
    head.truncate(head.len() - 2); // "\n}"
    head.extend_from_slice(b",\n");
    w.write_all(&head)?;
    write_jobs(w, s)
}

/// Runs a report writer into a `String`.
#[cfg(test)]
fn to_text(s: &RunSummary, f: fn(&mut dyn Write, &RunSummary) -> std::io::Result<()>) -> String {
    let mut buf = Vec::new();
    f(&mut buf, s).expect("writing to memory cannot fail");
    String::from_utf8(buf).expect("reports are UTF-8")
}

/// Escapes text for a Markdown table cell or line.
fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Writes the Markdown report to `w`: a counts table, every failure with its error and stderr
/// tail, the slowest jobs, and the jobs that used the most CPU and memory.
pub fn write_markdown(w: &mut dyn Write, s: &RunSummary, ctx: &Context) -> std::io::Result<()> {
    let shard = s
        .shard
        .map(|sh| format!(" (shard {} of {})", sh.index, sh.count))
        .unwrap_or_default();
    writeln!(w, "# batchrun report: {}{shard}\n", md_escape(&s.manifest))?;
    writeln!(
        w,
        "**Outcome: {}** (exit code {}) — {} jobs, {} workers, started {}, took {:.1}s\n",
        s.outcome.as_str(),
        s.exit_code,
        s.results.len(),
        s.workers,
        rfc3339(s.started_at),
        s.duration.as_secs_f64()
    )?;
    writeln!(w, "| status | jobs |\n|---|---:|")?;
    for (st, n) in s.counts() {
        writeln!(w, "| {} | {n} |", st.as_str())?;
    }
    writeln!(w, "| **total** | **{}** |\n", s.results.len())?;
    let mut failures = (0..s.results.len())
        .filter(|&i| s.results.went_wrong(i))
        .peekable();
    if failures.peek().is_some() {
        writeln!(w, "## Failures\n")?;
        for i in failures.by_ref().take(ctx.max_listed) {
            let r = &s.results.job(i);
            writeln!(
                w,
                "### `{}`{} — {}\n\n{}\n",
                s.jobs.id(i),
                md_escape(
                    job_name(&s.jobs, i)
                        .strip_prefix(s.jobs.id(i))
                        .unwrap_or("")
                ),
                label(s, i, r),
                md_escape(r.error.as_deref().unwrap_or(""))
            )?;
            if let Some(tail) = &r.stderr_tail {
                let fence = if tail.contains("```") { "~~~~" } else { "```" };
                writeln!(w, "{fence}\n{}\n{fence}\n", tail.trim_end_matches('\n'))?;
            }
        }
        let more = failures.count();
        if more > 0 {
            let text = ctx.listing().more_text(more);
            writeln!(w, "…{}.\n", md_escape(&text))?;
        }
    }
    let ran = slowest(s, MD_SLOWEST_SHOWN);
    if !ran.is_empty() {
        writeln!(
            w,
            "## Slowest jobs\n\n| job | status | duration |\n|---|---|---:|"
        )?;
        for i in ran {
            let d = s.results.duration(i).unwrap_or_default();
            writeln!(
                w,
                "| `{}` | {} | {:.3}s |",
                s.jobs.id(i),
                s.results.job(i).status.as_str(),
                d.as_secs_f64()
            )?;
        }
    }
    usage_tables(w, s)
}

/// How many jobs the Markdown report lists as the slowest.
const MD_SLOWEST_SHOWN: usize = 10;

/// How many jobs the Markdown report's CPU and memory tables list.
const TOP_USAGE: usize = 10;

/// The Markdown report's tables of the jobs that used the most CPU and the most memory.
fn usage_tables(w: &mut dyn Write, s: &RunSummary) -> std::io::Result<()> {
    let with_usage: Vec<(usize, Usage)> = (0..s.results.len())
        .filter_map(|i| Some((i, s.results.job(i).last.as_ref()?.usage?)))
        .collect();
    if with_usage.is_empty() {
        return Ok(());
    }
    let mut by_cpu = with_usage.clone();
    by_cpu.sort_by_key(|&(i, u)| (std::cmp::Reverse(u.cpu()), i));
    writeln!(
        w,
        "\n## Most CPU\n\n| job | CPU | user | system |\n|---|---:|---:|---:|"
    )?;
    for &(i, u) in by_cpu.iter().take(TOP_USAGE) {
        writeln!(
            w,
            "| `{}` | {:.3}s | {:.3}s | {:.3}s |",
            s.jobs.id(i),
            u.cpu().as_secs_f64(),
            u.user.as_secs_f64(),
            u.system.as_secs_f64()
        )?;
    }
    let mut by_rss = with_usage;
    by_rss.sort_by_key(|&(i, u)| (std::cmp::Reverse(u.max_rss_kib), i));
    writeln!(w, "\n## Most memory\n\n| job | peak RSS |\n|---|---:|")?;
    for &(i, u) in by_rss.iter().take(TOP_USAGE) {
        writeln!(w, "| `{}` | {} |", s.jobs.id(i), kib(u.max_rss_kib))?;
    }
    Ok(())
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

/// Writes the JUnit XML report to `w`, one testcase per job, one at a time: failures as
/// `<failure>`, skipped and not-started jobs as `<skipped/>`.
pub fn write_junit(w: &mut dyn Write, s: &RunSummary) -> std::io::Result<()> {
    let c = s.counts();
    let failures =
        c[&Status::Failed] + c[&Status::TimedOut] + c[&Status::StartFailed] + c[&Status::Cancelled];
    let skipped = c[&Status::Skipped] + c[&Status::NotStarted];
    w.write_all(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")?;
    let name = xml_escape(&s.manifest);
    writeln!(
        w,
        "<testsuites name=\"batchrun\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{:.3}\">",
        s.results.len(),
        s.duration.as_secs_f64()
    )?;
    writeln!(
        w,
        "  <testsuite name=\"{name}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{:.3}\" timestamp=\"{}\">",
        s.results.len(),
        s.duration.as_secs_f64(),
        rfc3339(s.started_at)
    )?;
    writeln!(
        w,
        "      <properties>\n        <property name=\"manifest_sha256\" value=\"{}\"/>",
        xml_escape(&s.manifest_sha256)
    )?;
    if let Some(sh) = s.shard {
        writeln!(w, "        <property name=\"shard\" value=\"{sh}\"/>")?;
    }
    w.write_all(b"      </properties>\n")?;
    for (i, r) in s.results.iter().enumerate() {
        let secs = r.last.as_ref().map_or(0.0, |a| a.duration.as_secs_f64());
        write!(
            w,
            "    <testcase name=\"{}\" classname=\"{name}\" time=\"{secs:.3}\"",
            xml_escape(&job_name(&s.jobs, i))
        )?;
        let msg = xml_escape(r.error.as_deref().unwrap_or(""));
        match r.status {
            Status::Succeeded | Status::Resumed => w.write_all(b"/>\n")?,
            Status::Skipped | Status::NotStarted => {
                writeln!(w, ">\n      <skipped message=\"{msg}\"/>\n    </testcase>")?;
            }
            st => {
                writeln!(
                    w,
                    ">\n      <failure message=\"{msg}\" type=\"{}\">{}</failure>\n    </testcase>",
                    st.as_str(),
                    xml_escape(r.stderr_tail.as_deref().unwrap_or(""))
                )?;
            }
        }
    }
    w.write_all(b"  </testsuite>\n</testsuites>\n")
}

/// What some formats need besides the summary.
#[derive(Debug, Clone)]
pub struct Context {
    /// Failures the Markdown report lists (`--max-listed`).
    pub max_listed: usize,
    /// Where every failure is listed (the JSON report, else the joblog), named after the
    /// ones listed.
    pub see: Option<PathBuf>,
    /// `--metrics`: the file, its label and what it said before.
    pub metrics: Option<Metrics>,
}

impl Default for Context {
    /// Every failure listed; no metrics.
    fn default() -> Self {
        Context {
            max_listed: usize::MAX,
            see: None,
            metrics: None,
        }
    }
}

impl Context {
    /// How the failures are listed (without `-q`'s shown tails: reports have them all).
    pub fn listing(&self) -> Listing<'_> {
        Listing {
            max: self.max_listed,
            see: self.see.as_deref(),
            tail_shown: &|_| false,
        }
    }

    /// The file to name for all failures: the first JSON report, else the joblog.
    pub fn see_also(reports: &[(PathBuf, ReportFormat)], joblog: Option<&Path>) -> Option<PathBuf> {
        reports
            .iter()
            .find(|(_, f)| *f == ReportFormat::Json)
            .map(|(p, _)| p.as_path())
            .or(joblog)
            .map(Path::to_path_buf)
    }

    /// The reports with the metrics file (if any) as one more, in [`ReportFormat::Metrics`].
    pub fn with_metrics(
        &self,
        reports: &[(PathBuf, ReportFormat)],
    ) -> Vec<(PathBuf, ReportFormat)> {
        let mut all = reports.to_vec();
        if let Some(m) = &self.metrics {
            all.push((m.path.clone(), ReportFormat::Metrics));
        }
        all
    }
}

/// A report rendered into a temporary file beside its path, not yet renamed into place.
#[derive(Debug)]
pub struct Staged {
    path: PathBuf,
    format: ReportFormat,
    tmp: tempfile::NamedTempFile,
}

/// Renders the report for `format` into a temporary file in `path`'s directory (reports are
/// private, 0600; the metrics file is 0666 less the umask, for the collector).
pub fn stage(
    path: &Path,
    format: ReportFormat,
    s: &RunSummary,
    ctx: &Context,
) -> std::io::Result<Staged> {
    let tmp = match format {
        ReportFormat::Metrics => crate::output::metrics::temp_beside(path)?,
        _ => tempfile::NamedTempFile::new_in(parent_dir(path)).map_err(plain)?,
    };
    let mut staged = Staged {
        path: path.to_path_buf(),
        format,
        tmp,
    };
    staged.rewrite(s, ctx)?;
    Ok(staged)
}

impl Staged {
    /// The report's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The report's format.
    pub fn format(&self) -> ReportFormat {
        self.format
    }

    /// Renders the report again (the decision changed), replacing what was staged.
    pub fn rewrite(&mut self, s: &RunSummary, ctx: &Context) -> std::io::Result<()> {
        let f = self.tmp.as_file_mut();
        f.set_len(0)?;
        f.rewind()?;
        let mut w = std::io::BufWriter::with_capacity(64 * 1024, WritebackAhead::new(f));
        write_report(&mut w, self.format, s, ctx)?;
        w.flush()?;
        drop(w);
        f.sync_all().map_err(plain)
    }

    /// Renames the report into place.
    pub fn persist(self) -> std::io::Result<()> {
        self.tmp
            .persist(&self.path)
            .map(drop)
            .map_err(|e| plain(e.error))
    }
}

/// Writes every report. A report that cannot be written is part of the decision: it escalates
/// to batchrun's own failure (exit 3) before any report is renamed into place, so the reports
/// on disk, the summary and the exit code agree. Returns the final exit code and the reports
/// written.
///
/// The `--metrics` file of `ctx` is one more of them ([`ReportFormat::Metrics`]), with the
/// same decision.
pub fn write_all(
    summary: &mut RunSummary,
    reports: &[(PathBuf, ReportFormat)],
    ctx: &Context,
    stop: Option<crate::model::exit::StopReason>,
    any_failure: bool,
) -> (crate::model::exit::Exit, Vec<(PathBuf, ReportFormat)>) {
    let reports = &ctx.with_metrics(reports);
    let mut stop = stop;
    let mut staged = Vec::new();
    for (path, format) in reports {
        match stage(path, *format, summary, ctx) {
            Ok(s) => staged.push(s),
            Err(e) => report_failed(summary, path, &e),
        }
    }
    if staged.len() < reports.len() && escalate_to_internal(summary, &mut stop, any_failure) {
        staged.retain_mut(|s| match s.rewrite(summary, ctx) {
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
        persisted.retain(|(path, format)| {
            match stage(path, *format, summary, ctx).and_then(|s| s.persist()) {
                Ok(()) => true,
                Err(e) => {
                    report_failed(summary, path, &e);
                    false
                }
            }
        });
    }
    (
        crate::model::exit::decide(stop, any_failure).exit,
        persisted,
    )
}

/// Notes, once, that the report at `path` could not be written.
fn report_failed(summary: &mut RunSummary, path: &Path, e: &std::io::Error) {
    let what = match ReportFormat::for_path(path) {
        Some(_) => "report",
        None => "metrics file",
    };
    summary
        .internal_errors
        .push(format!("cannot write {what} {}: {e}", path.display()));
}

/// Escalates the decision to batchrun's own failure and updates the summary; false if it was
/// that already.
fn escalate_to_internal(
    summary: &mut RunSummary,
    stop: &mut Option<crate::model::exit::StopReason>,
    any_failure: bool,
) -> bool {
    if !crate::model::exit::StopReason::escalate(stop, crate::model::exit::StopReason::Internal) {
        return false;
    }
    let d = crate::model::exit::decide(*stop, any_failure);
    summary.outcome = d.outcome;
    summary.exit_code = d.exit.code().into();
    true
}

/// Writes the report for `format` to `w`, streaming: nothing is rendered whole in memory.
pub fn write_report(
    w: &mut dyn Write,
    format: ReportFormat,
    s: &RunSummary,
    ctx: &Context,
) -> std::io::Result<()> {
    match format {
        ReportFormat::Json => write_json(w, s),
        ReportFormat::Markdown => write_markdown(w, s, ctx),
        ReportFormat::Junit => write_junit(w, s),
        ReportFormat::Metrics => match &ctx.metrics {
            Some(m) => m.write_final(w, s),
            None => Ok(()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::outcome::JobResult;
    use crate::output::text::summary_text;
    use crate::store::jobs::Jobs;
    use std::time::{Duration, SystemTime};

    /// `n` jobs `j0`, `j1`, … running `true`.
    fn numbered(n: usize) -> Jobs {
        let ids: Vec<String> = (0..n).map(|i| format!("j{i}")).collect();
        let pairs: Vec<(&str, &str)> = ids.iter().map(|id| (id.as_str(), "true")).collect();
        crate::store::jobs::for_tests(&pairs)
    }
    use crate::model::outcome::AttemptEnd;

    fn summary_with_durations(ms: &[Option<u64>]) -> RunSummary {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        let results = ms
            .iter()
            .map(|d| match d {
                None => JobResult::without_attempt(Status::NotStarted, "stopped"),
                Some(d) => JobResult {
                    status: Status::Succeeded,
                    attempts: 1,
                    last: Some(crate::model::outcome::Attempt {
                        end: crate::model::outcome::AttemptEnd::Ended {
                            exit_code: Some(0),
                            signal: None,
                            killed: None,
                        },
                        started_at: t,
                        duration: Duration::from_millis(*d),
                        leaked_processes: 0,
                        usage: None,
                    }),
                    error: None,
                    stderr_tail: None,
                },
            })
            .collect::<Vec<_>>();
        RunSummary {
            manifest: "m.csv".into(),
            manifest_sha256: String::new(),
            shard: None,
            balance_sha256: None,
            merged: None,
            started_at: t,
            finished_at: t,
            duration: Duration::from_secs(1),
            workers: 2,
            outcome: RunOutcome::Succeeded,
            exit_code: 0,
            jobs: numbered(ms.len()),
            max_attempts: vec![1; ms.len()],
            results: results.into_iter().collect(),
            internal_errors: Vec::new(),
        }
    }

    #[test]
    fn slowest_first_ties_in_manifest_order() {
        let s = summary_with_durations(&[Some(5), None, Some(9), Some(5), Some(1), Some(9)]);
        assert_eq!(slowest(&s, 4), [2, 5, 0, 3]);
        assert_eq!(slowest(&s, 10), [2, 5, 0, 3, 4]);
        assert!(slowest(&s, 0).is_empty());
    }

    #[test]
    fn job_entries_are_written_as_the_pretty_printer_would() {
        let mut s = summary_with_durations(&[Some(1500), None, Some(7)]);
        let mut failed = ran(3, 1234, 56);
        failed.status = Status::Failed;
        failed.error = Some("exit status 2 \"quoted\"".into());
        failed.stderr_tail = Some("line\n\ttab \u{1}\n".into());
        s.results.set(2, failed);
        for i in 0..3 {
            let j = JsonJob::new(&s, i);
            let mut pretty = Vec::new();
            for (k, line) in serde_json::to_vec_pretty(&j)
                .unwrap()
                .split(|&b| b == b'\n')
                .enumerate()
            {
                pretty.extend_from_slice(if k == 0 { b"    " } else { b"\n    " });
                pretty.extend_from_slice(line);
            }
            let mut ours = Vec::new();
            j.write(&mut ours);
            assert_eq!(String::from_utf8(ours), String::from_utf8(pretty));
        }
    }

    /// Strings and integers written straight are what `serde_json` writes.
    #[test]
    fn scalars_are_written_as_serde_json_writes_them() {
        for text in [
            "",
            "plain",
            "a \"q\"",
            "back\\slash",
            "tab\t",
            "\u{1}\u{1f}",
            "é ü \u{7f}",
            "/",
        ] {
            let mut ours = Vec::new();
            json_str(&mut ours, text);
            assert_eq!(ours, serde_json::to_vec(text).unwrap(), "{text:?}");
        }
        for n in [None, Some(0i64), Some(-1), Some(i64::MAX), Some(i64::MIN)] {
            let mut ours = Vec::new();
            json_int(&mut ours, n);
            assert_eq!(ours, serde_json::to_vec(&n).unwrap());
        }
        let mut ours = Vec::new();
        json_int(&mut ours, Some(u128::MAX));
        assert_eq!(ours, serde_json::to_vec(&u128::MAX).unwrap());
    }

    #[test]
    fn streamed_json_is_the_pretty_printed_report() {
        let s = summary_with_durations(&[Some(1500), None]);
        let text = to_text(&s, write_json);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["jobs"].as_array().unwrap().len(), 2);
        assert_eq!(v["jobs"][0]["duration_ms"], 1500);
        assert_eq!(v["jobs"][1]["status"], "not_started");
        assert!(text.ends_with("}\n"));
        assert!(text.contains(
            "\n  \"jobs\": [\n    {\n      \"id\": \"j0\",\n      \"command\": \"true\",\n      \"status\": \"succeeded\","
        ));
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

    fn ran(secs: u64, rss: u64, cpu_ms: u64) -> JobResult {
        use crate::model::outcome::Attempt;
        JobResult {
            status: Status::Succeeded,
            attempts: 1,
            last: Some(Attempt {
                end: AttemptEnd::Ended {
                    exit_code: Some(0),
                    signal: None,
                    killed: None,
                },
                started_at: SystemTime::UNIX_EPOCH,
                duration: Duration::from_secs(secs),
                leaked_processes: 0,
                usage: Some(Usage {
                    max_rss_kib: rss,
                    user: Duration::from_millis(cpu_ms),
                    system: Duration::ZERO,
                }),
            }),
            error: None,
            stderr_tail: None,
        }
    }

    fn summary(jobs: usize, duration: Duration) -> RunSummary {
        RunSummary {
            manifest: "m.csv".into(),
            manifest_sha256: String::new(),
            shard: None,
            balance_sha256: None,
            merged: None,
            started_at: SystemTime::UNIX_EPOCH,
            finished_at: SystemTime::UNIX_EPOCH,
            duration,
            workers: 2,
            outcome: RunOutcome::Succeeded,
            exit_code: 0,
            jobs: numbered(jobs),
            results: (0..jobs as u64)
                .map(|i| ran(i, 100 * i, 7 * (jobs as u64 - i)))
                .collect(),
            max_attempts: vec![1; jobs],
            internal_errors: vec![],
        }
    }

    #[test]
    fn summary_names_the_slowest_jobs_of_a_long_run_only() {
        let all = Listing::all();
        let long = summary_text(&summary(8, Duration::from_secs(30)), &all);
        assert!(
            long.contains("batchrun: slowest: j7 7.0s, j6 6.0s, j5 5.0s\n"),
            "{long}"
        );
        assert!(!summary_text(&summary(8, Duration::from_secs(9)), &all).contains("slowest"));
        assert!(!summary_text(&summary(5, Duration::from_secs(60)), &all).contains("slowest"));
    }

    #[test]
    fn markdown_tables_of_cpu_and_memory() {
        let md = to_text(&summary(3, Duration::from_secs(1)), |w, s| {
            write_markdown(w, s, &Context::default())
        });
        let cpu = &md[md.find("## Most CPU").unwrap()..];
        assert!(
            cpu.contains("| `j0` | 0.021s | 0.021s | 0.000s |\n| `j1` |"),
            "{md}"
        );
        let mem = &md[md.find("## Most memory").unwrap()..];
        assert!(
            mem.contains("| `j2` | 200 KiB |\n| `j1` | 100 KiB |"),
            "{md}"
        );
        assert_eq!(kib(61 * 1024 + 205), "61.2 MiB");
        assert_eq!(kib(2 * 1024 * 1024), "2.0 GiB");
    }

    #[test]
    fn rfc3339_whole_seconds() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_000_000_500);
        assert_eq!(rfc3339(t), "2026-11-18T11:06:40Z");
    }
}
