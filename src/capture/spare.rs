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

A lease is also refused for a moment while another worker starts a job: between its fork and
its exec, the new child holds a copy of every descriptor batchrun has, this worker's job's
handle too. On two busy CPUs that was a third of the checks, each costing a new file (about
230 µs of the kernel's time on ext4 in the VM of BENCHMARKS.md). So the file of a job that
left nothing behind is not dropped when its lease is refused: it is checked again when this
worker needs a file after its next job started (by then the other child has exec'd), and
dropped only if it is still held then.
*/

use std::cell::RefCell;
use std::fs::File;
use std::io::Seek;
use std::os::fd::AsRawFd;
use std::path::Path;

/// Files kept per worker, checked or not: two streams for this job and two for the next.
const KEPT: usize = 4;

/// A file whose lease was refused, and the number of files taken before it was given back.
struct Doubtful {
    file: File,
    taken: u64,
}

thread_local! {
    /// This worker's empty capture files.
    static SPARE: RefCell<Vec<File>> = const { RefCell::new(Vec::new()) };
    /// Files of jobs that left nothing behind whose lease was refused when they ended: to be
    /// checked again when next needed, once this worker has started another job.
    static DOUBTFUL: RefCell<Vec<Doubtful>> = const { RefCell::new(Vec::new()) };
    /// Files this worker has taken.
    static TAKEN: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// An empty capture file, positioned at its start: one this worker kept, one let go since its
/// job ended, or a new one in `dir`.
pub fn take(dir: &Path) -> std::io::Result<File> {
    let taken = TAKEN.get();
    TAKEN.set(taken + 1);
    if let Some(f) = SPARE.with_borrow_mut(Vec::pop) {
        return Ok(f);
    }
    // Given back before the last job's files were taken (at most two a job): the children
    // started meanwhile have exec'd.
    let aged = |d: &Doubtful| taken >= d.taken + 2;
    while let Some(mut d) = DOUBTFUL.with_borrow_mut(|ds| {
        let i = ds.iter().position(aged)?;
        Some(ds.remove(i))
    }) {
        if reset(&mut d.file) {
            return Ok(d.file);
        }
    }
    tempfile::tempfile_in(dir)
}

/// Empties `f` and rewinds it, if nothing but this worker has it open.
fn reset(f: &mut File) -> bool {
    let empty = f.metadata().is_ok_and(|m| m.len() == 0);
    sole_holder(f) && (empty || f.set_len(0).is_ok()) && f.rewind().is_ok()
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
    if !clean {
        return None;
    }
    let held = SPARE.with_borrow(Vec::len) + DOUBTFUL.with_borrow(Vec::len);
    if held < KEPT {
        if reset(&mut f) {
            SPARE.with_borrow_mut(|s| s.push(f));
        } else {
            let taken = TAKEN.get();
            DOUBTFUL.with_borrow_mut(|ds| ds.push(Doubtful { file: f, taken }));
        }
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

    #[test]
    fn a_file_held_for_a_moment_when_its_job_ends_is_reused_once_let_go() {
        // Between its fork and its exec, another worker's child holds a copy of every
        // descriptor, this worker's job's handle too: a file checked then is refused the lease.
        let dir = tempfile::tempdir().unwrap();
        let ino = |f: &File| std::os::unix::fs::MetadataExt::ino(&f.metadata().unwrap());
        let f = take(dir.path()).unwrap();
        let first = ino(&f);
        // Keeps the inode (and so its number) from being freed, without counting as an open.
        let _pin = std::os::unix::fs::OpenOptionsExt::custom_flags(
            std::fs::OpenOptions::new().read(true),
            libc::O_PATH,
        )
        .open(format!("/proc/self/fd/{}", f.as_raw_fd()))
        .unwrap();
        let held = writer(&f).unwrap();
        assert!(give_back(Some(f), false, true).is_none());
        assert_eq!(SPARE.with_borrow(Vec::len), 0);
        drop(held);
        // The next job's two files are new: the children started meanwhile may hold it still.
        let next: Vec<File> = (0..2).map(|_| take(dir.path()).unwrap()).collect();
        assert!(next.iter().all(|g| ino(g) != first));
        // The job after that one gets it back, checked again.
        let f = take(dir.path()).unwrap();
        assert_eq!(ino(&f), first, "let go since its job ended: reused");
        // Still held when checked again (a daemon has it): dropped, and a new file made.
        let held = writer(&f).unwrap();
        assert!(give_back(Some(f), true, true).is_none());
        let later: Vec<File> = (0..3).map(|_| take(dir.path()).unwrap()).collect();
        assert!(later.iter().all(|g| ino(g) != first));
        assert_eq!(DOUBTFUL.with_borrow(Vec::len), 0);
        drop(held);
    }
}
