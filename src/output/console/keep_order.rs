/*!
`--keep-order`: job output in manifest order.

[`OrderedOutput`] decides what may be printed when. The first job that has not finished (the
head) prints each attempt's output at once; any other job's output waits until every job
before it has finished and printed. Jobs that finish without output (skipped, not started,
resumed) only move the head on.

What waits is whatever the caller holds for it: the console holds [`Kept`], the attempt's
capture files kept open (their contents stay on disk, not in memory).
*/

use std::collections::BTreeMap;
use std::fs::File;

use crate::capture::Captured;

/// Output held back so that it is printed in manifest order.
#[derive(Debug)]
pub struct OrderedOutput<T> {
    /// The head: every job before it has finished and printed everything.
    next: usize,
    /// Which jobs have their final result.
    done: Vec<bool>,
    /// Held output of jobs after the head, per job in attempt order.
    waiting: BTreeMap<usize, Vec<T>>,
}

impl<T> OrderedOutput<T> {
    /// Ordering for `jobs` jobs; `done` marks those that have their result before the run
    /// starts (resumed), which print nothing.
    pub fn new(done: &[bool]) -> Self {
        let mut o = OrderedOutput {
            next: 0,
            done: done.to_vec(),
            waiting: BTreeMap::new(),
        };
        o.advance();
        o
    }

    /// Whether output of job `index` may be printed now (it is the head).
    pub fn may_print(&self, index: usize) -> bool {
        index <= self.next
    }

    /// Holds output of job `index` until the jobs before it have printed.
    pub fn hold(&mut self, index: usize, item: T) {
        self.waiting.entry(index).or_default().push(item);
    }

    /// Job `index` has its final result: the held output that may be printed now, in order.
    pub fn finished(&mut self, index: usize) -> Vec<T> {
        if let Some(d) = self.done.get_mut(index) {
            *d = true;
        }
        self.advance()
    }

    /// The run is over: everything still held, in manifest order.
    pub fn drain(&mut self) -> Vec<T> {
        self.next = self.done.len();
        std::mem::take(&mut self.waiting)
            .into_values()
            .flatten()
            .collect()
    }

    /// Moves the head past finished jobs, returning the held output of the jobs it reaches.
    fn advance(&mut self) -> Vec<T> {
        let mut out = Vec::new();
        while self.done.get(self.next) == Some(&true) {
            self.next += 1;
            out.extend(self.waiting.remove(&self.next).unwrap_or_default());
        }
        out
    }
}

/// One attempt's output, held: its capture files, open, and the tag its lines get.
#[derive(Debug)]
pub struct Kept {
    /// `[id] ` in tag mode.
    pub tag: Option<String>,
    /// The captured stdout ([`Captured::Nothing`]: nothing to print).
    pub out: Captured,
    /// The captured stderr.
    pub err: Captured,
}

impl Kept {
    /// Holds one attempt's captured streams: an anonymous capture file is kept open; a named
    /// one (`--output-dir`, rewritten by the next attempt) is copied to an anonymous file
    /// first. Empty output is not kept at all. On failure, the streams come back as they were,
    /// to be printed at once.
    pub fn new(
        tag: Option<String>,
        out: Captured,
        err: Captured,
    ) -> Result<Self, (std::io::Error, Kept)> {
        let (out, err) = match (keep(&out), keep(&err)) {
            (Ok(o), Ok(e)) => (o.unwrap_or(out), e.unwrap_or(err)),
            (Err(e), _) | (_, Err(e)) => return Err((e, Kept { tag, out, err })),
        };
        Ok(Kept { tag, out, err })
    }
}

impl Kept {
    /// How many open files holding this takes.
    pub fn files(&self) -> usize {
        [&self.out, &self.err]
            .into_iter()
            .filter(|c| matches!(c, Captured::File(_)))
            .count()
    }
}

/// What to hold instead of one captured stream: `Some(Nothing)` when it is empty, a copy of a
/// named file, or `None` to hold the stream itself.
fn keep(c: &Captured) -> std::io::Result<Option<Captured>> {
    match c {
        Captured::Nothing => Ok(None),
        Captured::File(f) if f.metadata()?.len() == 0 => Ok(Some(Captured::Nothing)),
        Captured::File(_) => Ok(None),
        Captured::Path(p) => {
            let mut from = File::open(p)?;
            if from.metadata()?.len() == 0 {
                return Ok(Some(Captured::Nothing));
            }
            let mut copy = tempfile::tempfile()?;
            std::io::copy(&mut from, &mut copy)?;
            Ok(Some(Captured::File(std::sync::Arc::new(copy))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Seek, Write};

    /// Feeds events to an ordering and collects what is printed, in print order.
    fn run(done: &[bool], events: &[(&str, usize)]) -> Vec<String> {
        let mut o = OrderedOutput::new(done);
        let mut printed = Vec::new();
        for &(what, i) in events {
            match what {
                "out" if o.may_print(i) => printed.push(format!("{i}")),
                "out" => o.hold(i, format!("{i}")),
                "fin" => printed.extend(o.finished(i)),
                _ => unreachable!(),
            }
        }
        printed.extend(o.drain());
        printed
    }

    #[test]
    fn reverse_finish_prints_in_manifest_order() {
        let ev = [
            ("out", 2),
            ("fin", 2),
            ("out", 1),
            ("fin", 1),
            ("out", 0),
            ("fin", 0),
        ];
        assert_eq!(run(&[false; 3], &ev), ["0", "1", "2"]);
    }

    #[test]
    fn the_head_prints_at_once_and_retries_keep_their_order() {
        let mut o = OrderedOutput::new(&[false; 3]);
        assert!(o.may_print(0));
        o.hold(1, "1a");
        o.hold(1, "1b");
        o.hold(2, "2");
        assert!(o.finished(2).is_empty());
        assert_eq!(o.finished(0), ["1a", "1b"]);
        // Job 1 is the head now: its later attempts print at once.
        assert!(o.may_print(1));
        assert_eq!(o.finished(1), ["2"]);
        assert!(o.drain().is_empty());
    }

    #[test]
    fn jobs_without_output_and_resumed_jobs_move_the_head() {
        // Job 0 resumed, job 1 skipped (finished without output), 2 and 3 print.
        let ev = [("out", 3), ("fin", 3), ("fin", 1), ("out", 2), ("fin", 2)];
        assert_eq!(run(&[true, false, false, false], &ev), ["2", "3"]);
    }

    #[test]
    fn a_stopped_run_drains_in_manifest_order() {
        // Job 0 never finishes (the run was stopped): the rest comes out at the end.
        let ev = [("out", 2), ("fin", 2), ("out", 1), ("fin", 1)];
        assert_eq!(run(&[false; 3], &ev), ["1", "2"]);
    }

    #[test]
    fn kept_output_stays_in_its_file() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(b"hello\n").unwrap();
        let empty = tempfile::tempfile().unwrap();
        let k = Kept::new(
            None,
            Captured::File(std::sync::Arc::new(f.try_clone().unwrap())),
            Captured::File(std::sync::Arc::new(empty)),
        )
        .unwrap();
        assert!(matches!(k.err, Captured::Nothing));
        // The file is shared, not copied: a later reader (the stderr tail) moving the offset
        // does not matter, it is read again from the start.
        f.rewind().unwrap();
        let mut text = String::new();
        k.out.open().unwrap().read_to_string(&mut text).unwrap();
        assert_eq!(text, "hello\n");

        let dir = tempfile::tempdir().unwrap();
        let named = dir.path().join("a.out");
        std::fs::write(&named, "first attempt\n").unwrap();
        let k = Kept::new(None, Captured::Path(named.clone()), Captured::Nothing).unwrap();
        std::fs::write(&named, "second attempt\n").unwrap();
        let mut text = String::new();
        k.out.open().unwrap().read_to_string(&mut text).unwrap();
        assert_eq!(text, "first attempt\n");
    }
}
