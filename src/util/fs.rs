//! Paths and file errors as the user should see them.

use std::path::{Path, PathBuf};

/// Checks, before any job starts, that a report can be written to `path` (its directory
/// exists and takes a new file).
pub fn check_writable(path: &Path) -> std::io::Result<()> {
    tempfile::NamedTempFile::new_in(parent_dir(path))
        .map(drop)
        .map_err(plain)
}

/// The directory a file `path` is in (`.` for a bare name).
pub fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// An I/O error without the temporary file's name that tempfile adds to it: the user knows the
/// path they gave, not ours.
pub fn plain(e: std::io::Error) -> std::io::Error {
    let text = e.to_string();
    match text.find(" at path ") {
        Some(cut) => std::io::Error::new(e.kind(), &text[..cut]),
        None => e,
    }
}

/// How many links in a row [`open_no_planted_link`] follows.
const MAX_LINKS: usize = 16;

/// Opens `path` with `open`, which must open without following a link at the last component
/// (`O_NOFOLLOW`), following a symbolic link there only when it was made by someone trusted:
/// the user batchrun runs as, the owner of the directory it is in, or root. A link made by
/// anybody else (planted in a shared directory, say `/run/lock` or `/tmp`, pointing at one of
/// the user's files or at a file not there yet) is refused with an error saying so, so a file
/// batchrun creates or appends to is never reached through it, whatever
/// `fs.protected_symlinks` says. The link is checked again after it is read, so one swapped in
/// meanwhile is refused too.
pub fn open_no_planted_link<T>(
    path: &Path,
    mut open: impl FnMut(&Path) -> std::io::Result<T>,
) -> std::io::Result<T> {
    use std::os::unix::fs::MetadataExt;
    let mut at = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match open(&at) {
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {}
            done => return done,
        }
        let link = std::fs::symlink_metadata(&at)?;
        if !link.file_type().is_symlink() {
            return Err(std::io::Error::from_raw_os_error(libc::ELOOP));
        }
        let dir = parent_dir(&at);
        let dir_owner = std::fs::metadata(&dir)?.uid();
        // SAFETY: plain system call, which cannot fail.
        let me = unsafe { libc::geteuid() };
        if ![me, dir_owner, 0].contains(&link.uid()) {
            return Err(planted(&at, link.uid()));
        }
        let target = std::fs::read_link(&at)?;
        let again = std::fs::symlink_metadata(&at)?;
        if (again.ino(), again.uid()) != (link.ino(), link.uid()) {
            return Err(planted(&at, again.uid()));
        }
        at = dir.join(target);
    }
    Err(std::io::Error::from_raw_os_error(libc::ELOOP))
}

/// The error for a symbolic link at `at` owned by `uid`, who is not trusted.
fn planted(at: &Path, uid: u32) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::PermissionDenied,
        format!(
            "{} is a symbolic link owned by another user (uid {uid}), not by you, the directory's owner or root; refusing to follow it",
            at.display()
        ),
    )
}

/// Bytes written between two starts of their writeback ([`WritebackAhead`]).
const WRITEBACK_EVERY: u64 = 32 << 20;

/// Writes to a file and, every [`WRITEBACK_EVERY`] bytes, has the kernel start writing what
/// it was given to disk (`sync_file_range` with `SYNC_FILE_RANGE_WRITE`, which does not wait),
/// so the `fsync` that ends a big report waits for its last part only: a merged report of a
/// million jobs (406 MB) took 0.2–0.3 s to sync after it was written, with the CPUs idle.
pub struct WritebackAhead<'f> {
    file: &'f std::fs::File,
    /// Bytes written since the file was rewound, and how many of them were handed to
    /// writeback.
    written: u64,
    started: u64,
}

impl<'f> WritebackAhead<'f> {
    /// A writer at the start of `file`, which is empty.
    pub fn new(file: &'f std::fs::File) -> Self {
        WritebackAhead {
            file,
            written: 0,
            started: 0,
        }
    }
}

impl std::io::Write for WritebackAhead<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        use std::os::fd::AsRawFd;
        let n = (&mut &*self.file).write(buf)?;
        self.written += n as u64;
        if self.written - self.started >= WRITEBACK_EVERY {
            let (start, len) = (self.started, self.written - self.started);
            // SAFETY: a plain system call with integer arguments on a descriptor `self.file`
            // keeps open; it reads no memory of ours. A failure only loses the head start: the
            // `fsync` after the writing is what makes the file durable.
            let _ = unsafe {
                libc::sync_file_range(
                    self.file.as_raw_fd(),
                    start as libc::off64_t,
                    len as libc::off64_t,
                    libc::SYNC_FILE_RANGE_WRITE,
                )
            };
            self.started = self.written;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        (&mut &*self.file).flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Past the writeback's first starts, what was written is in the file, byte for byte.
    #[test]
    fn writing_ahead_of_the_sync_keeps_every_byte() {
        use std::io::Write;
        let tmp = tempfile::NamedTempFile::new().unwrap();
        let chunk: Vec<u8> = (0..=255u8).cycle().take(1 << 20).collect();
        let total = 2 * WRITEBACK_EVERY as usize + 12_345;
        let mut w = std::io::BufWriter::new(WritebackAhead::new(tmp.as_file()));
        let mut left = total;
        while left > 0 {
            let n = left.min(chunk.len());
            w.write_all(&chunk[..n]).unwrap();
            left -= n;
        }
        w.flush().unwrap();
        drop(w);
        tmp.as_file().sync_all().unwrap();
        let back = std::fs::read(tmp.path()).unwrap();
        assert_eq!(back.len(), total);
        assert!(back.chunks(1 << 20).all(|c| c == &chunk[..c.len()]));
    }

    #[test]
    fn errors_name_the_users_path_not_ours() {
        let e = check_writable(Path::new("/proc/nope/r.json")).unwrap_err();
        assert!(!e.to_string().contains(".tmp"), "{e}");
        assert_eq!(parent_dir(Path::new("r.json")), PathBuf::from("."));
    }

    #[test]
    fn own_links_are_followed() {
        use std::os::unix::fs::OpenOptionsExt;
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, "x").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("target", &link).unwrap();
        let open = |p: &Path| {
            std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(p)
        };
        assert!(open(&link).is_err());
        let f = open_no_planted_link(&link, open).unwrap();
        assert_eq!(f.metadata().unwrap().len(), 1);
        // A loop ends.
        std::os::unix::fs::symlink("loop", dir.path().join("loop")).unwrap();
        let e = open_no_planted_link(&dir.path().join("loop"), open).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ELOOP));
    }
}
