/*!
The printer threads — one for job output, one for batchrun's own lines — and the process-wide
state they share with log lines: the progress bar, and the lock that keeps one unit of output
from tearing another. Nothing here decides what to print; [`crate::output::console::Console`]
does.
*/

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use indicatif::ProgressBar;
use parking_lot::Mutex;

use crate::capture::Captured;
use crate::event::summary::RunSummary;
use crate::output::console::tag::copy_file;
use crate::util::text::plural;

/// How many job outputs may wait for the printer before the dispatcher stops starting jobs.
pub const OUTPUT_BACKLOG: usize = 64;

/// The progress bar, when one is shown; global so log lines can hide it while they print.
pub(crate) static BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// The queue of batchrun's own lines while a run is on, for [`LogWriter`] and [`eprint_line`].
pub(crate) static LINES: Mutex<Option<Sender<Vec<u8>>>> = Mutex::new(None);

/// Held while one unit — a job's output, or a line of batchrun's — is written, so that units
/// never tear each other.
pub(crate) static TERMINAL: Mutex<()> = Mutex::new(());

/// How long a line of batchrun's waits for a job's output to finish printing before it is
/// written anyway: stdout may be a pipe nobody reads, and notices must still get out.
const LINE_WAIT: Duration = Duration::from_millis(200);

/// The bar's message, read each time the bar is drawn (so the ETA beside it stays live).
pub(crate) static MESSAGE: Mutex<String> = Mutex::new(String::new());

/// Runs `f` with the progress bar (if any) hidden.
pub(crate) fn suspended<T>(f: impl FnOnce() -> T) -> T {
    let bar = BAR.lock().clone();
    match bar {
        Some(b) => b.suspend(f),
        None => f(),
    }
}

/// Writes bytes to stderr now, with the progress bar hidden.
pub(crate) fn write_stderr(bytes: &[u8]) {
    suspended(|| {
        let _ = std::io::stderr().write_all(bytes);
    });
}

/// Writes bytes to stderr through the line printer while a run is on, else at once.
pub(crate) fn queue_stderr(bytes: Vec<u8>) {
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

/// Prints a warning on stderr that `-q` does not hide, formatted as the log's warnings are:
/// `batchrun: TIME warn: MESSAGE`.
pub fn warn_always(msg: &str) {
    let time = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ");
    queue_stderr(format!("batchrun: {time} warn: {msg}\n").into_bytes());
}

/// Prints an error that ended batchrun, with every manifest problem first.
pub fn print_error(e: &crate::model::error::Error) {
    use crate::model::error::Error;
    match e {
        Error::Invalid { problems, .. } => {
            let text: String = problems.iter().map(|p| format!("{p}\n")).collect();
            queue_stderr(text.into_bytes());
        }
        Error::Usage(messages) => {
            for m in messages {
                eprint_line(m);
            }
            return;
        }
        _ => {}
    }
    eprint_line(&e.to_string());
}

/// Prints a run's summary on stderr, outside a run (`merge`).
pub fn print_summary(summary: &RunSummary, listing: &crate::output::text::Listing<'_>) {
    queue_stderr(crate::output::text::summary_text(summary, listing).into_bytes());
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
pub(crate) enum Print {
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
pub(crate) struct Printer {
    pub(crate) jobs: Sender<Print>,
    pub(crate) lines: Sender<Vec<u8>>,
    /// Job outputs queued and not yet printed.
    pub(crate) pending: Arc<AtomicUsize>,
    /// Gets a message when the job queue has drained below half the backlog.
    pub(crate) drained: Receiver<()>,
    /// Disconnect when the job printer, and the line printer, have ended.
    pub(crate) jobs_ended: Receiver<()>,
    pub(crate) lines_ended: Receiver<()>,
}

impl Printer {
    pub(crate) fn start() -> std::io::Result<Printer> {
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
pub(crate) fn print_job(
    out: &Captured,
    err: &Captured,
    tag: Option<&str>,
    stdout_broken: &mut bool,
) {
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

/// Writes to stderr on a helper thread and waits at most a second: stderr may be the very pipe
/// nobody reads.
pub(crate) fn write_bounded(bytes: Vec<u8>) {
    let (tx, rx) = crossbeam_channel::bounded::<()>(1);
    let spawned = std::thread::Builder::new().spawn(move || {
        write_stderr(&bytes);
        let _ = tx.send(());
    });
    if spawned.is_ok() {
        let _ = rx.recv_timeout(Duration::from_secs(1));
    }
}
