//! One job as it runs: its command line and settings, resolved from its row.

use std::path::PathBuf;
use std::time::Duration;

/// How a job's command is run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandLine {
    /// Split into words with POSIX shell quoting and executed directly.
    Direct(Vec<String>),
    /// Given whole to `/bin/sh -c`.
    Shell(String),
}

impl CommandLine {
    /// The command as a person would type it (direct commands re-quoted).
    pub fn display(&self) -> String {
        match self {
            CommandLine::Direct(words) => shell_words::join(words),
            CommandLine::Shell(s) => s.clone(),
        }
    }

    /// Writes [`CommandLine::display`] to `w` without building it whole.
    pub fn write_display(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        match self {
            CommandLine::Direct(words) => {
                for (k, word) in words.iter().enumerate() {
                    if k > 0 {
                        w.write_all(b" ")?;
                    }
                    w.write_all(shell_words::quote(word).as_bytes())?;
                }
                Ok(())
            }
            CommandLine::Shell(s) => w.write_all(s.as_bytes()),
        }
    }

    /// Whether it is empty (no word, or only blanks for the shell).
    pub(crate) fn is_empty(&self) -> bool {
        match self {
            CommandLine::Direct(words) => words.is_empty(),
            CommandLine::Shell(s) => s.trim().is_empty(),
        }
    }

    /// Whether an argument (or the shell string) holds a NUL byte.
    pub(crate) fn has_nul(&self) -> bool {
        match self {
            CommandLine::Direct(words) => words.iter().any(|w| w.contains('\0')),
            CommandLine::Shell(s) => s.contains('\0'),
        }
    }
}

/// One fully resolved job: placeholders substituted, defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSpec {
    /// Position among the data rows, 0-based; the manifest order.
    pub index: usize,
    /// Line the row starts on, 1-based (with `--null`, the item's number).
    pub line: u64,
    /// The unique job name.
    pub id: String,
    /// What to run.
    pub command: CommandLine,
    /// Time limit for one attempt.
    pub timeout: Option<Duration>,
    /// Extra attempts after a failure or timeout.
    pub retries: u32,
    /// `retry_on` / `--retry-on`: the failures that are retried (`None`: every one).
    pub retry_on: Option<crate::model::retry::RetryOn>,
    /// Ids that must succeed first (checked in [`crate::plan`]).
    pub after: Vec<String>,
    /// Concurrency group.
    pub group: Option<String>,
    /// Working directory.
    pub cwd: Option<PathBuf>,
    /// Extra environment.
    pub env: Vec<(String, String)>,
}

/// The stable hash of what a job does, as 64 bits: the first 8 bytes of a SHA-256 over its
/// command, working directory and environment, each length-prefixed (the joblog's
/// `command_hash`, see [`crate::output::joblog`]). Here, below the engine, so the threads that
/// rebuild jobs can compute it too.
pub fn command_key(job: &JobSpec) -> u64 {
    let mut h = match &job.command {
        CommandLine::Direct(words) => {
            let mut h = KeyHasher::direct(words.len());
            for w in words {
                h.field(w.as_bytes());
            }
            h
        }
        CommandLine::Shell(s) => {
            let mut h = KeyHasher(sha2::Sha256::default());
            h.field(b"shell");
            h.field(s.as_bytes());
            h
        }
    };
    match &job.cwd {
        Some(dir) => h.field(dir.as_os_str().as_encoded_bytes()),
        None => h.field(NO_CWD),
    }
    h.field(&(job.env.len() as u64).to_le_bytes());
    for (k, v) in &job.env {
        h.field(k.as_bytes());
        h.field(v.as_bytes());
    }
    h.finish()
}

/// What [`command_key`] hashes for a job without a working directory.
const NO_CWD: &[u8] = b"\0no-cwd";

/// [`command_key`] made field by field, for a job whose command is known without its
/// [`JobSpec`] (a plain list's job: its template's words filled straight in): the same bytes
/// in the same order give the same key.
#[derive(Debug, Clone)]
pub struct KeyHasher(sha2::Sha256);

impl KeyHasher {
    /// The key of a direct command of `words` words, which [`field`](Self::field) gives next.
    pub fn direct(words: usize) -> KeyHasher {
        let mut h = KeyHasher(sha2::Sha256::default());
        h.field(b"direct");
        h.field(&(words as u64).to_le_bytes());
        h
    }

    /// Adds one field, length-prefixed.
    pub fn field(&mut self, bytes: &[u8]) {
        use sha2::Digest;
        self.0.update((bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
    }

    /// The key of a job with no working directory and no extra environment, its command given.
    pub fn finish_plain(mut self) -> u64 {
        self.field(NO_CWD);
        self.field(&0u64.to_le_bytes());
        self.finish()
    }

    fn finish(self) -> u64 {
        use sha2::Digest;
        let digest = self.0.finalize();
        u64::from_be_bytes(digest[..8].try_into().expect("SHA-256 has 32 bytes"))
    }
}

/// The longest command shown in the plan table, in characters; a longer one is cut.
pub(crate) const TABLE_COMMAND: usize = 60;

/// The width of a plan table cell: its characters (its bytes, when ASCII).
pub(crate) fn cell_width(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.chars().count()
    }
}

/// The width in characters of each of `plan_cells` (`crate::app::check`), without making them.
pub(crate) fn plan_widths(j: &JobSpec) -> [usize; 6] {
    let command = match &j.command {
        CommandLine::Direct(words) => {
            let quoted: usize = words
                .iter()
                .map(|w| cell_width(&shell_words::quote(w)))
                .sum();
            quoted + words.len().saturating_sub(1)
        }
        CommandLine::Shell(s) => cell_width(s),
    };
    let after = match j.after.len() {
        0 => 1,
        n => j.after.iter().map(|a| cell_width(a)).sum::<usize>() + n - 1,
    };
    [
        cell_width(&j.id),
        command.min(TABLE_COMMAND),
        j.timeout.map_or(1, |t| cell_width(&duration_text(t))),
        j.retries.checked_ilog10().map_or(1, |d| d as usize + 1),
        j.group.as_deref().map_or(1, cell_width),
        after,
    ]
}

/// A duration as the plan table shows it (`1m 30s`); the last one is remembered per thread,
/// as most rows of a manifest share their time limit.
pub(crate) fn duration_text(t: Duration) -> String {
    thread_local! {
        static LAST: std::cell::RefCell<Option<(Duration, String)>> = const { std::cell::RefCell::new(None) };
    }
    LAST.with_borrow_mut(|last| match last {
        Some((d, text)) if *d == t => text.clone(),
        _ => {
            let text = humantime::format_duration(t).to_string();
            *last = Some((t, text.clone()));
            text
        }
    })
}

/// The widest of two sets of column widths.
pub(crate) fn widest(a: [usize; 6], b: [usize; 6]) -> [usize; 6] {
    std::array::from_fn(|k| a[k].max(b[k]))
}
