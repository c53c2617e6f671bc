/*!
`--events FILE|-`: every event of a run as one line of JSON (README's *For operators* has the
schema), written as it happens, for a dashboard, a log shipper or `jq`.

The dispatcher's thread only formats a line and hands it to a writer thread through a bounded
queue ([`BACKLOG`] lines); a line that finds the queue full is dropped and counted, so a reader
that is slow, stalled or absent never holds up the run. The writer writes each line with one
`write_all`, in order:

- a regular file is appended to (each run starts with `run_started`), created 0666 less the
  umask, like the joblog;
- a FIFO is opened without blocking; while no process has it open for reading, the lines wait
  in the queue and the writer tries again every [`REOPEN_EVERY`], so a reader that comes late
  still gets the start of the run; a reader that goes away (`EPIPE`) is waited for the same
  way; when the run ends with no reader, what is queued is dropped;
- `-` is batchrun's stdout (only with `--output none`: nothing else is written there).

When the run ends, the writer gets as long as it keeps making progress (a second at a time) to
write what is queued; what is still unwritten then is dropped. `run_finished` carries the lines
dropped before it, and batchrun warns on stderr with the total.
*/

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crossbeam_channel::{select, Receiver, RecvTimeoutError, Sender, TrySendError};
use serde::Serialize;

use crate::event::summary::RunSummary;
use crate::event::{Event, EventSink};
use crate::model::config::{EventsTarget, ReportFormat};
use crate::model::outcome::{Attempt, AttemptEnd, JobResult};
use crate::process::signals::SignalEvent;
use crate::util::text::rfc3339_millis;

/// Lines queued for the writer at most; more are dropped and counted.
pub const BACKLOG: usize = 4096;

/// How often the writer tries to open a FIFO nobody reads.
pub const REOPEN_EVERY: Duration = Duration::from_millis(100);

/// The event stream's `schema`.
const SCHEMA: u32 = 1;

/// What the writer thread and the sink share.
#[derive(Debug, Default)]
struct Counters {
    /// Lines written whole.
    written: AtomicU64,
    /// Lines the writer took from the queue but could not write (the reader went away).
    lost: AtomicU64,
}

/// How the stream ended: lines made and lines dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed {
    /// Lines made (one per event told).
    pub lines: u64,
    /// Lines that were not written.
    pub dropped: u64,
}

/// `--events` as a consumer of a run's events.
#[derive(Debug)]
pub struct EventsSink {
    /// `-` or the path, for messages.
    name: String,
    /// To the writer; `None` once closed.
    lines: Option<Sender<String>>,
    /// Dropped when the run ends: the writer stops waiting for a FIFO's reader.
    stop: Option<Sender<()>>,
    /// Disconnected when the writer thread ends.
    done: Receiver<()>,
    counters: Arc<Counters>,
    /// Lines made so far.
    made: u64,
    /// Lines refused by the full queue.
    refused: u64,
}

/// Opens a path for the stream without blocking: `ENXIO` is a FIFO with no reader. Writes
/// block again afterwards (on the writer thread only).
fn open_path(path: &std::path::Path) -> std::io::Result<File> {
    let f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    crate::util::sys::set_nonblocking(&f, false)?;
    Ok(f)
}

impl EventsSink {
    /// Opens the stream (before any job starts: an error is batchrun's, exit 3) and starts its
    /// writer thread.
    pub fn open(target: &EventsTarget) -> std::io::Result<EventsSink> {
        use std::os::fd::AsFd;
        let (name, file, fifo) = match target {
            EventsTarget::Stdout => {
                let fd = std::io::stdout().as_fd().try_clone_to_owned()?;
                ("-".to_string(), Some(File::from(fd)), None)
            }
            EventsTarget::Path(p) => match open_path(p) {
                Ok(f) => {
                    let is_fifo = f.metadata().is_ok_and(|m| {
                        use std::os::unix::fs::FileTypeExt;
                        m.file_type().is_fifo()
                    });
                    (p.display().to_string(), Some(f), is_fifo.then(|| p.clone()))
                }
                Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
                    (p.display().to_string(), None, Some(p.clone()))
                }
                Err(e) => return Err(e),
            },
        };
        let (tx, rx) = crossbeam_channel::bounded(BACKLOG);
        let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(0);
        let (done_tx, done) = crossbeam_channel::bounded::<()>(0);
        let counters = Arc::new(Counters::default());
        let c = Arc::clone(&counters);
        std::thread::Builder::new()
            .name("batchrun-events".into())
            .spawn(move || {
                let _done = done_tx;
                write_lines(&rx, &stop_rx, file, fifo, &c);
            })?;
        Ok(EventsSink {
            name,
            lines: Some(tx),
            stop: Some(stop_tx),
            done,
            counters,
            made: 0,
            refused: 0,
        })
    }

    /// Lines dropped so far.
    fn dropped(&self) -> u64 {
        self.refused + self.counters.lost.load(Ordering::SeqCst)
    }

    /// Queues a line, or drops it when the queue is full.
    fn push(&mut self, line: String) {
        self.made += 1;
        let Some(tx) = &self.lines else {
            self.refused += 1;
            return;
        };
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = tx.try_send(line) {
            self.refused += 1;
        }
    }

    /// The run is over: lets the writer write what is queued for as long as it makes progress
    /// (a stop signal ends the wait), then counts what was not written, and warns about it.
    pub fn close(&mut self, signals: &Receiver<SignalEvent>) -> Closed {
        self.lines = None;
        self.stop = None;
        let mut seen = self.counters.written.load(Ordering::SeqCst);
        loop {
            let tick = crossbeam_channel::after(Duration::from_secs(1));
            select! {
                recv(self.done) -> _ => break,
                recv(signals) -> s => if !matches!(s, Ok(SignalEvent::Status)) {
                    break;
                },
                recv(tick) -> _ => {
                    let now = self.counters.written.load(Ordering::SeqCst);
                    if now == seen {
                        break;
                    }
                    seen = now;
                }
            }
        }
        let written = self.counters.written.load(Ordering::SeqCst);
        let closed = Closed {
            lines: self.made,
            dropped: self.made.saturating_sub(written),
        };
        if closed.dropped > 0 {
            log::warn!(
                "--events {}: {} of {} lines could not be written (the reader was too slow, \
                 went away or never came)",
                self.name,
                closed.dropped,
                closed.lines
            );
        }
        closed
    }
}

/// The writer thread: each line written whole, in order (see the module's doc).
fn write_lines(
    rx: &Receiver<String>,
    stop: &Receiver<()>,
    mut file: Option<File>,
    fifo: Option<PathBuf>,
    counters: &Counters,
) {
    loop {
        if file.is_none() {
            let Some(path) = &fifo else { return };
            match open_path(path) {
                Ok(f) => file = Some(f),
                Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
                    match stop.recv_timeout(REOPEN_EVERY) {
                        Err(RecvTimeoutError::Timeout) | Ok(()) => continue,
                        // The run is over and nobody reads: the queue is dropped.
                        Err(RecvTimeoutError::Disconnected) => match open_path(path) {
                            Ok(f) => file = Some(f),
                            Err(_) => return,
                        },
                    }
                }
                Err(_) => return,
            }
        }
        let Ok(line) = rx.recv() else { return };
        let Some(f) = file.as_mut() else { return };
        match f.write_all(line.as_bytes()) {
            Ok(()) => {
                counters.written.fetch_add(1, Ordering::SeqCst);
            }
            Err(e) => {
                counters.lost.fetch_add(1, Ordering::SeqCst);
                // A FIFO's reader went away: wait for the next one. Anything else: stop.
                if e.kind() != std::io::ErrorKind::BrokenPipe || fifo.is_none() {
                    return;
                }
                file = None;
            }
        }
    }
}

/// One line of the stream, built field by field in order: `schema`, `time`, `event` first.
struct Line(Vec<u8>);

impl Line {
    fn new(event: &str, time: SystemTime) -> Line {
        let mut l = Line(Vec::with_capacity(256));
        l.0.push(b'{');
        l.field("schema", SCHEMA);
        l.field("time", rfc3339_millis(time));
        l.field("event", event);
        l
    }

    fn field(&mut self, key: &str, value: impl Serialize) -> &mut Line {
        if self.0.len() > 1 {
            self.0.push(b',');
        }
        // Serialising plain values and strings into memory cannot fail.
        let _ = serde_json::to_writer(&mut self.0, key);
        self.0.push(b':');
        let _ = serde_json::to_writer(&mut self.0, &value);
        self
    }

    fn finish(mut self) -> String {
        self.0.extend_from_slice(b"}\n");
        String::from_utf8(self.0).unwrap_or_default()
    }
}

/// A JSON object whose keys keep their order.
struct Ordered<'a>(Vec<(&'a str, usize)>);

impl Serialize for Ordered<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        ser.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

fn millis(d: Duration) -> u128 {
    d.as_millis()
}

/// The fields of an attempt, named as in the JSON report.
fn attempt_fields(l: &mut Line, a: &Attempt) {
    let (exit_code, signal) = match &a.end {
        AttemptEnd::Ended {
            exit_code, signal, ..
        } => (*exit_code, *signal),
        AttemptEnd::StartFailed { .. } => (None, None),
    };
    let usage = a.usage;
    l.field("exit_code", exit_code)
        .field("signal", signal)
        .field("started_at", rfc3339_millis(a.started_at))
        .field("duration_ms", millis(a.duration))
        .field("leaked_processes", a.leaked_processes)
        .field("max_rss_kib", usage.map(|u| u.max_rss_kib))
        .field("user_ms", usage.map(|u| millis(u.user)))
        .field("system_ms", usage.map(|u| millis(u.system)));
}

/// `job_finished`: a job's final result, named as in the JSON report's job.
fn job_line(id: &str, r: &JobResult) -> String {
    let mut l = Line::new("job_finished", SystemTime::now());
    let (exit_code, signal) = r.exit_and_signal();
    let a = r.last.as_ref();
    let usage = a.and_then(|a| a.usage);
    l.field("id", id)
        .field("status", r.status)
        .field("attempts", r.attempts)
        .field("exit_code", exit_code)
        .field("signal", signal)
        .field("started_at", a.map(|a| rfc3339_millis(a.started_at)))
        .field("duration_ms", a.map(|a| millis(a.duration)))
        .field("error", &r.error)
        .field("stderr_tail", &r.stderr_tail)
        .field("leaked_processes", a.map_or(0, |a| a.leaked_processes))
        .field("max_rss_kib", usage.map(|u| u.max_rss_kib))
        .field("user_ms", usage.map(|u| millis(u.user)))
        .field("system_ms", usage.map(|u| millis(u.system)));
    l.finish()
}

/// `stopping`: why the run stops, what happens to the running jobs, and how many run.
fn stopping(reason: &str, action: &str, running: Option<usize>) -> Line {
    let mut l = Line::new("stopping", SystemTime::now());
    l.field("reason", reason)
        .field("action", action)
        .field("running", running);
    l
}

/// The line an event makes, if it makes one.
fn line(event: &Event<'_>, dropped: u64) -> Option<String> {
    let now = SystemTime::now();
    Some(match event {
        Event::RunStarted {
            total,
            resumed,
            plan,
            workers,
        } => {
            let mut l = Line::new("run_started", now);
            l.field("batchrun_version", env!("CARGO_PKG_VERSION"))
                .field("pid", std::process::id())
                .field("manifest", &plan.manifest)
                .field("manifest_sha256", &plan.manifest_sha256)
                .field(
                    "shard",
                    plan.shard
                        .map(|s| serde_json::json!({"index": s.index, "count": s.count})),
                )
                .field("workers", workers)
                .field(
                    "counts",
                    Ordered(vec![
                        ("total", plan.jobs.len()),
                        ("to_run", *total),
                        ("resumed", *resumed),
                    ]),
                );
            l.finish()
        }
        Event::JobResumed { id, result } => job_line(id, result),
        Event::AttemptStarted {
            id,
            attempt,
            pid,
            at,
        } => {
            let mut l = Line::new("attempt_started", *at);
            l.field("id", id)
                .field("attempt", attempt)
                .field("pid", pid);
            l.finish()
        }
        Event::AttemptFinished {
            id,
            attempt,
            result,
        } => {
            let mut l = Line::new("attempt_finished", now);
            l.field("id", id)
                .field("attempt", attempt)
                .field("status", result.status())
                .field("error", result.error());
            attempt_fields(&mut l, result);
            l.finish()
        }
        Event::RetryScheduled {
            job,
            attempt,
            of,
            delay,
            ..
        } => {
            let mut l = Line::new("retry_scheduled", now);
            l.field("id", &job.id)
                .field("attempt", attempt)
                .field("max_attempts", of)
                .field("delay_ms", millis(*delay));
            l.finish()
        }
        Event::JobFinished { id, result, .. } => job_line(id, result),
        Event::RunFinished { summary, reports } => finished_line(summary, reports, dropped),
        _ => return stop_line(event),
    })
}

/// `run_finished`: the outcome, the counts, the reports, the lines dropped before it.
fn finished_line(s: &RunSummary, reports: &[(PathBuf, ReportFormat)], dropped: u64) -> String {
    let counts = Ordered(
        std::iter::once(("total", s.results.len()))
            .chain(s.counts().into_iter().map(|(st, n)| (st.as_str(), n)))
            .collect(),
    );
    let mut l = Line::new("run_finished", SystemTime::now());
    l.field("outcome", s.outcome)
        .field("exit_code", s.exit_code)
        .field("started_at", rfc3339_millis(s.started_at))
        .field("finished_at", rfc3339_millis(s.finished_at))
        .field("duration_ms", millis(s.duration))
        .field("counts", counts)
        .field("errors", &s.internal_errors)
        .field(
            "reports",
            reports
                .iter()
                .map(|(p, _)| p.display().to_string())
                .collect::<Vec<_>>(),
        )
        .field("dropped", dropped);
    l.finish()
}

/// The `stopping` line of a stop.
fn stop_line(event: &Event<'_>) -> Option<String> {
    Some(match event {
        Event::Draining { running, signal } => {
            let mut l = stopping("signal", "drain", Some(*running));
            l.field("signal", signal.number());
            l.finish()
        }
        Event::Terminating {
            running,
            grace,
            signal,
        } => {
            let mut l = stopping("second_signal", "terminate", Some(*running));
            l.field("signal", signal.number())
                .field("grace_ms", millis(*grace));
            l.finish()
        }
        Event::Halted {
            failures,
            limit,
            running,
        } => {
            let reason = if *limit == 1 {
                "fail_fast"
            } else {
                "max_failures"
            };
            let mut l = stopping(reason, "terminate", Some(*running));
            l.field("failures", failures).field("limit", limit);
            l.finish()
        }
        Event::DeadlineReached { running } => {
            stopping("deadline", "terminate", Some(*running)).finish()
        }
        Event::InternalError { message, running } => {
            let mut l = stopping("internal", "terminate", Some(*running));
            l.field("error", message);
            l.finish()
        }
        _ => return None,
    })
}

impl EventSink for EventsSink {
    fn handle(&mut self, event: &Event<'_>) {
        if let Some(l) = line(event, self.dropped()) {
            self.push(l);
        }
    }
}

/// Every status as the stream writes it (the report's names).
#[cfg(test)]
fn status_names() -> Vec<String> {
    crate::model::outcome::Status::ALL
        .iter()
        .map(|s| serde_json::to_string(s).unwrap())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_start_with_schema_time_and_event() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_000_000_250);
        let mut l = Line::new("attempt_started", t);
        l.field("id", "a\"b").field("pid", 42);
        assert_eq!(
            l.finish(),
            "{\"schema\":1,\"time\":\"2026-11-18T11:06:40.250Z\",\"event\":\"attempt_started\",\"id\":\"a\\\"b\",\"pid\":42}\n"
        );
        assert!(status_names().contains(&"\"not_started\"".to_string()));
    }

    #[test]
    fn a_fifo_nobody_reads_drops_and_counts() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("events.fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: plain system call on a valid C string.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let mut sink = EventsSink::open(&EventsTarget::Path(fifo)).unwrap();
        for _ in 0..BACKLOG + 10 {
            sink.push("{}\n".into());
        }
        assert_eq!(sink.dropped(), 10);
        let (_tx, signals) = crossbeam_channel::unbounded();
        let closed = sink.close(&signals);
        assert_eq!(closed.lines, BACKLOG as u64 + 10);
        assert_eq!(closed.dropped, BACKLOG as u64 + 10);
    }
}
