/*!
Command-line flags (clap derive) and their validation into a [`Config`]. Nothing past this
module sees clap types.
*/

pub(crate) mod deadline;
pub(crate) mod generate;
pub(crate) mod value_enums;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use clap::{Args, CommandFactory, Parser, Subcommand};

use crate::cli::value_enums::OutputArg;
use crate::model::config::ReportFormat;
use crate::model::config::{Action, Config, MergeConfig, RunConfig};
use crate::model::config::{EventsTarget, MetricsConfig, DEFAULT_MAX_LISTED};
use crate::model::config::{InputFormat, ManifestOptions};
use crate::model::error::Error;
use crate::model::retry::RetryOn;
use crate::util::duration::parse_duration;

/// Raw flags, as clap parses them.
#[derive(Debug, Parser)]
#[command(
    name = "batchrun",
    version,
    about = "Run the jobs of a CSV manifest as child processes on a fixed pool of workers.",
    after_help = crate::model::exit::Exit::table()
)]
pub struct Cli {
    /// Change to DIR before doing anything else (as make -C).
    #[arg(short = 'C', value_name = "DIR", global = true)]
    pub dir: Option<PathBuf>,
    /// Log more (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the jobs.
    Run(Box<RunArgs>),
    /// Validate the manifest and print the plan; run nothing.
    Check(CheckArgs),
    /// Print a shell completion script for SHELL on stdout.
    Completions(CompletionsArgs),
    /// Print the man page (roff) on stdout.
    Man,
    /// Merge the JSON reports of `run --shard` into one report and one exit code.
    #[command(mut_arg("manifest", |a| a
        .long("manifest")
        .value_name("FILE")
        .required(false)
        .default_value("")
        .hide_default_value(true)
        .display_order(0)
        .help("The manifest [default: the one named in the reports]")))]
    Merge(MergeArgs),
}

/// `completions` arguments.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

/// `--shard`, shared by `run` and `check`.
#[derive(Debug, Args)]
pub struct ShardArgs {
    /// Only the jobs of shard K of N (1-based), or `auto` from the job array of a cluster engine
    /// (Slurm, Kubernetes, AWS Batch, Google Cloud Batch, HyperQueue).
    #[arg(long, value_name = "K/N|auto")]
    pub shard: Option<String>,
    /// Balance the shards by the job durations in this JSON report (an earlier merged report
    /// or whole run) instead of by count; merge needs the same file.
    #[arg(long, value_name = "REPORT.json", requires = "shard")]
    pub balance_from: Option<PathBuf>,
}

/// `merge` flags.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The manifest and how its rows become jobs (as given to `run`).
    #[command(flatten)]
    pub manifest: ManifestArgs,
    /// Write the merged report; format by extension: .json, .md, .xml (JUnit). Repeatable.
    #[arg(long, value_name = "FILE")]
    pub report: Vec<PathBuf>,
    /// Ping a health check (healthchecks.io style) when the merge is done: URL on exit 0,
    /// URL/fail otherwise, with the summary in the body.
    #[arg(long, value_name = "URL")]
    pub ping: Option<String>,
    /// The joblog of a shard that left no report (killed, its node lost) or whose report is
    /// older than the joblog: the jobs with a line there get their status from it. Repeatable.
    #[arg(long, value_name = "FILE")]
    pub joblog: Vec<PathBuf>,
    /// The --balance-from report the shards were balanced by (needed to recompute their
    /// partition).
    #[arg(long, value_name = "REPORT.json")]
    pub balance_from: Option<PathBuf>,
    /// Read the paths of the shard reports from FILE, one per line (- for standard input).
    #[arg(long, value_name = "FILE|-")]
    pub reports_from: Option<PathBuf>,
    /// `--metrics`, `--metrics-label` and `--max-listed`.
    #[command(flatten)]
    pub operator: OperatorArgs,
    /// The JSON reports of `batchrun run --shard K/N`, one per shard, or directories: every
    /// `*.json` report in one, merged reports skipped.
    #[arg(
        value_name = "REPORT.json|DIR",
        required_unless_present = "reports_from"
    )]
    pub inputs: Vec<PathBuf>,
}

/// What `run` and `merge` both give an operator: metrics and bounded failure lists.
#[derive(Debug, Args)]
pub struct OperatorArgs {
    /// Write Prometheus metrics (text format, for node_exporter's textfile collector) to FILE,
    /// replaced atomically at the end (and every --heartbeat during a run).
    #[arg(long, value_name = "FILE")]
    pub metrics: Option<PathBuf>,
    /// The `run` label of every metric [default: the manifest's file stem].
    #[arg(long, value_name = "NAME", requires = "metrics")]
    pub metrics_label: Option<String>,
    /// List at most N failures in the summary and the Markdown report (the JSON report and
    /// the joblog keep all).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_LISTED)]
    pub max_listed: usize,
}

impl OperatorArgs {
    /// `--metrics` with its label, or the problem with it.
    fn metrics(&self, problems: &mut Vec<String>) -> Option<MetricsConfig> {
        if self
            .metrics_label
            .as_deref()
            .is_some_and(|l| l.trim().is_empty())
        {
            problems.push("--metrics-label: expected a non-empty name".into());
        }
        if let Some(p) = &self.metrics {
            if p.as_os_str().is_empty() || p.as_os_str() == "-" {
                problems.push(format!(
                    "--metrics {}: expected a file name (the file is replaced atomically)",
                    p.display()
                ));
            }
        }
        Some(MetricsConfig {
            path: self.metrics.clone()?,
            label: self.metrics_label.clone(),
        })
    }
}

/// Options that shape how the manifest's rows become jobs (shared by `run` and `check`).
#[derive(Debug, Args)]
pub struct ManifestArgs {
    /// The manifest: a .csv or .tsv file (with --lines or -0, a plain list), or - for
    /// standard input. With --lines or -0 and no file, standard input when it is a pipe or a
    /// file.
    #[arg(value_name = "MANIFEST")]
    pub manifest: Option<String>,
    /// The same command for every row, with {column} placeholders.
    #[arg(long, value_name = "TEMPLATE")]
    pub command: Option<String>,
    /// Default per-job time limit (e.g. 30s, 5m, 1h30m, or 5 for seconds).
    #[arg(long, value_name = "DUR")]
    pub timeout: Option<String>,
    /// Default extra attempts after a failure or timeout.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub retries: u32,
    /// Retry only these failures: exit codes, ranges, timeout, signal names
    /// (75,100-110,timeout,SIGKILL); a row's retry_on column overrides [default: any failure].
    #[arg(long, value_name = "LIST")]
    pub retry_on: Option<String>,
    /// Cap a group's concurrency (repeatable).
    #[arg(long, value_name = "GROUP=N")]
    pub limit: Vec<String>,
    /// The input is a plain list, one item per line, no header; {} is the item in --command,
    /// and without --command each line is a shell command.
    #[arg(long)]
    pub lines: bool,
    /// Like --lines, with items separated by NUL bytes (find -print0).
    #[arg(short = '0', long)]
    pub null: bool,
    /// With --lines or -0: N consecutive items per job ({} stands for all N, one argument
    /// each); the job's id is its group's number.
    #[arg(short = 'n', long, value_name = "N")]
    pub max_args: Option<usize>,
    /// Run every command through /bin/sh -c (placeholders shell-quoted); a row's shell
    /// column still overrides.
    #[arg(long)]
    pub shell: bool,
    /// Build each job's id from its row's columns, e.g. '{table}-{day}'.
    #[arg(long, value_name = "TEMPLATE")]
    pub id: Option<String>,
    /// With --command: every column is a variable, none (env, cwd, shell, …) is a setting.
    #[arg(long, requires = "command")]
    pub vars_only: bool,
}

impl ManifestArgs {
    /// The options that shape how rows become jobs, or every problem with them.
    pub fn options(&self, problems: &mut Vec<String>) -> ManifestOptions {
        let default_timeout = self
            .timeout
            .as_deref()
            .map(|t| duration_flag("--timeout", t))
            .transpose()
            .unwrap_or_else(|m| {
                problems.push(m);
                None
            });
        let default_retry_on = match self.retry_on.as_deref().map(|l| RetryOn::parse(l, true)) {
            None => None,
            Some(Ok(r)) => r,
            Some(Err(bad)) => {
                problems.extend(bad.into_iter().map(|m| format!("--retry-on: {m}")));
                None
            }
        };
        let input = match (self.null, self.lines) {
            (true, _) => InputFormat::Null,
            (false, true) => InputFormat::Lines,
            (false, false) => InputFormat::Table,
        };
        ManifestOptions {
            command_template: self.command.clone(),
            default_timeout,
            default_retries: self.retries,
            default_retry_on,
            input,
            shell: self.shell,
            id_template: self.id.clone(),
            vars_only: self.vars_only,
            max_args: self.max_args_checked(input, problems),
        }
    }

    /// `-n N`, checked against the options it needs.
    fn max_args_checked(&self, input: InputFormat, problems: &mut Vec<String>) -> usize {
        let Some(n) = self.max_args else {
            return 1;
        };
        let wrong = if n == 0 {
            Some("-n 0 (expected at least 1 item per job)")
        } else if input == InputFormat::Table {
            Some("-n needs a plain list (expected --lines or -0 with it)")
        } else if self.command.is_none() {
            Some("-n needs --command (expected a template the items are given to)")
        } else if n > 1 && self.id.is_some() {
            Some("--id with -n: a job of several items is named by its group's number (expected no --id)")
        } else {
            None
        };
        if let Some(m) = wrong {
            problems.push(m.to_string());
        }
        n.max(1)
    }

    /// The manifest's path: as given; for `merge`, empty when not given; for a plain list,
    /// `-` when standard input is a pipe or a file. Returns it and whether stdin was implied.
    fn manifest_path(&self, merge: bool, problems: &mut Vec<String>) -> (String, bool) {
        match &self.manifest {
            Some(m) => (m.clone(), false),
            None if merge => (String::new(), false),
            None if !(self.lines || self.null) => {
                problems.push(
                    "no manifest given (expected a .csv or .tsv file, - for standard input, or \
                     --lines / -0 with a list on standard input)"
                        .to_string(),
                );
                (String::new(), false)
            }
            None if crate::util::sys::stdin_is_data() => ("-".to_string(), true),
            None => {
                problems.push(
                    "no list given, and standard input is a terminal or /dev/null (expected a \
                     list file, or the items piped in: find . -print0 | batchrun run -0 --command …)"
                        .to_string(),
                );
                (String::new(), false)
            }
        }
    }

    /// `--limit GROUP=N`, or every problem with them.
    pub fn limits(&self, problems: &mut Vec<String>) -> Vec<(String, usize)> {
        let mut limits = Vec::new();
        for l in &self.limit {
            match l.split_once('=').map(|(g, n)| (g.trim(), n.trim().parse::<usize>())) {
                Some((g, Ok(n))) if !g.is_empty() && n > 0 => limits.push((g.to_string(), n)),
                _ => problems.push(format!(
                    "--limit '{l}' is not GROUP=N (expected a group name and a positive number, e.g. db=2)"
                )),
            }
        }
        limits
    }
}

/// `check` flags.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The manifest and how its rows become jobs.
    #[command(flatten)]
    pub manifest: ManifestArgs,
    /// `--shard`.
    #[command(flatten)]
    pub shard: ShardArgs,
}

/// `run` flags.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The manifest and how its rows become jobs.
    #[command(flatten)]
    pub manifest: ManifestArgs,
    /// `--shard`.
    #[command(flatten)]
    pub shard: ShardArgs,
    /// Worker threads [default: the number of CPUs].
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<usize>,
    /// First retry delay, doubled per attempt (with jitter, capped at 5m).
    #[arg(long, value_name = "DUR", default_value = "1s")]
    pub retry_delay: String,
    /// The first failure stops the run: nothing new starts, running jobs are terminated.
    #[arg(long)]
    pub fail_fast: bool,
    /// Stop the run, as --fail-fast, after N failures.
    #[arg(long, value_name = "N")]
    pub max_failures: Option<usize>,
    /// Whole-run limit: a duration (2h), a local time (06:00) or an RFC 3339 time.
    #[arg(long, value_name = "DUR|TIME")]
    pub deadline: Option<String>,
    /// Time between SIGTERM and SIGKILL when terminating a job.
    #[arg(long, value_name = "DUR", default_value = "5s")]
    pub grace: String,
    /// Write a report; format by extension: .json, .md, .xml (JUnit). Repeatable.
    #[arg(long, value_name = "FILE")]
    pub report: Vec<PathBuf>,
    /// Append one CSV line per finished job, written at once.
    #[arg(long, value_name = "FILE")]
    pub joblog: Option<PathBuf>,
    /// With --joblog: skip jobs whose id and command succeeded in that joblog (without ids:
    /// whose command did), and run every job after a job that runs.
    #[arg(long, requires = "joblog")]
    pub resume: bool,
    /// How job output is shown.
    #[arg(long, value_enum, default_value = "group")]
    pub output: OutputArg,
    /// Also keep each job's output in DIR/ID.out and DIR/ID.err.
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    /// Hold an exclusive lock on FILE for the run; exit 75 at once if another run holds it.
    #[arg(long, value_name = "FILE")]
    pub lock: Option<PathBuf>,
    /// Show a progress bar on stderr [default: when stderr is a terminal].
    #[arg(long, overrides_with = "no_progress")]
    pub progress: bool,
    /// Never show a progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// Log only errors; print nothing at all when every job succeeded.
    #[arg(short, long)]
    pub quiet: bool,
    /// Validate, then print each job's resolved command in start order; run nothing. With
    /// --resume, only the jobs that would run.
    #[arg(long)]
    pub dry_run: bool,
    /// In group and tag modes, print job output in manifest order (a finished job's output
    /// waits, in its capture file, until the jobs before it have printed).
    #[arg(short = 'k', long)]
    pub keep_order: bool,
    /// Run CMD with /bin/sh -c once the reports are written (also after an interruption or
    /// the deadline); it gets BATCHRUN_EXIT_CODE, BATCHRUN_OUTCOME, the counts and
    /// BATCHRUN_REPORT in its environment, and never changes the exit code.
    #[arg(long, value_name = "CMD")]
    pub on_finish: Option<String>,
    /// How long the --on-finish command may run before its process group is killed.
    #[arg(long, value_name = "DUR", default_value = "60s")]
    pub on_finish_timeout: String,
    /// Print a one-line status (counts, running jobs) every DUR when stderr is not a terminal.
    #[arg(long, value_name = "DUR")]
    pub heartbeat: Option<String>,
    /// Warn (once per attempt) about a job that has run longer than DUR.
    #[arg(long, value_name = "DUR")]
    pub slow: Option<String>,
    /// Ping a health check (healthchecks.io style): URL/start when the run starts, URL on exit
    /// 0, URL/fail on any other exit (an invalid manifest too), nothing on exit 75; the
    /// summary in the body. A failed ping is a warning, even with -q.
    #[arg(long, value_name = "URL")]
    pub ping: Option<String>,
    /// Write every event of the run as a line of JSON to FILE (appended; a FIFO is fine), or
    /// to stdout with - (needs --output none).
    #[arg(long, value_name = "FILE|-")]
    pub events: Option<PathBuf>,
    /// `--metrics`, `--metrics-label` and `--max-listed`.
    #[command(flatten)]
    pub operator: OperatorArgs,
}

fn duration_flag(flag: &str, s: &str) -> Result<Duration, String> {
    parse_duration(s).map_err(|m| format!("{flag}: {m}"))
}

impl Cli {
    /// The output of `completions` and `man`, which need no configuration; `None` for the
    /// other subcommands.
    pub fn generated(&self) -> Option<Vec<u8>> {
        match &self.command {
            Command::Completions(c) => Some(generate::completions(Cli::command(), c.shell)),
            Command::Man => Some(generate::man_page(Cli::command())),
            Command::Run(_) | Command::Check(_) | Command::Merge(_) => None,
        }
    }

    /// The `--ping` URL of a run (not a dry run) or a merge, when it is a valid one: where
    /// batchrun reports a failure even when the other flags are bad.
    pub fn ping_url(&self) -> Option<String> {
        let url = match &self.command {
            Command::Run(r) if !r.dry_run => r.ping.as_deref(),
            Command::Merge(m) => m.ping.as_deref(),
            _ => None,
        };
        crate::output::ping::check_url(url?).ok()
    }

    /// Validates the flags into a [`Config`], collecting every problem.
    pub fn into_config(self) -> Result<Config, Error> {
        let mut problems: Vec<String> = Vec::new();
        let (margs, action, shard) = match self.command {
            Command::Check(c) => (c.manifest, Action::Check, c.shard),
            Command::Run(r) => {
                let run = validate_run(&r, &mut problems);
                (r.manifest, Action::Run(run), r.shard)
            }
            Command::Merge(m) => {
                let reports = report_formats(&m.report, &mut problems);
                let merge = MergeConfig {
                    inputs: m.inputs,
                    reports,
                    joblogs: m.joblog,
                    reports_from: m.reports_from,
                    ping: ping_flag(m.ping.as_deref(), &mut problems),
                    metrics: m.operator.metrics(&mut problems),
                    max_listed: m.operator.max_listed,
                };
                let shard = ShardArgs {
                    shard: None,
                    balance_from: m.balance_from,
                };
                (m.manifest, Action::Merge(merge), shard)
            }
            Command::Completions(_) | Command::Man => {
                return Err(Error::usage(
                    "completions and man need no validation: see Cli::generated",
                ))
            }
        };
        let balance_from = shard.balance_from;
        let shard = shard
            .shard
            .map(|s| crate::model::shard::parse_spec(&s, |v| std::env::var(v).ok()))
            .transpose()
            .unwrap_or_else(|m| {
                problems.push(m);
                None
            });
        let merge = matches!(action, Action::Merge(_));
        let (manifest, implicit_stdin) = margs.manifest_path(merge, &mut problems);
        let manifest_options = margs.options(&mut problems);
        let limits = margs.limits(&mut problems);
        if !problems.is_empty() {
            return Err(Error::Usage(problems));
        }
        Ok(Config {
            dir: self.dir,
            verbose: self.verbose,
            manifest,
            implicit_stdin,
            manifest_options,
            limits,
            shard,
            balance_from,
            action,
        })
    }
}

fn validate_run(r: &RunArgs, problems: &mut Vec<String>) -> RunConfig {
    let mut take = |res: Result<Duration, String>| {
        res.unwrap_or_else(|m| {
            problems.push(m);
            Duration::ZERO
        })
    };
    let retry_delay = take(duration_flag("--retry-delay", &r.retry_delay));
    let grace = take(duration_flag("--grace", &r.grace));
    let on_finish_timeout = take(duration_flag("--on-finish-timeout", &r.on_finish_timeout));
    // parse_duration refuses zero, which would make a heartbeat spin.
    let mut optional = |flag: &str, v: &Option<String>| -> Option<Duration> {
        duration_flag(flag, v.as_deref()?)
            .map_err(|m| problems.push(m))
            .ok()
    };
    let heartbeat = optional("--heartbeat", &r.heartbeat);
    let slow = optional("--slow", &r.slow);
    let (deadline, deadline_note) = match r
        .deadline
        .as_deref()
        .map(|d| crate::cli::deadline::parse_deadline(d, SystemTime::now()))
    {
        None => (None, None),
        Some(Ok((t, note))) => (Some(t), note),
        Some(Err(m)) => {
            problems.push(m);
            (None, None)
        }
    };
    if r.jobs == Some(0) {
        problems.push("--jobs 0: expected at least one worker".into());
    }
    if r.max_failures == Some(0) {
        problems.push("--max-failures 0: expected at least 1".into());
    }
    let reports = report_formats(&r.report, problems);
    let ping = ping_flag(r.ping.as_deref(), problems);
    let events = events_target(r, problems);
    let metrics = r.operator.metrics(problems);
    let workers = r
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let progress = if r.no_progress {
        false
    } else {
        r.progress || std::io::stderr().is_terminal()
    };
    RunConfig {
        workers,
        retry_delay,
        max_failures: if r.fail_fast { Some(1) } else { r.max_failures },
        deadline,
        deadline_note,
        grace,
        reports,
        joblog: r.joblog.clone(),
        resume: r.resume,
        output: r.output.into(),
        output_dir: r.output_dir.clone(),
        lock: r.lock.clone(),
        progress: progress && !r.quiet,
        quiet: r.quiet,
        dry_run: r.dry_run,
        keep_order: r.keep_order,
        on_finish: r.on_finish.clone(),
        on_finish_timeout,
        // (A terminal has the progress bar: the console prints heartbeats only to a log.)
        heartbeat,
        slow,
        ping,
        events,
        metrics,
        max_listed: r.operator.max_listed,
    }
}

/// `--ping URL`, checked.
fn ping_flag(url: Option<&str>, problems: &mut Vec<String>) -> Option<String> {
    crate::output::ping::check_url(url?)
        .map_err(|m| problems.push(m))
        .ok()
}

/// `--events`: `-` (stdout, only with `--output none`) or a path.
fn events_target(r: &RunArgs, problems: &mut Vec<String>) -> Option<EventsTarget> {
    let p = r.events.as_deref()?;
    if p.as_os_str().is_empty() {
        problems.push("--events: expected a file name, or - for stdout".into());
        return None;
    }
    if p.as_os_str() != "-" {
        return Some(EventsTarget::Path(p.to_path_buf()));
    }
    if r.output != OutputArg::None {
        problems.push(
            "--events - writes the events to stdout, where job output goes: add --output none \
             (with --output-dir, job output is still kept in files)"
                .into(),
        );
    }
    Some(EventsTarget::Stdout)
}

/// Each `--report` file with its format, from its extension.
fn report_formats(paths: &[PathBuf], problems: &mut Vec<String>) -> Vec<(PathBuf, ReportFormat)> {
    let mut reports = Vec::new();
    for p in paths {
        match ReportFormat::for_path(p) {
            Some(f) => reports.push((p.clone(), f)),
            None => problems.push(format!(
                "--report {}: unknown format (expected a file name ending in .json, .md or .xml)",
                p.display()
            )),
        }
    }
    reports
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::deadline::parse_deadline;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }

    fn config(args: &[&str]) -> Result<Config, Error> {
        Cli::try_parse_from(args).unwrap().into_config()
    }

    #[test]
    fn every_bad_flag_is_reported() {
        let e = config(&[
            "batchrun",
            "run",
            "m.csv",
            "--timeout",
            "5x",
            "--grace",
            "never",
            "--limit",
            "db",
            "--report",
            "r.txt",
        ])
        .unwrap_err()
        .to_string();
        for part in ["--timeout", "--grace", "--limit 'db'", "--report r.txt"] {
            assert!(e.contains(part), "{part} missing in {e}");
        }
    }

    #[test]
    fn fail_fast_is_max_failures_one() {
        let c = config(&["batchrun", "run", "m.csv", "--fail-fast", "-j", "3"]).unwrap();
        let Action::Run(r) = c.action else { panic!() };
        assert_eq!(r.max_failures, Some(1));
        assert_eq!(r.workers, 3);
    }

    #[test]
    fn deadlines() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert_eq!(
            parse_deadline("2h", now).unwrap().0,
            now + Duration::from_secs(7200)
        );
        assert!(parse_deadline("2020-01-01T00:00:00Z", now).is_err());
        assert!(parse_deadline("2027-01-15T08:00:00Z", now).is_err()); // that is `now`
        assert_eq!(
            parse_deadline("2027-01-15T16:00:00+00:00", now).unwrap().0,
            now + Duration::from_secs(8 * 3600)
        );
        let t = parse_deadline("06:00", now).unwrap().0;
        let d = t.duration_since(now).unwrap();
        assert!(d > Duration::ZERO && d <= Duration::from_secs(86_400));
        assert!(parse_deadline("tomorrow", now).is_err());
    }
}
