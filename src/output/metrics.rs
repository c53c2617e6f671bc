/*!
`--metrics FILE`: the run in Prometheus text format, for node_exporter's textfile collector
(`--collector.textfile.directory`; name the file `*.prom`). Written atomically — a temporary
file beside it, then a rename, with the report files' one decision (see
[`crate::output::report::write_all`]) — at the end of `run` and `merge`, and, with
`--heartbeat`, refreshed during a run ([`MetricsSink`]).

Every sample carries a `run` label (the manifest's file stem, or `--metrics-label`), so the
files of several cron runs can share one textfile directory. `batchrun_last_success_timestamp_seconds`
is absent until a run succeeds, and a run that does not succeed keeps the one the file had, so
an alert such as "no success for 26 h" works. The file is 0666 less the umask (node_exporter
runs as another user and must read it); the temporary file's name starts with a dot and does not
end in `.prom`, so the collector never reads a half-written file.
*/

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::event::summary::RunSummary;
use crate::event::{Event, EventSink};
use crate::model::config::MetricsConfig;
use crate::model::outcome::Status;
use crate::process::board::Snapshot;
use crate::util::fs::{parent_dir, plain};

/// Metric names and their help text, in the order they are written.
const JOBS: (&str, &str) = (
    "batchrun_jobs",
    "Jobs of the last run by final status (during a run: the jobs finished so far).",
);
const IN_PROGRESS: (&str, &str) = (
    "batchrun_run_in_progress",
    "1 while a run is going on (refreshed every --heartbeat), 0 once it has ended.",
);
const EXIT_CODE: (&str, &str) = ("batchrun_last_run_exit_code", "Exit code of the last run.");
const DURATION: (&str, &str) = (
    "batchrun_last_run_duration_seconds",
    "Wall time of the last run.",
);
const TIMESTAMP: (&str, &str) = (
    "batchrun_last_run_timestamp_seconds",
    "When the last run ended, in seconds since the Unix epoch.",
);
const SUCCESS: (&str, &str) = (
    "batchrun_last_success_timestamp_seconds",
    "When a run last ended with exit code 0, in seconds since the Unix epoch.",
);
const ATTEMPTS: (&str, &str) = (
    "batchrun_last_run_attempts",
    "Attempts (child processes started) in the last run.",
);
const RETRIES: (&str, &str) = (
    "batchrun_last_run_retries",
    "Attempts in the last run that were retries (after a job's first attempt).",
);

/// The `last_run` metrics, which a refresh during a run copies from the file as it was.
const LAST_RUN: [(&str, &str); 6] = [EXIT_CODE, DURATION, TIMESTAMP, SUCCESS, ATTEMPTS, RETRIES];

/// The metrics file of a run or a merge: where it goes, its `run` label, and what the file
/// said before this run.
#[derive(Debug, Clone)]
pub struct Metrics {
    /// The file.
    pub path: PathBuf,
    /// The `run` label.
    pub label: String,
    /// The file's `batchrun_last_*` samples of this label before this run: name and value.
    previous: Vec<(&'static str, f64)>,
}

/// The `run` label for a manifest path: its file stem (`stdin` for standard input).
pub fn default_label(manifest: &str) -> String {
    if manifest == "<stdin>" || manifest == "-" {
        return "stdin".into();
    }
    Path::new(manifest)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| manifest.to_string())
}

impl Metrics {
    /// The metrics of `config` for a run of `manifest`; reads the file as it is now, keeping
    /// its `batchrun_last_*` samples of this label (a missing or unreadable file has none).
    pub fn new(config: &MetricsConfig, manifest: &str) -> Metrics {
        let label = config
            .label
            .clone()
            .unwrap_or_else(|| default_label(manifest));
        let text = std::fs::read_to_string(&config.path).unwrap_or_default();
        let previous = previous_samples(&text, &label);
        Metrics {
            path: config.path.clone(),
            label,
            previous,
        }
    }

    fn previous(&self, name: &str) -> Option<f64> {
        self.previous
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, v)| v)
    }

    /// Writes the metrics of a finished (and decided) run.
    pub fn write_final(&self, w: &mut dyn Write, s: &RunSummary) -> std::io::Result<()> {
        let counts = s.counts();
        self.jobs(w, |st| counts[&st])?;
        self.family(w, IN_PROGRESS, 0.0)?;
        self.family(w, EXIT_CODE, f64::from(s.exit_code))?;
        self.family(w, DURATION, s.duration.as_secs_f64())?;
        let ended = unix_seconds(s.finished_at);
        self.family(w, TIMESTAMP, ended)?;
        let success = if s.exit_code == 0 {
            Some(ended)
        } else {
            self.previous(SUCCESS.0)
        };
        if let Some(t) = success {
            self.family(w, SUCCESS, t)?;
        }
        let attempts: u64 = (0..s.results.len())
            .map(|i| s.results.attempts(i))
            .map(u64::from)
            .sum();
        let retries: u64 = (0..s.results.len())
            .map(|i| s.results.attempts(i))
            .map(|a| u64::from(a.saturating_sub(1)))
            .sum();
        self.family(w, ATTEMPTS, attempts as f64)?;
        self.family(w, RETRIES, retries as f64)
    }

    /// Writes the metrics during a run: the jobs finished so far, and the last run's samples
    /// as the file had them.
    pub fn write_running(&self, w: &mut dyn Write, snapshot: &Snapshot) -> std::io::Result<()> {
        self.jobs(w, |st| {
            Status::ALL
                .iter()
                .position(|&s| s == st)
                .map_or(0, |k| snapshot.counts[k])
        })?;
        self.family(w, IN_PROGRESS, 1.0)?;
        for family in LAST_RUN {
            if let Some(v) = self.previous(family.0) {
                self.family(w, family, v)?;
            }
        }
        Ok(())
    }

    /// `batchrun_jobs`, one sample per status, zeros included.
    fn jobs(&self, w: &mut dyn Write, count: impl Fn(Status) -> usize) -> std::io::Result<()> {
        header(w, JOBS)?;
        for st in Status::ALL {
            writeln!(
                w,
                "{}{{run=\"{}\",status=\"{}\"}} {}",
                JOBS.0,
                escape(&self.label),
                st.as_str(),
                count(st)
            )?;
        }
        Ok(())
    }

    /// A family of one sample.
    fn family(&self, w: &mut dyn Write, family: (&str, &str), v: f64) -> std::io::Result<()> {
        header(w, family)?;
        writeln!(
            w,
            "{}{{run=\"{}\"}} {}",
            family.0,
            escape(&self.label),
            value(v)
        )
    }

    /// Replaces the file with the metrics `write` gives, atomically.
    pub fn replace(
        &self,
        write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let mut tmp = temp_beside(&self.path)?;
        let mut w = std::io::BufWriter::new(tmp.as_file_mut());
        write(&mut w)?;
        w.flush()?;
        drop(w);
        tmp.as_file().sync_all().map_err(plain)?;
        tmp.persist(&self.path)
            .map(drop)
            .map_err(|e| plain(e.error))
    }
}

/// A temporary file in `path`'s directory, 0666 less the umask (the collector runs as another
/// user), named so that the collector does not read it (`.tmpXXXX`, no `.prom`).
pub fn temp_beside(path: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    use std::os::unix::fs::PermissionsExt;
    tempfile::Builder::new()
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(parent_dir(path))
        .map_err(plain)
}

fn header(w: &mut dyn Write, (name, help): (&str, &str)) -> std::io::Result<()> {
    writeln!(w, "# HELP {name} {help}\n# TYPE {name} gauge")
}

/// A sample value: integers as integers, others with millisecond precision.
fn value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:.3}")
    }
}

fn unix_seconds(t: SystemTime) -> f64 {
    let ms = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    ms as f64 / 1000.0
}

/// A label value as the text format writes it: `\`, `"` and newlines escaped.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The `batchrun_last_*` samples with `run="label"` in a metrics file's text.
fn previous_samples(text: &str, label: &str) -> Vec<(&'static str, f64)> {
    let mut found = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((name, labels, v)) = split_sample(line) else {
            continue;
        };
        let Some(&(known, _)) = LAST_RUN.iter().find(|(n, _)| *n == name) else {
            continue;
        };
        if labels.iter().any(|(k, val)| k == "run" && val == label) {
            if let Ok(v) = v.parse::<f64>() {
                found.push((known, v));
            }
        }
    }
    found
}

/// A sample's labels: name and (unescaped) value.
type Labels = Vec<(String, String)>;

/// `name{k="v",…} value` → the name, the labels (unescaped) and the value's text.
fn split_sample(line: &str) -> Option<(&str, Labels, &str)> {
    let line = line.trim();
    let name_end = line.find(|c: char| c == '{' || c.is_whitespace())?;
    let name = &line[..name_end];
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(inner) = rest.strip_prefix('{') {
        let mut chars = inner.char_indices();
        let mut key = String::new();
        let end = loop {
            let (i, c) = chars.next()?;
            match c {
                '}' => break i,
                ',' | ' ' => {}
                '=' => {
                    if chars.next()?.1 != '"' {
                        return None;
                    }
                    let mut val = String::new();
                    loop {
                        match chars.next()?.1 {
                            '"' => break,
                            '\\' => match chars.next()?.1 {
                                'n' => val.push('\n'),
                                c => val.push(c),
                            },
                            c => val.push(c),
                        }
                    }
                    labels.push((std::mem::take(&mut key), val));
                }
                c => key.push(c),
            }
        };
        rest = &inner[end + 1..];
    }
    let value = rest.split_whitespace().next()?;
    Some((name, labels, value))
}

/// The metrics as a consumer of a run's events: with `--heartbeat`, each heartbeat rewrites the
/// file with the jobs finished so far. A refresh that fails is a warning, once; the file is
/// written for good (and its failure decided on) with the reports.
#[derive(Debug)]
pub struct MetricsSink {
    metrics: Metrics,
    warned: bool,
}

impl MetricsSink {
    /// Refreshes `metrics` on every heartbeat.
    pub fn new(metrics: Metrics) -> Self {
        MetricsSink {
            metrics,
            warned: false,
        }
    }
}

impl EventSink for MetricsSink {
    fn handle(&mut self, event: &Event<'_>) {
        if let Event::Status {
            snapshot,
            full: false,
            ..
        } = event
        {
            let m = &self.metrics;
            if let Err(e) = m.replace(|w| m.write_running(w, snapshot)) {
                if !self.warned {
                    self.warned = true;
                    log::warn!("--metrics {}: cannot refresh: {e}", m.path.display());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_read_back_with_their_labels() {
        let text = "# HELP x y\nbatchrun_last_success_timestamp_seconds{run=\"a\\\"b\"} 17.5\n\
                    batchrun_last_success_timestamp_seconds{run=\"other\"} 3\n\
                    batchrun_last_run_exit_code{run=\"a\\\"b\"} 1\ngarbage{\n";
        let got = previous_samples(text, "a\"b");
        assert_eq!(
            got,
            [
                ("batchrun_last_success_timestamp_seconds", 17.5),
                ("batchrun_last_run_exit_code", 1.0)
            ]
        );
        assert_eq!(value(3.0), "3");
        assert_eq!(value(1.25), "1.250");
        assert_eq!(escape("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
        assert_eq!(default_label("dir/nightly.csv"), "nightly");
        assert_eq!(default_label("<stdin>"), "stdin");
    }
}
