//! Validated settings: what the command line asked for, with no clap type in them.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::model::shard::Shard;

/// How the input is laid out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum InputFormat {
    /// CSV (or TSV) with a header row.
    #[default]
    Table,
    /// `--lines`: one item per line, no header; blank lines are skipped.
    Lines,
    /// `--null`: items separated by NUL bytes; empty (or blank) items are skipped.
    Null,
}

/// Settings from the command line that shape how rows become jobs.
#[derive(Debug, Clone, Default)]
pub struct ManifestOptions {
    /// `--command`: one command template for every row.
    pub command_template: Option<String>,
    /// `--timeout`: the time limit of rows with an empty `timeout`.
    pub default_timeout: Option<Duration>,
    /// `--retries`: the retries of rows with an empty `retries`.
    pub default_retries: u32,
    /// `--retry-on`: the failures retried in rows with an empty `retry_on` (`None`: every one).
    pub default_retry_on: Option<crate::model::retry::RetryOn>,
    /// `--lines` / `--null`: a plain list instead of a table.
    pub input: InputFormat,
    /// `--shell`: rows with an empty (or no) `shell` column run through `/bin/sh -c`.
    pub shell: bool,
    /// `--id`: a template that builds each job's id from its row.
    pub id_template: Option<String>,
    /// `--vars-only`: every column is a variable, none is a setting.
    pub vars_only: bool,
    /// `-n N` (`--max-args`): items of a plain list per job (0 counts as 1).
    pub max_args: usize,
}

impl ManifestOptions {
    /// Items of a plain list per job: `-n N`, at least 1.
    pub fn items_per_job(&self) -> usize {
        self.max_args.max(1)
    }
}

/// A report file format, chosen by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// `.json`
    Json,
    /// `.md`
    Markdown,
    /// `.xml` (JUnit)
    Junit,
    /// `--metrics`: Prometheus text format (never chosen by extension).
    Metrics,
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

/// Where `--events` goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventsTarget {
    /// `--events -`: standard output (only with `--output none`).
    Stdout,
    /// A file (appended to), a FIFO or a device.
    Path(PathBuf),
}

/// `--metrics FILE` and its `run` label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    /// The Prometheus text file, replaced atomically.
    pub path: PathBuf,
    /// `--metrics-label`: the `run` label (default: the manifest's file stem).
    pub label: Option<String>,
}

/// How many failures the summary and the Markdown report list by default (`--max-listed`).
pub const DEFAULT_MAX_LISTED: usize = 20;

/// How job output is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    /// Each job's stdout and stderr printed whole when it ends, never interleaved.
    Group,
    /// Like `group`, with every line prefixed `[id] `.
    Tag,
    /// Not shown (still kept with `--output-dir`, and stderr tails still reach the summary).
    None,
}

/// Validated settings for `check` and `run`.
#[derive(Debug, Clone)]
pub struct Config {
    /// `-C DIR`.
    pub dir: Option<PathBuf>,
    /// `-v` count.
    pub verbose: u8,
    /// The manifest path as given (`-` is stdin).
    pub manifest: String,
    /// The manifest is standard input because a plain list was asked for without a file.
    pub implicit_stdin: bool,
    /// How rows become jobs.
    pub manifest_options: ManifestOptions,
    /// `--limit GROUP=N`.
    pub limits: Vec<(String, usize)>,
    /// `--shard`: run (or check) only this shard's jobs.
    pub shard: Option<Shard>,
    /// `--balance-from`: the report whose durations balance the shards (run, check, merge).
    pub balance_from: Option<PathBuf>,
    /// What to do.
    pub action: Action,
}

/// `check`, `run` or `merge`.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // built once per process; boxing buys nothing
pub enum Action {
    /// Validate and print the plan.
    Check,
    /// Run (or, with `dry_run`, print the commands).
    Run(RunConfig),
    /// Merge shard reports.
    Merge(MergeConfig),
}

/// Validated `merge` settings. The manifest is [`Config::manifest`]; empty means the one the
/// reports name.
#[derive(Debug, Clone)]
pub struct MergeConfig {
    /// The shard reports to read.
    pub inputs: Vec<PathBuf>,
    /// Report files to write and their formats.
    pub reports: Vec<(PathBuf, ReportFormat)>,
    /// `--joblog`: joblogs of shards that left no report.
    pub joblogs: Vec<PathBuf>,
    /// `--reports-from`: a file listing report paths, one per line (`-`: standard input).
    pub reports_from: Option<PathBuf>,
    /// `--ping`: the health check's URL (checked, without a trailing `/`).
    pub ping: Option<String>,
    /// `--metrics`.
    pub metrics: Option<MetricsConfig>,
    /// `--max-listed`: failures listed in the summary and the Markdown report.
    pub max_listed: usize,
}

/// Validated `run` settings.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Worker threads.
    pub workers: usize,
    /// First retry delay.
    pub retry_delay: Duration,
    /// Stop after this many failures.
    pub max_failures: Option<usize>,
    /// When the run must end.
    pub deadline: Option<SystemTime>,
    /// Told to the user at the start: how a `--deadline` local time that does not exist that
    /// day (or exists twice) was taken.
    pub deadline_note: Option<String>,
    /// SIGTERM → SIGKILL delay.
    pub grace: Duration,
    /// Report files and their formats.
    pub reports: Vec<(PathBuf, ReportFormat)>,
    /// The joblog.
    pub joblog: Option<PathBuf>,
    /// Skip jobs that succeeded per the joblog.
    pub resume: bool,
    /// How job output is shown.
    pub output: OutputMode,
    /// Where to keep job output.
    pub output_dir: Option<PathBuf>,
    /// The lock file.
    pub lock: Option<PathBuf>,
    /// Show a progress bar.
    pub progress: bool,
    /// `-q`.
    pub quiet: bool,
    /// `--dry-run`.
    pub dry_run: bool,
    /// `--keep-order`.
    pub keep_order: bool,
    /// `--on-finish`: the shell command run after the reports.
    pub on_finish: Option<String>,
    /// `--on-finish-timeout`.
    pub on_finish_timeout: Duration,
    /// `--heartbeat` (the status line is printed only when stderr is not a terminal; the
    /// `--metrics` file is refreshed either way).
    pub heartbeat: Option<Duration>,
    /// `--slow`.
    pub slow: Option<Duration>,
    /// `--ping`: the health check's URL (checked, without a trailing `/`).
    pub ping: Option<String>,
    /// `--events`: JSON lines, one per event.
    pub events: Option<EventsTarget>,
    /// `--metrics`.
    pub metrics: Option<MetricsConfig>,
    /// `--max-listed`: failures listed in the summary and the Markdown report.
    pub max_listed: usize,
}

impl RunConfig {
    /// Whether an output records each job's memory (`max_rss_kib`: the JSON and Markdown
    /// reports, `--events`), so that jobs must start from the small spawner processes.
    pub fn records_job_memory(&self) -> bool {
        self.events.is_some()
            || self
                .reports
                .iter()
                .any(|(_, f)| matches!(f, ReportFormat::Json | ReportFormat::Markdown))
    }
}
