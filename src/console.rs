/*!
The one place that writes to the terminal while jobs run: each job's output (grouped or
tagged), batchrun's notices, and the progress bar. Log lines from `log` go through
[`LogWriter`], which hides the progress bar while it writes, so nothing tears.

stdout carries only job output. Everything of batchrun's own goes to stderr, prefixed
`batchrun: `.
*/

use std::fs::File;
use std::io::IsTerminal;
use std::io::{BufRead, BufReader, Read, Seek, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use parking_lot::Mutex;

use crate::manifest::JobSpec;
use crate::outcome::{Attempt, JobResult, Status};

/// How job output is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputMode {
    /// Each job's stdout and stderr printed whole when it ends, never interleaved.
    Group,
    /// Like `group`, with every line prefixed `[id] `.
    Tag,
    /// Not shown (still kept with `--output-dir`, and stderr tails still reach the summary).
    None,
}

/// How often a plain progress line is printed when progress is asked for without a terminal.
const PLAIN_PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// Where one stream of an attempt's output was captured.
#[derive(Debug, Clone, Copy)]
pub enum Captured<'a> {
    /// Not captured (stdout with `--output none`, or nothing left to read).
    Nothing,
    /// A named file (`--output-dir`).
    Path(&'a Path),
    /// A file with no name, which vanishes once its last handle is closed.
    File(&'a File),
}

impl Captured<'_> {
    /// Opens the output for reading from its start; `None` if there is nothing to read.
    pub fn open(self) -> Option<File> {
        match self {
            Captured::Nothing => None,
            Captured::Path(p) => File::open(p).ok(),
            Captured::File(f) => {
                let mut f = f.try_clone().ok()?;
                f.rewind().ok()?;
                Some(f)
            }
        }
    }
}

/// The progress bar, when one is shown; global so log lines can hide it while they print.
static BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Runs `f` with the progress bar (if any) hidden.
fn suspended<T>(f: impl FnOnce() -> T) -> T {
    let bar = BAR.lock().clone();
    match bar {
        Some(b) => b.suspend(f),
        None => f(),
    }
}

/// An `env_logger` target that writes to stderr with the progress bar hidden.
#[derive(Debug, Default)]
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        suspended(|| std::io::stderr().write_all(buf))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Prints a line of batchrun's own on stderr: `batchrun: MESSAGE`.
pub fn eprint_line(msg: &str) {
    suspended(|| {
        let _ = writeln!(std::io::stderr(), "batchrun: {msg}");
    });
}

/// Terminal output for one run.
#[derive(Debug)]
pub struct Console {
    /// How job output is shown.
    mode: OutputMode,
    /// `-q`: successful jobs' output is not shown.
    quiet: bool,
    /// Show progress: a bar on a terminal, else a plain line now and then.
    progress: bool,
    /// Jobs to run, for the plain progress lines.
    total: u64,
    /// When the run started and when the last plain progress line was printed.
    started: Instant,
    last_line: Instant,
    /// Set after a write to stdout failed (a closed pipe): job output is no longer shown.
    stdout_broken: bool,
    /// Jobs finished so far and how many of them failed.
    done: u64,
    failed: u64,
}

impl Console {
    /// A console for a run.
    pub fn new(mode: OutputMode, quiet: bool, progress: bool) -> Self {
        Console {
            mode,
            quiet,
            progress,
            total: 0,
            started: Instant::now(),
            last_line: Instant::now(),
            stdout_broken: false,
            done: 0,
            failed: 0,
        }
    }

    /// Whether jobs' stdout must be captured at all.
    pub fn wants_stdout(&self) -> bool {
        self.mode != OutputMode::None
    }

    /// The run starts with `total` jobs to run.
    pub fn start(&mut self, total: usize) {
        self.total = total as u64;
        self.started = Instant::now();
        self.last_line = self.started;
        if !self.progress || !std::io::stderr().is_terminal() {
            return;
        }
        let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:30} {pos}/{len} done, {msg} [{elapsed_precise}, ETA {eta}]",
            )
            .expect("a valid template"),
        );
        bar.set_message("0 failed");
        bar.enable_steady_tick(Duration::from_millis(200));
        *BAR.lock() = Some(bar);
    }

    /// Shows one attempt's output, as the output mode and `-q` say. With `-q` only the output
    /// of a job's final, failed attempt is shown (`retry`: another attempt follows).
    pub fn job_output(
        &mut self,
        job: &JobSpec,
        status: Status,
        retry: bool,
        out: Captured<'_>,
        err: Captured<'_>,
    ) {
        if self.mode == OutputMode::None || (self.quiet && (status.is_success() || retry)) {
            return;
        }
        let tag = (self.mode == OutputMode::Tag).then(|| format!("[{}] ", job.id));
        let stdout_broken = &mut self.stdout_broken;
        suspended(|| {
            if !*stdout_broken {
                let mut stdout = std::io::stdout().lock();
                if let Err(e) =
                    copy_file(out, tag.as_deref(), &mut stdout).and_then(|_| stdout.flush())
                {
                    *stdout_broken = true;
                    log::warn!(
                        "cannot write job output to stdout ({e}); job output is no longer shown"
                    );
                }
            }
            let mut stderr = std::io::stderr().lock();
            let _ = copy_file(err, tag.as_deref(), &mut stderr);
        });
    }

    /// A job has its final result.
    pub fn job_finished(&mut self, job: &JobSpec, result: &JobResult) {
        self.done += 1;
        if result.status.is_failure() {
            self.failed += 1;
        }
        log::info!(
            "{}: {}{}",
            job.id,
            result.status.as_str(),
            result
                .error
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        );
        if let Some(bar) = BAR.lock().as_ref() {
            bar.set_position(self.done);
            bar.set_message(format!("{} failed", self.failed));
            return;
        }
        // Asked for progress without a terminal (a log file): a plain line at most every
        // PLAIN_PROGRESS_EVERY.
        if self.progress && self.last_line.elapsed() >= PLAIN_PROGRESS_EVERY {
            self.last_line = Instant::now();
            let elapsed = self.started.elapsed();
            let eta = if self.done > 0 && self.done < self.total {
                let per_job = elapsed.as_secs_f64() / self.done as f64;
                format!(
                    ", ETA {}",
                    humantime::format_duration(Duration::from_secs(
                        (per_job * (self.total - self.done) as f64).ceil() as u64
                    ))
                )
            } else {
                String::new()
            };
            eprint_line(&format!(
                "progress: {}/{} done, {} failed, {} elapsed{eta}",
                self.done,
                self.total,
                self.failed,
                humantime::format_duration(Duration::from_secs(elapsed.as_secs()))
            ));
        }
    }

    /// An attempt failed and will be retried.
    pub fn retrying(&mut self, job: &JobSpec, attempt: u32, of: u32, a: &Attempt, delay: Duration) {
        log::warn!(
            "{}: attempt {attempt}/{of} {} ({}); retrying in {}",
            job.id,
            a.status().as_str(),
            a.error().unwrap_or_default(),
            humantime::format_duration(Duration::from_millis(delay.as_millis() as u64))
        );
    }

    /// A notice the user must see (interruptions, halts), whatever the log level.
    pub fn notice(&mut self, msg: &str) {
        eprint_line(msg);
    }

    /// An error of batchrun's own.
    pub fn error(&mut self, msg: &str) {
        log::error!("{msg}");
    }

    /// The run is over: the progress bar goes away.
    pub fn finish(&mut self) {
        if let Some(bar) = BAR.lock().take() {
            bar.finish_and_clear();
        }
    }
}

/// Copies a job's output file to `to`, prefixing each line with `tag` if given.
fn copy_file(from: Captured<'_>, tag: Option<&str>, to: &mut dyn Write) -> std::io::Result<()> {
    let Some(mut file) = from.open() else {
        return Ok(());
    };
    match tag {
        None => {
            std::io::copy(&mut file, to)?;
        }
        Some(tag) => copy_tagged(&mut BufReader::with_capacity(TAG_CHUNK, file), tag, to)?,
    }
    Ok(())
}

/// The longest piece of a line `--output tag` holds: a longer line is cut into pieces of this
/// size, each on its own tagged line, so memory stays bounded whatever a job prints.
const TAG_CHUNK: usize = 64 * 1024;

/// Copies `from` to `to`, each line prefixed with `tag`; lines longer than [`TAG_CHUNK`] are
/// split, and a last line without a newline gets one.
fn copy_tagged<R: Read>(
    from: &mut BufReader<R>,
    tag: &str,
    to: &mut dyn Write,
) -> std::io::Result<()> {
    // Bytes of the current line written so far.
    let mut in_line = 0;
    loop {
        let buf = from.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        let piece = &buf[..buf.len().min(TAG_CHUNK - in_line)];
        let (n, ends) = match piece.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (piece.len(), false),
        };
        if in_line == 0 {
            to.write_all(tag.as_bytes())?;
        }
        to.write_all(&piece[..n])?;
        from.consume(n);
        in_line = if ends { 0 } else { in_line + n };
        if in_line == TAG_CHUNK {
            to.write_all(b"\n")?;
            in_line = 0;
        }
    }
    if in_line > 0 {
        to.write_all(b"\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tagged(input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        copy_tagged(&mut BufReader::with_capacity(16, input), "[a] ", &mut out).unwrap();
        out
    }

    #[test]
    fn tags_every_line() {
        assert_eq!(tagged(b""), b"");
        assert_eq!(tagged(b"x\ny\n"), b"[a] x\n[a] y\n");
        assert_eq!(tagged(b"x\n\ny"), b"[a] x\n[a] \n[a] y\n");
    }

    #[test]
    fn splits_long_lines() {
        let mut input = vec![b'x'; 2 * TAG_CHUNK + 3];
        input.extend_from_slice(b"\nend\n");
        let out = tagged(&input);
        let lines: Vec<&[u8]> = out.split(|&b| b == b'\n').collect();
        assert_eq!(lines.len(), 5, "3 pieces, 'end', and the empty tail");
        assert_eq!(lines[0].len(), 4 + TAG_CHUNK);
        assert_eq!(lines[1].len(), 4 + TAG_CHUNK);
        assert_eq!(lines[2], b"[a] xxx");
        assert_eq!(lines[3], b"[a] end");
        let exact = tagged(&vec![b'y'; TAG_CHUNK]);
        assert_eq!(
            exact.len(),
            4 + TAG_CHUNK + 1,
            "no empty tagged line after a full piece"
        );
    }
}
