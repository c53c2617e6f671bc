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
pub(crate) mod printer;
pub(crate) mod progress;
pub(crate) mod tag;

use std::io::IsTerminal;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam_channel::{select, Receiver};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::capture::Captured;
use crate::event::summary::RunSummary;
use crate::event::{Event, EventSink};
use crate::model::config::OutputMode;
use crate::model::job::JobSpec;
use crate::model::outcome::Attempt;
use crate::output::console::keep_order::{Kept, OrderedOutput};
pub use crate::output::console::printer::{
    eprint_line, print_error, print_summary, stream_stdout, warn_always, would_be_resumed,
    write_stdout, LogWriter, OUTPUT_BACKLOG,
};
use crate::output::console::printer::{
    print_job, write_bounded, Print, Printer, BAR, LINES, MESSAGE,
};
use crate::output::text;
use crate::process::signals::SignalEvent;

/// How often a plain progress line is printed when progress is asked for without a terminal.
const PLAIN_PROGRESS_EVERY: Duration = Duration::from_secs(1);

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
    /// `--keep-order`: how many open files the held output takes, and may take.
    held: HeldFiles,
    /// Jobs whose attempt failed and that wait for (or run) another one.
    retrying: std::collections::HashSet<String>,
    /// Heartbeat lines are printed (stderr is not a terminal: a terminal has the bar).
    beats: bool,
    /// `--max-listed`: failures listed in the summary; under `-q`, also the failing jobs
    /// whose output is printed.
    max_listed: usize,
    /// Where every failure is listed (the JSON report, else the joblog).
    see: Option<std::path::PathBuf>,
    /// Under `-q`: the jobs whose failing output was printed (so the summary does not repeat
    /// their stderr tail), at most `max_listed`.
    shown: std::collections::HashSet<usize>,
    /// Under `-q`: failing jobs' output was left out, past `max_listed` (said once).
    left_out: bool,
}

/// `--keep-order`'s account of the open files its held output takes.
#[derive(Debug, Default)]
struct HeldFiles {
    /// Open files held now.
    files: usize,
    /// Jobs' attempts held now.
    jobs: usize,
    /// At most this many files are held.
    budget: usize,
    /// The user was told that output is printed out of order (once per run).
    warned: bool,
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
            held: HeldFiles::default(),
            retrying: Default::default(),
            beats: !std::io::stderr().is_terminal(),
            max_listed: usize::MAX,
            see: None,
            shown: Default::default(),
            left_out: false,
        }
    }

    /// `--max-listed`: the summary lists at most `max` failures and names `see` (the JSON
    /// report, else the joblog) for the others; under `-q`, at most `max` failing jobs' output
    /// is printed.
    pub fn list_at_most(&mut self, max: usize, see: Option<std::path::PathBuf>) {
        self.max_listed = max;
        self.see = see;
    }

    /// `--keep-order`: job output is printed in manifest order. `resumed` marks the jobs
    /// (by index) that will not run.
    /// `max_files`: how many capture files the held output may keep open; beyond that, output
    /// is printed out of order (with a warning) rather than starve jobs of descriptors.
    pub fn keep_order(&mut self, resumed: &[bool], max_files: usize) {
        if self.mode != OutputMode::None {
            self.order = Some(OrderedOutput::new(resumed));
            self.held.budget = max_files;
        }
    }

    /// Turns one event into text (or nothing).
    fn on_event(&mut self, event: &Event<'_>) {
        if let Event::Status { full: false, .. } = event {
            if !self.beats {
                return;
            }
        }
        if let Some(line) = text::notice(event) {
            return self.notice(&line);
        }
        match event {
            Event::RunStarted { total, .. } => self.start(*total),
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
                // Under -q only failures are printed: the first `max_listed` of them.
                if self.quiet && !self.quiet_may_print(job.index) {
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
            Event::JobFinished {
                id, index, result, ..
            } => {
                if let Some(kept) = self.order.as_mut().map(|o| o.finished(*index)) {
                    self.print_kept(kept);
                }
                self.job_finished(id, result);
            }
            Event::InternalError { message, .. } => log::error!("{message}"),
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
            // Said by `text::notice`, or nothing to say.
            _ => {}
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
        if self.order.as_ref().is_none_or(|o| o.may_print(job.index)) {
            return self.print_job(out, err, tag);
        }
        let kept = match Kept::new(tag, out, err) {
            Ok(kept) => kept,
            Err((e, kept)) => {
                log::warn!(
                    "{}: cannot keep the output for later ({e}); printing it out of order",
                    job.id
                );
                return self.print_job(kept.out, kept.err, kept.tag);
            }
        };
        let files = kept.files();
        if self.held.files + files > self.held.budget {
            if !self.held.warned {
                self.held.warned = true;
                log::warn!(
                    "{}: the output of {} jobs is held for --keep-order, as many open files as the open-file limit leaves room for; printing this job's output (and any other such) out of order",
                    job.id,
                    self.held.jobs
                );
            }
            return self.print_job(kept.out, kept.err, kept.tag);
        }
        self.held.files += files;
        self.held.jobs += 1;
        if let Some(order) = self.order.as_mut() {
            order.hold(job.index, kept);
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
            self.held.files = self.held.files.saturating_sub(k.files());
            self.held.jobs = self.held.jobs.saturating_sub(1);
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
        // Most runs retry nothing: no hashing of every id for an empty map.
        if !self.retrying.is_empty() {
            self.retrying.remove(id);
        }
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

    /// Under `-q`: whether a failing job's output may be printed (the first `max_listed`
    /// failing jobs' may); says once that the others' is not.
    fn quiet_may_print(&mut self, index: usize) -> bool {
        if self.shown.contains(&index) || self.shown.len() < self.max_listed {
            self.shown.insert(index);
            return true;
        }
        if !self.left_out {
            self.left_out = true;
            let see = self
                .see
                .as_ref()
                .map(|p| format!(": see {}", p.display()))
                .unwrap_or_default();
            self.notice(&format!(
                "more than {} failed: the output of the others is not printed (-q, --max-listed {}){see}",
                crate::util::text::plural(self.max_listed, "job"),
                self.max_listed
            ));
        }
        false
    }

    /// The summary at the end of a run, however it ended: the progress bar is cleared first,
    /// so no stale bar is left above it.
    fn summary(&mut self, summary: &RunSummary) {
        if let Some(bar) = BAR.lock().take() {
            bar.finish_and_clear();
        }
        let shown = &self.shown;
        let listing = text::Listing {
            max: self.max_listed,
            see: self.see.as_deref(),
            tail_shown: &|i| shown.contains(&i),
        };
        let text = text::summary_text(summary, &listing);
        self.stderr(text.into_bytes());
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
