//! Reading merge's inputs: one shard report at a time, a regular file of bounded size (a
//! FIFO or a device is refused unread), parsed into the parts merge folds. The jobs' texts are
//! borrowed from the report's bytes where they have no escapes (issue 19: a million jobs
//! made three million strings).

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use parking_lot::{Condvar, Mutex};

use serde::Deserialize;

use crate::model::shard;

/// The parts of a JSON report merge reads; other fields (per-job fields of later versions
/// too) are ignored.
#[derive(Debug, Deserialize)]
pub(crate) struct InReport<'a> {
    pub(crate) schema: u32,
    pub(crate) batchrun_version: String,
    pub(crate) manifest: String,
    pub(crate) manifest_sha256: Option<String>,
    pub(crate) shard: Option<InShard>,
    #[serde(default)]
    pub(crate) balance_sha256: Option<String>,
    /// Set in a merged report: merge takes the shards' reports, not its own.
    #[serde(default)]
    pub(crate) merged: Option<serde::de::IgnoredAny>,
    pub(crate) started_at: String,
    pub(crate) finished_at: String,
    pub(crate) duration_ms: u64,
    pub(crate) workers: usize,
    pub(crate) outcome: String,
    pub(crate) exit_code: i32,
    #[serde(borrow)]
    pub(crate) jobs: Vec<InJob<'a>>,
}

#[derive(Debug, Deserialize, Clone, Copy)]
pub(crate) struct InShard {
    pub(crate) index: u32,
    pub(crate) count: u32,
}

#[derive(Debug, Deserialize)]
pub(crate) struct InJob<'a> {
    #[serde(borrow)]
    pub(crate) id: Text<'a>,
    #[serde(borrow)]
    pub(crate) status: Text<'a>,
    pub(crate) attempts: u32,
    pub(crate) exit_code: Option<i32>,
    pub(crate) signal: Option<i32>,
    #[serde(borrow)]
    pub(crate) started_at: Option<Text<'a>>,
    pub(crate) duration_ms: Option<u64>,
    #[serde(borrow)]
    pub(crate) error: Option<Text<'a>>,
    #[serde(borrow)]
    pub(crate) stderr_tail: Option<Text<'a>>,
    #[serde(default)]
    pub(crate) leaked_processes: u32,
    #[serde(default)]
    pub(crate) max_rss_kib: Option<u64>,
    #[serde(default)]
    pub(crate) user_ms: Option<u64>,
    #[serde(default)]
    pub(crate) system_ms: Option<u64>,
}

/// A JSON string of a report: borrowed from its bytes, or made when it has escapes (`Cow`'s
/// own `Deserialize` always makes one, also inside an `Option`).
#[derive(Debug)]
pub(crate) struct Text<'a>(pub(crate) Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(Visitor)
    }
}

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The largest report merge reads: far more than a report of the largest manifest takes.
pub const MAX_REPORT_BYTES: u64 = 1 << 30;

/// Reads one report file into `bytes`: a regular file (a FIFO or a device, `/dev/zero`, is
/// refused without reading it, so it can neither hang merge nor fill its memory) of at most
/// [`MAX_REPORT_BYTES`].
pub(crate) fn read_report(path: &Path, bytes: &mut Vec<u8>) -> Result<(), String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let name = path.display();
    let cannot = |e: std::io::Error| format!("{name}: cannot read: {e}");
    // O_NONBLOCK: opening a FIFO does not wait for a writer.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(cannot)?;
    let meta = file.metadata().map_err(cannot)?;
    if !meta.is_file() {
        return Err(format!(
            "{name}: not a regular file (expected a batchrun JSON report)"
        ));
    }
    bytes.clear();
    file.take(MAX_REPORT_BYTES + 1)
        .read_to_end(bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_REPORT_BYTES {
        return Err(format!(
            "{name}: larger than {} MiB (expected a batchrun JSON report)",
            MAX_REPORT_BYTES >> 20
        ));
    }
    Ok(())
}

/// Reads one input of merge into `bytes` and parses it: `None` for a merged report found in a
/// directory (skipped), an error for one given by name (merge takes the shards' reports).
pub(crate) fn read_input<'b>(
    path: &Path,
    in_dir: bool,
    bytes: &'b mut Vec<u8>,
) -> Result<Option<InReport<'b>>, String> {
    read_report(path, bytes)?;
    let r = parse_report(path, bytes)?;
    match (r.merged.is_some(), in_dir) {
        (false, _) => Ok(Some(r)),
        (true, true) => Ok(None),
        (true, false) => Err(format!(
            "{}: a merged report (expected the reports of the shards)",
            path.display()
        )),
    }
}

/// Parses one report, checking it is a batchrun JSON report with a manifest hash.
pub(crate) fn parse_report<'b>(path: &Path, bytes: &'b [u8]) -> Result<InReport<'b>, String> {
    let name = path.display();
    // The text checked as UTF-8 once, whole (fast for ASCII), then parsed as text: parsed as
    // bytes, every string was checked on its own, a tenth of a big merge's reading. Bytes that
    // are not UTF-8 are parsed as bytes, for the parser's message of where.
    let r: InReport = match std::str::from_utf8(bytes) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(bytes),
    }
    .map_err(|e| format!("{name}: not a batchrun JSON report ({e})"))?;
    if r.schema != 1 {
        return Err(format!(
            "{name}: not a batchrun JSON report (schema {}, expected 1)",
            r.schema
        ));
    }
    if let Some(s) = r.shard {
        if s.count == 0 || s.count > shard::MAX_COUNT || s.index == 0 || s.index > s.count {
            return Err(format!(
                "{name}: not a batchrun JSON report (shard {}/{} is out of range)",
                s.index, s.count
            ));
        }
    }
    if r.manifest_sha256.is_none() {
        return Err(format!(
            "{name}: no manifest_sha256 (expected the report of a batchrun that has `merge`; this one is of batchrun {})",
            r.batchrun_version
        ));
    }
    Ok(r)
}

/// Where [`read_all`]'s threads are: whose turn it is to fold, and the stop that ended it.
struct Turn<F, E> {
    next: usize,
    fold: F,
    /// A report was not read: none after it is folded.
    ended: bool,
    stop: Option<E>,
}

/// Reads and parses `paths` ([`read_input`]) on up to two threads and hands each report to
/// `fold` in the order of `paths`, so a report is parsed while the one before it is folded
/// (issue 19: parsing was a third of a big merge, on one thread). Each thread holds one
/// report's bytes, reused from report to report, and its parsed jobs: at most two reports are
/// in memory. `stopped` is asked before each report is read; the first stop it gives ends the
/// reading, and is returned.
pub(crate) fn read_all<E: Send>(
    paths: &[(PathBuf, bool)],
    stopped: impl Fn() -> Option<E> + Sync,
    fold: impl FnMut(&Path, Result<Option<InReport<'_>>, String>) + Send,
) -> Result<(), E> {
    let taken = AtomicUsize::new(0);
    let halted = AtomicBool::new(false);
    let turn = Mutex::new(Turn {
        next: 0,
        fold,
        ended: false,
        stop: None,
    });
    let turned = Condvar::new();
    let work = || {
        let mut bytes = Vec::new();
        loop {
            let k = taken.fetch_add(1, Ordering::Relaxed);
            let Some((path, in_dir)) = paths.get(k) else {
                return;
            };
            let stop = stopped();
            halted.fetch_or(stop.is_some(), Ordering::Relaxed);
            let go = !halted.load(Ordering::Relaxed);
            let read = go.then(|| read_input(path, *in_dir, &mut bytes));
            let mut t = turn.lock();
            while t.next != k {
                turned.wait(&mut t);
            }
            // A report not read (a stop was asked for) ends the folding: none after it is
            // folded, whichever thread read it.
            match read {
                Some(r) if !t.ended => (t.fold)(path, r),
                _ => {
                    t.ended = true;
                    t.stop = t.stop.take().or(stop);
                }
            }
            t.next += 1;
            turned.notify_all();
        }
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(2));
    std::thread::scope(|s| {
        // A thread that cannot be started leaves the work to this one.
        let helper = (threads > 1 && paths.len() > 1)
            .then(|| std::thread::Builder::new().spawn_scoped(s, work).ok())
            .flatten();
        work();
        drop(helper);
    });
    turn.into_inner().stop.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_are_folded_in_order_until_a_stop() {
        let dir = tempfile::tempdir().unwrap();
        let paths: Vec<(PathBuf, bool)> = (0..40)
            .map(|k| {
                let p = dir.path().join(format!("r{k}.json"));
                std::fs::write(&p, format!("not a report {k}")).unwrap();
                (p, false)
            })
            .collect();
        let mut folded = Vec::new();
        let never = read_all(
            &paths,
            || None::<()>,
            |p, r| {
                assert!(r.is_err());
                folded.push(p.to_path_buf());
            },
        );
        assert_eq!(never, Ok(()));
        let all: Vec<PathBuf> = paths.iter().map(|(p, _)| p.clone()).collect();
        assert_eq!(folded, all);
        // Asked before each report is read: the 6th ask stops it; no report after is folded.
        let asked = AtomicUsize::new(0);
        let stop = || (asked.fetch_add(1, Ordering::Relaxed) == 5).then_some("stop");
        folded.clear();
        let stopped = read_all(&paths, stop, |p, _| folded.push(p.to_path_buf()));
        assert_eq!(stopped, Err("stop"));
        assert!(folded.len() <= 6, "{folded:?}");
        assert_eq!(folded, all[..folded.len()]);
    }
}
