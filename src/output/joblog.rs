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

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::event::{Event, EventSink};
use crate::model::error::Error;
use crate::model::job::{CommandLine, JobSpec};
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
/// A line that cannot be written is the run's failure, told once; nothing more is written.
#[derive(Debug)]
pub(crate) struct JoblogSink {
    log: Option<Joblog>,
    failure: Option<String>,
}

impl JoblogSink {
    /// Lines go to `log`.
    pub(crate) fn new(log: Joblog) -> Self {
        JoblogSink {
            log: Some(log),
            failure: None,
        }
    }
}

impl EventSink for JoblogSink {
    fn handle(&mut self, event: &Event<'_>) {
        let (Event::JobFinished { job, result }, Some(log)) = (event, self.log.as_mut()) else {
            return;
        };
        if let Err(e) = log.append(job, result) {
            self.failure = Some(e.to_string());
            self.log = None;
        }
    }

    fn take_failure(&mut self) -> Option<String> {
        self.failure.take()
    }
}

/// The stable hash of what a job does.
pub fn command_hash(job: &JobSpec) -> String {
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    match &job.command {
        CommandLine::Direct(words) => {
            field(b"direct");
            field(&(words.len() as u64).to_le_bytes());
            for w in words {
                field(w.as_bytes());
            }
        }
        CommandLine::Shell(s) => {
            field(b"shell");
            field(s.as_bytes());
        }
    }
    match &job.cwd {
        Some(dir) => field(dir.as_os_str().as_encoded_bytes()),
        None => field(b"\0no-cwd"),
    }
    field(&(job.env.len() as u64).to_le_bytes());
    for (k, v) in &job.env {
        field(k.as_bytes());
        field(v.as_bytes());
    }
    let digest = h.finalize();
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
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
    pub fn append(&mut self, job: &JobSpec, r: &JobResult) -> Result<(), JoblogError> {
        let last = r.last.as_ref();
        let (exit_code, signal) = r.exit_and_signal();
        let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
        let mut w = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(Vec::with_capacity(128));
        let record = [
            job.id.clone(),
            r.status.as_str().to_string(),
            r.attempts.to_string(),
            opt(exit_code.map(i64::from)),
            opt(signal.map(i64::from)),
            last.map(|a| crate::util::text::rfc3339(a.started_at))
                .unwrap_or_default(),
            opt(last.map(|a| a.duration.as_millis() as i64)),
            command_hash(job),
        ];
        let line = w
            .write_record(&record)
            .and_then(|_| w.into_inner().map_err(|e| e.into_error().into()))
            .map_err(|e| JoblogError {
                path: self.path.clone(),
                source: std::io::Error::other(e),
            })?;
        self.file.write_all(&line).map_err(|source| JoblogError {
            path: self.path.clone(),
            source,
        })
    }
}

/// What an earlier joblog says, for `--resume` (see [`crate::app::resume`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    /// For each id, the command hash of its last line, when that line is a success.
    pub by_id: HashMap<String, String>,
    /// For each command hash, how many successes it has since its last line that is not a
    /// success.
    pub by_hash: HashMap<String, usize>,
}

impl History {
    /// Takes one joblog line into account, in file order.
    pub fn record(&mut self, id: &str, success: bool, hash: &str) {
        if success {
            self.by_id.insert(id.to_string(), hash.to_string());
            *self.by_hash.entry(hash.to_string()).or_default() += 1;
        } else {
            self.by_id.remove(id);
            self.by_hash.insert(hash.to_string(), 0);
        }
    }
}

/// Reads an earlier joblog (a missing one is empty). Lines that cannot be read (a torn last
/// line) are skipped with a warning.
pub fn read_history(path: &Path) -> Result<History, JoblogError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(History::default()),
        Err(source) => {
            return Err(JoblogError {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .from_reader(bytes.as_slice());
    let mut history = History::default();
    for rec in reader.records() {
        let line = match rec {
            Ok(r) => r,
            Err(e) => {
                log::warn!("{}: unreadable joblog line skipped: {e}", path.display());
                continue;
            }
        };
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

#[cfg(test)]
mod tests {
    use super::*;
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
        let ok = read_history(&p).unwrap().by_id;
        assert_eq!(ok.len(), 1);
        assert_eq!(ok["a"], "h1");
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
