/*!
The one module that turns what happens into text on the terminal. The dispatcher emits
[`Event`]s; [`Console::handle`] alone decides what each one prints: job output (grouped or
tagged), batchrun's notices, the progress bar and the summary.

Nothing is written on the dispatcher's thread. Everything goes, in order, through a channel to
a printer thread, so a stdout that nobody reads (`| less` left open, a stalled ssh) blocks only
the printer: signals, timeouts and the deadline keep working. While the printer is more than
[`OUTPUT_BACKLOG`] job outputs behind, the dispatcher starts no new job (it waits on
[`Console::drained`]); output is never read into memory, the queue holds the capture files.

stdout carries only job output. Everything of batchrun's own goes to stderr, prefixed
`batchrun: `. Log lines from `log` go through [`LogWriter`], into the same queue while a run
is on, so they neither tear the progress bar nor block.
*/

pub(crate) mod keep_order;
pub(crate) mod progress;

use std::io::IsTerminal;
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{select, Receiver, Sender};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use parking_lot::Mutex;

use crate::capture::Captured;
use crate::event::summary::RunSummary;
use crate::event::{Event, EventSink};
use crate::model::config::OutputMode;
use crate::model::job::JobSpec;
use crate::model::outcome::Attempt;
use crate::output::console::keep_order::{Kept, OrderedOutput};
use crate::output::text;
use crate::process::signals::SignalEvent;
use crate::util::text::plural;

/// How many job outputs may wait for the printer before the dispatcher stops starting jobs.
pub const OUTPUT_BACKLOG: usize = 64;

/// How often a plain progress line is printed when progress is asked for without a terminal.
const PLAIN_PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// The progress bar, when one is shown; global so log lines can hide it while they print.
static BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// The queue of batchrun's own lines while a run is on, for [`LogWriter`] and [`eprint_line`].
static LINES: Mutex<Option<Sender<Vec<u8>>>> = Mutex::new(None);

/// Held while one unit — a job's output, or a line of batchrun's — is written, so that units
/// never tear each other.
static TERMINAL: Mutex<()> = Mutex::new(());

/// How long a line of batchrun's waits for a job's output to finish printing before it is
/// written anyway: stdout may be a pipe nobody reads, and notices must still get out.
const LINE_WAIT: Duration = Duration::from_millis(200);
/// The bar's message, read each time the bar is drawn (so the ETA beside it stays live).
static MESSAGE: Mutex<String> = Mutex::new(String::new());

/// Runs `f` with the progress bar (if any) hidden.
fn suspended<T>(f: impl FnOnce() -> T) -> T {
    let bar = BAR.lock().clone();
    match bar {
        Some(b) => b.suspend(f),
        None => f(),
    }
}

/// Writes bytes to stderr now, with the progress bar hidden.
fn write_stderr(bytes: &[u8]) {
    suspended(|| {
        let _ = std::io::stderr().write_all(bytes);
    });
}

/// Writes bytes to stderr through the line printer while a run is on, else at once.
fn queue_stderr(bytes: Vec<u8>) {
    let rejected = match LINES.lock().as_ref() {
        Some(q) => q.send(bytes).err().map(|e| e.into_inner()),
        None => Some(bytes),
    };
    if let Some(bytes) = rejected {
        write_stderr(&bytes);
    }
}

/// An `env_logger` target that writes to stderr in order with everything else.
#[derive(Debug, Default)]
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        queue_stderr(buf.to_vec());
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Prints a line of batchrun's own on stderr: `batchrun: MESSAGE`.
pub fn eprint_line(msg: &str) {
    queue_stderr(format!("batchrun: {msg}\n").into_bytes());
}

/// Prints an error that ended batchrun, with every manifest problem first.
pub fn print_error(e: &crate::model::error::Error) {
    if let crate::model::error::Error::Invalid { problems, .. } = e {
        let text: String = problems.iter().map(|p| format!("{p}\n")).collect();
        queue_stderr(text.into_bytes());
    }
    eprint_line(&e.to_string());
}

/// Prints a run's summary on stderr, outside a run (`merge`).
pub fn print_summary(summary: &RunSummary) {
    queue_stderr(crate::output::text::summary_text(summary).into_bytes());
}

/// `--dry-run --resume`: how many jobs the joblog would resume.
pub fn would_be_resumed(resumed: usize, total: usize, joblog: &std::path::Path) {
    eprint_line(&format!(
        "{resumed} of {} would be resumed (succeeded before, per {}); {} would run",
        plural(total, "job"),
        joblog.display(),
        total - resumed
    ));
}

/// Writes bytes to stdout and flushes them (generated completions and man page).
pub fn write_stdout(bytes: &[u8]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes).and_then(|_| out.flush())
}

/// Writes to stdout through a buffer, as `f` produces it; a closed or failing stdout is
/// ignored (what `check` and `--dry-run` print).
pub fn stream_stdout(f: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) {
    let out = std::io::stdout().lock();
    let mut w = std::io::BufWriter::with_capacity(64 * 1024, out);
    let _ = f(&mut w).and_then(|_| w.flush());
}

/// Work for the job-output printer.
enum Print {
    /// One attempt's output.
    Job {
        out: Captured,
        err: Captured,
        tag: Option<String>,
    },
    /// Answer once everything before it is printed.
    Barrier(Sender<()>),
}

/// The two printer threads — one for job output, one for batchrun's own lines — and what they
/// share with the console.
#[derive(Debug)]
struct Printer {
    jobs: Sender<Print>,
    lines: Sender<Vec<u8>>,
    /// Job outputs queued and not yet printed.
    pending: Arc<AtomicUsize>,
    /// Gets a message when the job queue has drained below half the backlog.
    drained: Receiver<()>,
    /// Disconnect when the job printer, and the line printer, have ended.
    jobs_ended: Receiver<()>,
    lines_ended: Receiver<()>,
}

/// How [`Console::flush`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flushed {
    /// Everything is printed.
    All,
    /// A signal arrived first; the output of this many jobs was not printed.
    Interrupted(usize),
    /// The time ran out; the output of this many jobs was not printed.
    GaveUp(usize),
}

impl Printer {
    fn start() -> std::io::Result<Printer> {
        let (jobs, job_rx) = crossbeam_channel::unbounded::<Print>();
        let (lines, line_rx) = crossbeam_channel::unbounded::<Vec<u8>>();
        let pending = Arc::new(AtomicUsize::new(0));
        let (drained_tx, drained) = crossbeam_channel::bounded(1);
        let (jobs_done, jobs_ended) = crossbeam_channel::bounded::<()>(0);
        let (lines_done, lines_ended) = crossbeam_channel::bounded::<()>(0);
        std::thread::Builder::new()
            .name("batchrun-lines".into())
            .spawn(move || {
                let _done = lines_done;
                for bytes in line_rx {
                    let _unit = TERMINAL.try_lock_for(LINE_WAIT);
                    write_stderr(&bytes);
                }
            })?;
        let counter = Arc::clone(&pending);
        std::thread::Builder::new()
            .name("batchrun-output".into())
            .spawn(move || {
                let _done = jobs_done;
                let mut stdout_broken = false;
                for p in job_rx {
                    match p {
                        Print::Job { out, err, tag } => {
                            let _unit = TERMINAL.lock();
                            print_job(&out, &err, tag.as_deref(), &mut stdout_broken);
                            if counter.fetch_sub(1, Ordering::SeqCst) == OUTPUT_BACKLOG / 2 + 1 {
                                let _ = drained_tx.try_send(());
                            }
                        }
                        Print::Barrier(ack) => {
                            let _ = ack.send(());
                        }
                    }
                }
            })?;
        Ok(Printer {
            jobs,
            lines,
            pending,
            drained,
            jobs_ended,
            lines_ended,
        })
    }
}

/// Copies one attempt's output to stdout and stderr, with the progress bar hidden.
fn print_job(out: &Captured, err: &Captured, tag: Option<&str>, stdout_broken: &mut bool) {
    suspended(|| {
        if !*stdout_broken {
            let mut stdout = std::io::stdout().lock();
            if let Err(e) = copy_file(out, tag, &mut stdout).and_then(|_| stdout.flush()) {
                *stdout_broken = true;
                let msg = format!(
                    "batchrun: cannot write job output to stdout ({e}); job output is no longer shown\n"
                );
                let _ = std::io::stderr().write_all(msg.as_bytes());
            }
        }
        let mut stderr = std::io::stderr().lock();
        let _ = copy_file(err, tag, &mut stderr);
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
    /// Jobs finished so far and how many of them failed.
    done: u64,
    failed: u64,
    /// The printer thread; `None` if it could not be started (then everything is written at
    /// once, on the caller's thread).
    printer: Option<Printer>,
    /// Set once the job printer was given up on (stdout is not being read).
    abandoned: bool,
    /// `--keep-order`: output held until the jobs before it have printed.
    order: Option<OrderedOutput<Kept>>,
    /// Jobs whose attempt failed and that wait for (or run) another one.
    retrying: std::collections::HashSet<String>,
}

impl Console {
    /// A console for a run; starts the printer thread.
    pub fn new(mode: OutputMode, quiet: bool, progress: bool) -> Self {
        let printer = match Printer::start() {
            Ok(p) => {
                *LINES.lock() = Some(p.lines.clone());
                Some(p)
            }
            Err(e) => {
                eprint_line(&format!(
                    "cannot start the output thread ({e}); output is written directly"
                ));
                None
            }
        };
        Console {
            mode,
            quiet,
            progress,
            total: 0,
            started: Instant::now(),
            last_line: Instant::now(),
            done: 0,
            failed: 0,
            printer,
            abandoned: false,
            order: None,
            retrying: Default::default(),
        }
    }

    /// `--keep-order`: job output is printed in manifest order. `resumed` marks the jobs
    /// (by index) that will not run.
    pub fn keep_order(&mut self, resumed: &[bool]) {
        if self.mode != OutputMode::None {
            self.order = Some(OrderedOutput::new(resumed));
        }
    }

    /// Turns one event into text (or nothing).
    fn on_event(&mut self, event: &Event<'_>) {
        match event {
            Event::RunStarted { total } => self.start(*total),
            Event::WorkersShort {
                started,
                wanted,
                error,
            } => self.notice(&format!(
                "could start only {started} of {wanted} worker threads ({error}); running with {started}"
            )),
            Event::AttemptOutput {
                job,
                status,
                retry,
                out,
                err,
            } => {
                let hidden = self.quiet && (status.is_success() || *retry);
                if self.mode == OutputMode::None || hidden || (out.is_empty() && err.is_empty()) {
                    return;
                }
                let tag = (self.mode == OutputMode::Tag).then(|| format!("[{}] ", job.id));
                self.job_output(job, out.clone(), err.clone(), tag);
            }
            Event::RetryScheduled {
                job,
                attempt,
                of,
                last,
                delay,
            } => self.retrying(job, *attempt, *of, last, *delay),
            Event::StartDeferred { job, error } => log::warn!(
                "{}: cannot start now ({error}); it waits for a running job to finish",
                job.id
            ),
            Event::JobFinished { job, result } => {
                if let Some(kept) = self.order.as_mut().map(|o| o.finished(job.index)) {
                    self.print_kept(kept);
                }
                self.job_finished(&job.id, result);
            }
            Event::Draining { running } if *running > 0 => self.notice(&format!(
                "interrupted: starting no new jobs; waiting for {} to finish (send the signal again to terminate them)",
                plural(*running, "running job")
            )),
            Event::Draining { .. } => {}
            Event::Terminating { running, grace } => self.notice(&format!(
                "second signal: terminating {} (SIGTERM, then SIGKILL after {})",
                plural(*running, "running job"),
                humantime::format_duration(*grace)
            )),
            Event::Halted {
                failures,
                limit,
                running,
            } => self.notice(&format!(
                "{} reached the limit of {limit}: stopping the run, terminating {}",
                plural(*failures, "failure"),
                plural(*running, "running job")
            )),
            Event::DeadlineReached { running } => self.notice(&format!(
                "deadline reached: starting no new jobs, terminating {}",
                plural(*running, "running job")
            )),
            Event::InternalError { message } => log::error!("{message}"),
            Event::OutputDropped { jobs } => self.notice(&format!(
                "the output of {} was not written: stdout is not being read",
                plural(*jobs, "job")
            )),
            Event::Summary { summary } => self.summary(summary),
            Event::ReportsWritten { reports } => {
                if let Some(line) = progress::reports_written(reports) {
                    self.notice(&line);
                }
            }
            Event::Status {
                snapshot,
                full: true,
                now,
            } => {
                for line in text::status_report(snapshot, *now) {
                    self.notice(&line);
                }
            }
            Event::Status { snapshot, now, .. } => {
                self.notice(&text::status_line(snapshot, *now));
            }
            Event::Slow {
                running,
                limit,
                now,
            } => self.notice(&text::slow_line(running, *now, *limit)),
        }
    }

    /// The run starts with `total` jobs to run.
    fn start(&mut self, total: usize) {
        self.total = total as u64;
        self.started = Instant::now();
        self.last_line = self.started;
        if !self.progress || !std::io::stderr().is_terminal() {
            return;
        }
        let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
        if let Ok(style) =
            ProgressStyle::with_template("{bar:30} {pos}/{len} done, {msg} [{elapsed_precise}]")
        {
            bar.set_style(style.with_key(
                "msg",
                |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = w.write_str(&MESSAGE.lock());
                    let eta = progress::eta(s.pos(), s.len().unwrap_or(0), s.elapsed());
                    if let Some(e) = eta {
                        let _ = write!(w, ", {}", progress::eta_text(e));
                    }
                },
            ));
        }
        *MESSAGE.lock() = progress::message(0, 0, None);
        bar.enable_steady_tick(Duration::from_millis(200));
        *BAR.lock() = Some(bar);
    }

    /// One attempt's output: printed now, or with `--keep-order` held until the jobs before
    /// it have printed (its capture files stay open; nothing is read into memory).
    fn job_output(&mut self, job: &JobSpec, out: Captured, err: Captured, tag: Option<String>) {
        let Some(order) = self.order.as_mut().filter(|o| !o.may_print(job.index)) else {
            return self.print_job(out, err, tag);
        };
        match Kept::new(tag, out, err) {
            Ok(kept) => order.hold(job.index, kept),
            Err((e, kept)) => {
                log::warn!(
                    "{}: cannot keep the output for later ({e}); printing it out of order",
                    job.id
                );
                self.print_kept(vec![kept]);
            }
        }
    }

    /// Queues one attempt's output for the printer.
    fn print_job(&mut self, out: Captured, err: Captured, tag: Option<String>) {
        match &self.printer {
            Some(p) if !self.abandoned => {
                p.pending.fetch_add(1, Ordering::SeqCst);
                if let Err(e) = p.jobs.send(Print::Job { out, err, tag }) {
                    p.pending.fetch_sub(1, Ordering::SeqCst);
                    if let Print::Job { out, err, tag } = e.into_inner() {
                        print_job(&out, &err, tag.as_deref(), &mut false);
                    }
                }
            }
            _ => print_job(&out, &err, tag.as_deref(), &mut false),
        }
    }

    /// Queues held output that may be printed now.
    fn print_kept(&mut self, kept: Vec<Kept>) {
        for k in kept {
            self.print_job(k.out, k.err, k.tag);
        }
    }

    /// A job has its final result.
    fn job_finished(&mut self, id: &str, result: &crate::model::outcome::JobResult) {
        self.done += 1;
        if result.status.is_failure() {
            self.failed += 1;
        }
        log::info!(
            "{id}: {}{}",
            result.status.as_str(),
            result
                .error
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        );
        self.retrying.remove(id);
        if let Some(bar) = BAR.lock().as_ref() {
            *MESSAGE.lock() = self.bar_message();
            bar.set_position(self.done);
            return;
        }
        // Asked for progress without a terminal (a log file): a plain line at most every
        // PLAIN_PROGRESS_EVERY.
        if self.progress && self.last_line.elapsed() >= PLAIN_PROGRESS_EVERY {
            self.last_line = Instant::now();
            let elapsed = self.started.elapsed();
            let eta = progress::eta(self.done, self.total, elapsed);
            let line = format!(
                "progress: {}/{} done, {}, {} elapsed{}",
                self.done,
                self.total,
                progress::message(self.failed, self.retrying.len() as u64, None),
                humantime::format_duration(Duration::from_secs(elapsed.as_secs())),
                eta.map(|e| format!(", {}", progress::eta_text(e)))
                    .unwrap_or_default()
            );
            self.notice(&line);
        }
    }

    /// An attempt failed and will be retried.
    fn retrying(&mut self, job: &JobSpec, attempt: u32, of: u32, a: &Attempt, delay: Duration) {
        self.retrying.insert(job.id.clone());
        if BAR.lock().is_some() {
            *MESSAGE.lock() = self.bar_message();
        }
        log::warn!(
            "{}: attempt {attempt}/{of} {} ({}); retrying in {}",
            job.id,
            a.status().as_str(),
            a.error().unwrap_or_default(),
            humantime::format_duration(Duration::from_millis(delay.as_millis() as u64))
        );
    }

    /// The bar's message: failures and pending retries (the ETA is added as it is drawn).
    fn bar_message(&self) -> String {
        progress::message(self.failed, self.retrying.len() as u64, None)
    }

    /// A notice the user must see (interruptions, halts), whatever the log level.
    fn notice(&mut self, msg: &str) {
        self.stderr(format!("batchrun: {msg}\n").into_bytes());
    }

    /// The summary at the end of a run.
    fn summary(&mut self, summary: &RunSummary) {
        self.stderr(crate::output::text::summary_text(summary).into_bytes());
    }

    /// Bytes for stderr, in order with job output.
    fn stderr(&mut self, bytes: Vec<u8>) {
        match &self.printer {
            Some(p) => {
                if let Err(e) = p.lines.send(bytes) {
                    write_bounded(e.into_inner());
                }
            }
            None => write_bounded(bytes),
        }
    }

    /// Waits until every job output queued so far is printed, or a signal arrives, or `limit`
    /// passes. The progress bar goes away first.
    pub fn flush(&mut self, signals: &Receiver<SignalEvent>, limit: Option<Duration>) -> Flushed {
        if let Some(kept) = self.order.as_mut().map(OrderedOutput::drain) {
            self.print_kept(kept);
        }
        if let Some(bar) = BAR.lock().take() {
            bar.finish_and_clear();
        }
        let Some(p) = &self.printer else {
            return Flushed::All;
        };
        let (ack_tx, ack) = crossbeam_channel::bounded(1);
        if p.jobs.send(Print::Barrier(ack_tx)).is_err() {
            return Flushed::All;
        }
        let timer = limit.map_or_else(crossbeam_channel::never, crossbeam_channel::after);
        let end = loop {
            select! {
                recv(ack) -> _ => break Flushed::All,
                recv(signals) -> s => if is_stop(s) {
                    break Flushed::Interrupted(p.pending.load(Ordering::SeqCst));
                },
                recv(timer) -> _ => break Flushed::GaveUp(p.pending.load(Ordering::SeqCst)),
            }
        };
        // Given up on: the job printer is stuck on a stdout nobody reads.
        self.abandoned = end != Flushed::All;
        end
    }

    /// The run is over: waits for the printers to print what is queued — job output only if
    /// it was not given up on, batchrun's lines until they are out or a signal arrives — and
    /// stops them.
    pub fn close(&mut self, signals: &Receiver<SignalEvent>) {
        if let Some(bar) = BAR.lock().take() {
            bar.finish_and_clear();
        }
        *LINES.lock() = None;
        let Some(p) = self.printer.take() else {
            return;
        };
        let Printer {
            jobs,
            lines,
            jobs_ended,
            lines_ended,
            ..
        } = p;
        drop((jobs, lines));
        if !self.abandoned {
            loop {
                select! {
                    recv(jobs_ended) -> _ => break,
                    recv(signals) -> s => if is_stop(s) {
                        return;
                    },
                }
            }
        }
        loop {
            select! {
                recv(lines_ended) -> _ => break,
                recv(signals) -> s => if is_stop(s) {
                    break;
                },
            }
        }
    }
}

/// Whether a signal ends a wait: a stop signal, or the source closing; not a status request.
fn is_stop(s: Result<SignalEvent, crossbeam_channel::RecvError>) -> bool {
    !matches!(s, Ok(SignalEvent::Status))
}

impl EventSink for Console {
    fn handle(&mut self, event: &Event<'_>) {
        self.on_event(event);
    }

    fn backlogged(&self) -> bool {
        self.printer
            .as_ref()
            .is_some_and(|p| p.pending.load(Ordering::SeqCst) >= OUTPUT_BACKLOG)
    }

    fn drained(&self) -> Option<Receiver<()>> {
        self.printer.as_ref().map(|p| p.drained.clone())
    }

    fn wants_stdout(&self) -> bool {
        self.mode != OutputMode::None
    }
}

impl Drop for Console {
    /// Stops the printers without waiting for them (see [`Console::close`]).
    fn drop(&mut self) {
        *LINES.lock() = None;
    }
}

/// Writes to stderr on a helper thread and waits at most a second: stderr may be the very pipe
/// nobody reads.
fn write_bounded(bytes: Vec<u8>) {
    let (tx, rx) = crossbeam_channel::bounded::<()>(1);
    let spawned = std::thread::Builder::new().spawn(move || {
        write_stderr(&bytes);
        let _ = tx.send(());
    });
    if spawned.is_ok() {
        let _ = rx.recv_timeout(Duration::from_secs(1));
    }
}

/// Copies a job's output file to `to`, prefixing each line with `tag` if given.
fn copy_file(from: &Captured, tag: Option<&str>, to: &mut dyn Write) -> std::io::Result<()> {
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
