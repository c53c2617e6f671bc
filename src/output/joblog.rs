/*!
The joblog: one CSV line per finished job, appended and written to the kernel the moment the
job ends, so a `kill -9` of batchrun loses nothing that had finished; and its reading side for
`--resume`.

Header: `id,status,attempts,exit_code,signal,started_at,duration_ms,command_hash`.

`command_hash` is the first 16 hex digits of a SHA-256 over everything that defines what the
job does: the shell flag, the resolved argv or shell string, the working directory and the
extra environment, each length-prefixed. The same row gives the same hash on every run and
machine.
*/

use std::fs::{File, OpenOptions};
use std::hash::BuildHasher;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::event::{Event, EventSink};
use crate::model::error::Error;
use crate::model::job::JobSpec;
use crate::model::outcome::{JobResult, Status};

/// The joblog's header line.
pub const HEADER: &str = "id,status,attempts,exit_code,signal,started_at,duration_ms,command_hash";

/// A joblog failure.
#[derive(Debug, thiserror::Error)]
#[error("joblog {}: {source}", path.display())]
pub struct JoblogError {
    /// The joblog's path.
    pub path: PathBuf,
    /// What went wrong.
    #[source]
    pub source: std::io::Error,
}

impl From<JoblogError> for Error {
    fn from(e: JoblogError) -> Error {
        Error::Output {
            what: "joblog",
            path: e.path,
            source: e.source,
        }
    }
}

/// The joblog as a consumer of a run's events: a line for each job that gets its final result.
/// The lines of one moment (a job that ended and the dependents it settled; every job a stop
/// settled) go out in one `write` when the engine flushes, or as soon as [`HELD_BYTES`] are
/// held. A line that cannot be written is the run's failure, told once; nothing more is
/// written.
#[derive(Debug)]
pub(crate) struct JoblogSink {
    log: Option<Joblog>,
    /// Lines not written yet.
    held: Vec<u8>,
    failure: Option<String>,
}

/// At most this many bytes of lines are held before they are written.
pub(crate) const HELD_BYTES: usize = 256 * 1024;

impl JoblogSink {
    /// Lines go to `log`.
    pub(crate) fn new(log: Joblog) -> Self {
        JoblogSink {
            log: Some(log),
            held: Vec::new(),
            failure: None,
        }
    }

    fn write_held(&mut self) {
        let Some(log) = self.log.as_mut() else {
            return;
        };
        if let Err(e) = log.write_lines(&self.held) {
            self.failure = Some(e.to_string());
            self.log = None;
        }
        self.held.clear();
    }
}

impl EventSink for JoblogSink {
    fn handle(&mut self, event: &Event<'_>) {
        let (
            Event::JobFinished {
                id, result, key, ..
            },
            Some(_),
        ) = (event, self.log.as_ref())
        else {
            return;
        };
        // The engine gives the key to a sink that wants it.
        let key = key.expect("a command key for the joblog");
        Joblog::line_with_key(id, result, key, &mut self.held);
        if self.held.len() >= HELD_BYTES {
            self.write_held();
        }
    }

    fn take_failure(&mut self) -> Option<String> {
        self.failure.take()
    }

    fn wants_command_keys(&self) -> bool {
        true
    }

    fn flush(&mut self) {
        if !self.held.is_empty() {
            self.write_held();
        }
    }
}

pub use crate::model::job::command_key;

/// [`command_key`] as the joblog writes it: 16 hex digits.
pub fn command_hash(job: &JobSpec) -> String {
    format!("{:016x}", command_key(job))
}

/// Adds `field` to a CSV line as the `csv` crate writes it: quoted (with quotes doubled) only
/// when it holds a comma, a quote or a line end.
fn csv_field(out: &mut Vec<u8>, field: &str) {
    if !field
        .bytes()
        .any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
    {
        return out.extend_from_slice(field.as_bytes());
    }
    out.push(b'"');
    for b in field.bytes() {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// An open joblog, appending.
#[derive(Debug)]
pub struct Joblog {
    path: PathBuf,
    file: File,
}

impl Joblog {
    /// Opens (creating) the joblog for appending; writes the header to an empty file, and
    /// ends a torn last line so the next line starts clean.
    pub fn open(path: &Path) -> Result<Joblog, JoblogError> {
        let err = |source| JoblogError {
            path: path.to_path_buf(),
            source,
        };
        // A link planted in a shared directory is never followed.
        let mut file = crate::util::fs::open_no_planted_link(path, |p| {
            OpenOptions::new()
                .read(true)
                .append(true)
                .create(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(p)
        })
        .map_err(err)?;
        let len = file.metadata().map_err(err)?.len();
        if len == 0 {
            file.write_all(format!("{HEADER}\n").as_bytes())
                .map_err(err)?;
        } else {
            let mut last = [0u8];
            file.seek(SeekFrom::End(-1)).map_err(err)?;
            file.read_exact(&mut last).map_err(err)?;
            if last[0] != b'\n' {
                file.write_all(b"\n").map_err(err)?;
            }
        }
        Ok(Joblog {
            path: path.to_path_buf(),
            file,
        })
    }

    /// Appends one job's line with a single `write`.
    #[cfg(test)]
    pub fn append(&mut self, job: &JobSpec, r: &JobResult) -> Result<(), JoblogError> {
        let mut line = Vec::with_capacity(128);
        Joblog::line(job, r, &mut line);
        self.write_lines(&line)
    }

    /// Adds one job's line to `out`.
    #[cfg(test)]
    pub fn line(job: &JobSpec, r: &JobResult, out: &mut Vec<u8>) {
        Joblog::line_with_key(&job.id, r, command_key(job), out);
    }

    /// Adds one job's line to `out`, its [`command_key`] given (computed where the job was
    /// built: for a stop's not-started jobs, on the threads that rebuild them). Built by hand:
    /// this runs for every job, a million of them when a big run is stopped.
    pub fn line_with_key(id: &str, r: &JobResult, key: u64, out: &mut Vec<u8>) {
        let last = r.last.as_ref();
        let (exit_code, signal) = r.exit_and_signal();
        let number = |out: &mut Vec<u8>, v: Option<i64>| {
            if let Some(v) = v {
                let _ = std::io::Write::write_fmt(out, format_args!("{v}"));
            }
            out.push(b',');
        };
        csv_field(out, id);
        out.push(b',');
        out.extend_from_slice(r.status.as_str().as_bytes());
        out.push(b',');
        number(out, Some(i64::from(r.attempts)));
        number(out, exit_code.map(i64::from));
        number(out, signal.map(i64::from));
        if let Some(a) = last {
            out.extend_from_slice(crate::util::text::rfc3339(a.started_at).as_bytes());
        }
        out.push(b',');
        number(out, last.map(|a| a.duration.as_millis() as i64));
        // command_hash(job), without a String for each line.
        out.extend(
            (0..16)
                .rev()
                .map(|k| b"0123456789abcdef"[(key >> (4 * k)) as usize & 15]),
        );
        out.push(b'\n');
    }

    /// Writes whole lines with a single `write`.
    pub fn write_lines(&mut self, lines: &[u8]) -> Result<(), JoblogError> {
        self.file.write_all(lines).map_err(|source| JoblogError {
            path: self.path.clone(),
            source,
        })
    }
}

/// What an earlier joblog says, for `--resume` (see [`crate::app::resume`]): per id (or per
/// command, when ids are row numbers) only two numbers are kept, so a million-line joblog
/// takes tens of MiB, not hundreds.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// For each id (hashed), the command key of its last line, when that line is a success.
    by_id: hashbrown::HashMap<u64, u64>,
    /// For each command key, how many successes it has since its last line that is not a
    /// success (a command with none is not kept).
    by_key: hashbrown::HashMap<u64, usize>,
    /// Hashes ids (seeded per process: both sides of a lookup hash in this process).
    ids: hashbrown::DefaultHashBuilder,
    /// Jobs are matched by command alone (their ids are row numbers): `by_id` is not kept.
    by_command: bool,
}

impl History {
    /// Takes one joblog line into account, in file order: its id, whether it is a success, and
    /// its command hash as written (16 hex digits).
    pub fn record(&mut self, id: &str, success: bool, hash: &str) {
        let key = self.key_of(hash);
        if self.by_command {
            // A command with no success left is not kept: after a stop, most lines are of
            // jobs not started, and a million of them would take a million entries.
            if success {
                *self.by_key.entry(key).or_default() += 1;
            } else {
                self.by_key.remove(&key);
            }
            return;
        }
        let id = self.ids.hash_one(id);
        if success {
            self.by_id.insert(id, key);
        } else {
            self.by_id.remove(&id);
        }
    }

    /// The command key a joblog's hash text stands for (any other text: a key no job has, but
    /// the same for the same text).
    fn key_of(&self, hash: &str) -> u64 {
        match u64::from_str_radix(hash, 16) {
            Ok(k) if hash.len() == 16 => k,
            _ => self.ids.hash_one(("not a command hash", hash)),
        }
    }

    /// The command key of `id`'s last line, when that line is a success.
    pub fn succeeded(&self, id: &str) -> Option<u64> {
        self.by_id.get(&self.ids.hash_one(id)).copied()
    }

    /// For each command key, how many successes it has left to give, each taken once (the
    /// history is used up: no copy of a million-entry map).
    pub fn into_successes(self) -> hashbrown::HashMap<u64, usize> {
        self.by_key
    }

    /// How many ids have a success as their last line.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// An empty history, matching jobs by id and command, or by command alone.
    pub fn new(by_command: bool) -> History {
        History {
            by_command,
            ..History::default()
        }
    }

    /// Whether the joblog had no line to tell.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty() && self.by_key.is_empty()
    }
}

/// Reads an earlier joblog (a missing one is empty). Lines that cannot be read (a torn last
/// line) are skipped with a warning. The file is streamed (a million-line joblog is tens of
/// MB), each line read into one reused record.
pub fn read_history(path: &Path, by_command: bool) -> Result<History, JoblogError> {
    let err = |source| JoblogError {
        path: path.to_path_buf(),
        source,
    };
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(History::new(by_command)),
        Err(source) => return Err(err(source)),
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .buffer_capacity(64 * 1024)
        .from_reader(file);
    let mut history = History::new(by_command);
    let mut line = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut line) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) if e.is_io_error() => return Err(err(std::io::Error::from(e))),
            Err(e) => {
                log::warn!("{}: unreadable joblog line skipped: {e}", path.display());
                continue;
            }
        }
        let pos = line.position().map_or(0, |p| p.line());
        // A header line (the first, or one of a joblog appended to another) is the whole
        // header, not any line whose id is `id`: a job may be called that.
        if line.len() != 8 || line.iter().eq(HEADER.split(',')) {
            if line.len() != 8 {
                log::warn!(
                    "{}:{pos}: torn or malformed joblog line skipped ({} fields, expected 8)",
                    path.display(),
                    line.len()
                );
            }
            continue;
        }
        let success =
            line[1] == *Status::Succeeded.as_str() || line[1] == *Status::Resumed.as_str();
        history.record(&line[0], success, &line[7]);
    }
    Ok(history)
}

/// One line of a joblog, as `merge --joblog` reads it: the fields as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// The job's id.
    pub id: String,
    /// Its status name (`succeeded`, `failed`, …).
    pub status: String,
    /// Attempts made.
    pub attempts: u32,
    /// The last attempt's exit code.
    pub exit_code: Option<i32>,
    /// The signal that killed the last attempt.
    pub signal: Option<i32>,
    /// When the last attempt started (RFC 3339), empty when none did.
    pub started_at: String,
    /// How long the last attempt ran.
    pub duration_ms: Option<u64>,
    /// [`command_hash`] of the job as it ran.
    pub command_hash: String,
}

/// An empty field as `None`; `None` outside when the field is not a number.
fn optional<T: std::str::FromStr>(field: &str) -> Option<Option<T>> {
    if field.is_empty() {
        Some(None)
    } else {
        field.parse().ok().map(Some)
    }
}

/// Reads every line of a joblog, in file order (later lines of an id supersede earlier ones).
/// A file whose first line is not [`HEADER`] is refused; torn or malformed lines (a shard
/// killed mid-write) are skipped and counted in the second value.
pub fn read_lines(path: &Path) -> Result<(Vec<LogLine>, usize), String> {
    let name = path.display();
    let bytes = std::fs::read(path).map_err(|e| format!("{name}: cannot read: {e}"))?;
    if !bytes.starts_with(HEADER.as_bytes()) {
        return Err(format!(
            "{name}: not a batchrun joblog (expected the header {HEADER})"
        ));
    }
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .from_reader(bytes.as_slice());
    let (mut lines, mut skipped) = (Vec::new(), 0);
    for rec in reader.records() {
        let Ok(l) = rec else {
            skipped += 1;
            continue;
        };
        let parsed = (l.len() == 8 && l[0] != *"id")
            .then(|| {
                Some(LogLine {
                    id: l[0].to_string(),
                    status: l[1].to_string(),
                    attempts: l[2].parse().ok()?,
                    exit_code: optional(&l[3])?,
                    signal: optional(&l[4])?,
                    started_at: l[5].to_string(),
                    duration_ms: optional(&l[6])?,
                    command_hash: l[7].to_string(),
                })
            })
            .flatten();
        match parsed {
            Some(line) => lines.push(line),
            None => skipped += 1,
        }
    }
    Ok((lines, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_back_as_csv_whatever_the_id() {
        for id in ["plain", "a,b", "say \"hi\"", "two\nlines", "cr\r", ""] {
            let mut j = crate::store::jobs::for_tests(&[("x", "true")]).get(0);
            j.id = id.to_string();
            let mut line = Vec::new();
            Joblog::line(
                &j,
                &JobResult::without_attempt(Status::Skipped, "x"),
                &mut line,
            );
            let mut rd = csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(&line[..]);
            let rec = rd.records().next().unwrap().unwrap();
            assert_eq!(rec.len(), 8, "{id:?}: {}", String::from_utf8_lossy(&line));
            assert_eq!(&rec[0], id);
            assert_eq!(&rec[1], "skipped");
            assert_eq!(&rec[7], command_hash(&j));
            assert_eq!(command_hash(&j).len(), 16);
        }
    }
    use crate::manifest::parse;
    use crate::model::config::ManifestOptions;

    fn job(text: &str) -> JobSpec {
        parse("m.csv", text.as_bytes(), false, &ManifestOptions::default())
            .unwrap()
            .jobs
            .get(0)
    }

    #[test]
    fn hash_is_stable_and_sensitive() {
        let a = job("id,command\na,echo 'x y'\n");
        assert_eq!(
            command_hash(&a),
            command_hash(&job("id,command\nb,echo \"x y\"\n"))
        );
        assert_ne!(
            command_hash(&a),
            command_hash(&job("id,command\na,echo x y\n"))
        );
        assert_ne!(
            command_hash(&a),
            command_hash(&job("id,command,env\na,echo 'x y',K=v\n"))
        );
        // A fixed value: the hash must not change between versions or machines.
        assert_eq!(command_hash(&job("id,command\na,true\n")).len(), 16);
        assert_eq!(
            command_hash(&job("id,command\na,true\n")),
            "8f806d290893edf9"
        );
    }

    #[test]
    fn torn_lines_are_skipped_and_later_lines_count() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log.csv");
        std::fs::write(
            &p,
            format!("{HEADER}\na,succeeded,1,0,,2026-01-01T00:00:00Z,5,h1\nb,failed,1,1,,x,5,h2\nc,succ"),
        )
        .unwrap();
        let ok = read_history(&p, false).unwrap();
        assert_eq!(ok.len(), 1);
        assert_eq!(ok.succeeded("a"), Some(ok.key_of("h1")));
        // Reopening ends the torn line first.
        let mut log = Joblog::open(&p).unwrap();
        let j = job("id,command\nd,true\n");
        log.append(&j, &JobResult::without_attempt(Status::Skipped, "x"))
            .unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(
            text.ends_with("\nc,succ\nd,skipped,0,,,,,8f806d290893edf9\n")
                || text.contains("\nd,skipped,0,,,,,"),
            "{text}"
        );
    }
}
