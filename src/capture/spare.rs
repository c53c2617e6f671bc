/*!
Per-worker capture files, reused across jobs. Without `--output-dir`, a job's stdout and
stderr go to files with no name; on ext4 creating one (`O_TMPFILE`) allocates an inode, which
was the largest cost batchrun added per job in the default output mode. A worker thread keeps
the files of its last job when nothing was written to them (or when nobody will read them),
rewound and truncated, and hands them to its next job instead of creating new ones. A file
with output in it goes to the console as before and the worker creates a new one.

A file is reused only when nothing but the worker still has it open, so a leftover writer
cannot add to the next job's output: not after a job that left a process behind in its process
group, and not while a process that left the group on purpose (a daemon) still holds it. The
job gets a writing handle of its own ([`writer`], a new open of the file, not a copy of the
worker's), so when it (or a daemon it started) still has the file open, the kernel refuses the
worker a write lease on it ([`sole_holder`]), and the file is dropped instead of reused; what
the daemon writes goes nowhere anybody reads, as without reuse.
*/

use std::cell::RefCell;
use std::fs::File;
use std::io::Seek;
use std::os::fd::AsRawFd;
use std::path::Path;

/// Files kept per worker: one per stream.
const KEPT: usize = 2;

thread_local! {
    /// This worker's empty capture files.
    static SPARE: RefCell<Vec<File>> = const { RefCell::new(Vec::new()) };
}

/// An empty capture file, positioned at its start: one this worker kept, or a new one in `dir`.
pub fn take(dir: &Path) -> std::io::Result<File> {
    match SPARE.with_borrow_mut(Vec::pop) {
        Some(f) => Ok(f),
        None => tempfile::tempfile_in(dir),
    }
}

/// A handle for a job to write to `f` with: a new open of the same file (its own open file
/// description), so [`sole_holder`] can tell later whether anything still has it open.
pub fn writer(f: &File) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/proc/self/fd/{}", f.as_raw_fd()))
}

/// Whether `f` (open for reading and writing) is open nowhere else: the kernel grants a write
/// lease only then. The lease is given back at once. False when leases cannot be had at all
/// (a file system without them, `fs.leases-enable=0`): then files are not reused.
fn sole_holder(f: &File) -> bool {
    let fd = f.as_raw_fd();
    // SAFETY: fcntl on a descriptor this File owns; no memory is passed.
    let granted = unsafe { libc::fcntl(fd, libc::F_SETLEASE, libc::F_WRLCK) } == 0;
    if granted {
        // SAFETY: as above.
        unsafe { libc::fcntl(fd, libc::F_SETLEASE, libc::F_UNLCK) };
    }
    granted
}

/// Keeps `f` for this worker's next job when it is empty or `unread` (nobody will read it,
/// so it is truncated); returns it when it holds output someone will read. `clean`: the job
/// left no process behind that could still write to it (otherwise the file is dropped).
pub fn give_back(f: Option<File>, unread: bool, clean: bool) -> Option<File> {
    let mut f = f?;
    let empty = f.metadata().is_ok_and(|m| m.len() == 0);
    if !empty && !unread {
        return Some(f);
    }
    let reset = clean && sole_holder(&f) && (empty || f.set_len(0).is_ok()) && f.rewind().is_ok();
    if reset {
        SPARE.with_borrow_mut(|s| {
            if s.len() < KEPT {
                s.push(f);
            }
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn empty_and_unread_files_are_reused_files_with_output_are_not() {
        let dir = tempfile::tempdir().unwrap();
        // Still open elsewhere (a daemon holding the job's handle): not kept.
        let f = take(dir.path()).unwrap();
        let held = writer(&f).unwrap();
        assert!(give_back(Some(f), false, true).is_none());
        assert_eq!(SPARE.with_borrow(Vec::len), 0);
        drop(held);
        // Empty: kept, and handed out again at its start.
        let f = take(dir.path()).unwrap();
        drop(writer(&f).unwrap());
        let ino = |f: &File| std::os::unix::fs::MetadataExt::ino(&f.metadata().unwrap());
        let first = ino(&f);
        assert!(give_back(Some(f), false, true).is_none());
        let mut f = take(dir.path()).unwrap();
        assert_eq!(ino(&f), first);
        // With output someone reads: returned, not kept.
        f.write_all(b"out").unwrap();
        let mut f = give_back(Some(f), false, true).expect("returned");
        f.rewind().unwrap();
        let mut s = String::new();
        f.read_to_string(&mut s).unwrap();
        assert_eq!(s, "out");
        // Unread: truncated and kept.
        assert!(give_back(Some(f), true, true).is_none());
        let f = take(dir.path()).unwrap();
        assert_eq!(ino(&f), first);
        assert_eq!(f.metadata().unwrap().len(), 0);
        // After a job that left processes behind: dropped, not kept.
        assert!(give_back(Some(f), false, false).is_none());
        assert_eq!(SPARE.with_borrow(Vec::len), 0);
        let f = take(dir.path()).unwrap();
        // At most KEPT files.
        let more: Vec<File> = (0..KEPT + 1).map(|_| take(dir.path()).unwrap()).collect();
        for m in more {
            give_back(Some(m), false, true);
        }
        assert_eq!(SPARE.with_borrow(Vec::len), KEPT);
        drop(f);
    }
}
