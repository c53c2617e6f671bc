/*!
A manifest's bytes: read into memory, or mapped from its file (issue 19).

`check`, `--dry-run` and `merge` map a regular file instead of copying it: the parser reads it the same
way, and what it has read is given back with [`Bytes::release`] as it goes, so a manifest of
33 MB does not stay resident beside the jobs built from it (file pages that were touched count
in a process's RSS as much as a copy). A released page is read again from the page cache when
it is next touched (the plan table re-reads rows). A run keeps its own copy: it lasts hours,
and a mapped file that is edited or truncated meanwhile would change its jobs under it, or end
it with `SIGBUS`.
*/

use std::ops::{Deref, Range};

/// Bytes read into memory, or a file mapped read-only.
#[derive(Debug)]
pub enum Bytes {
    /// Read (from a pipe, or a file the run keeps).
    Owned(Vec<u8>),
    /// Mapped from a regular file.
    Mapped(memmap2::Mmap),
}

impl Bytes {
    /// Maps the regular, non-empty file at `path`; `None` when it is something else (a pipe,
    /// a device, an empty file) or cannot be mapped: then read it.
    pub fn map(path: &std::path::Path) -> Option<Bytes> {
        let file = std::fs::File::open(path).ok()?;
        let meta = file.metadata().ok()?;
        if !meta.is_file() || meta.len() == 0 {
            return None;
        }
        // SAFETY: the map is read-only and private. Another process that writes the file
        // meanwhile changes what is read (check prints what it read); one that truncates it
        // ends this process with SIGBUS. Only `check`, `--dry-run` and `merge`, which last
        // seconds and start nothing, map a manifest (module doc).
        let map = unsafe { memmap2::Mmap::map(&file) }.ok()?;
        let _ = map.advise(memmap2::Advice::Sequential);
        Some(Bytes::Mapped(map))
    }

    /// Lets go of the memory of `range` until it is read again: for mapped bytes, the pages
    /// leave the process's RSS and come back from the page cache when next touched; nothing
    /// for bytes in memory. The bytes stay readable and unchanged either way.
    pub fn release(&self, range: Range<usize>) {
        let Bytes::Mapped(map) = self else { return };
        let end = range.end.min(map.len());
        if range.start >= end {
            return;
        }
        // SAFETY: the pages are never written (a read-only map), so dropping them loses
        // nothing: a later read faults them in again from the file.
        let _ = unsafe {
            map.unchecked_advise_range(
                memmap2::UncheckedAdvice::DontNeed,
                range.start,
                end - range.start,
            )
        };
    }

    /// Lets go of the memory of all of it ([`Bytes::release`]).
    pub fn release_all(&self) {
        self.release(0..self.len());
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(v: Vec<u8>) -> Bytes {
        Bytes::Owned(v)
    }
}

impl Deref for Bytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Owned(v) => v,
            Bytes::Mapped(m) => m,
        }
    }
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The resident size in KiB of the mapping that starts where `b` does (/proc/self/smaps).
    fn rss_kib(b: &Bytes) -> usize {
        let start = format!("{:x}-", b.as_ptr() as usize);
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut lines = smaps.lines().skip_while(|l| !l.starts_with(&start));
        assert!(lines.next().is_some(), "the mapping is in smaps");
        let rss = lines.find_map(|l| l.strip_prefix("Rss:")).unwrap();
        rss.trim().trim_end_matches("kB").trim().parse().unwrap()
    }

    #[test]
    fn a_mapped_file_reads_the_same_after_release() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.csv");
        let text: Vec<u8> = (0..200_000u32)
            .flat_map(|i| format!("{i},\n").into_bytes())
            .collect();
        std::fs::write(&path, &text).unwrap();
        let b = Bytes::map(&path).expect("a regular file maps");
        assert!(matches!(b, Bytes::Mapped(_)));
        assert_eq!(&b[..], &text[..]);
        b.release_all();
        b.release(10..10);
        b.release(4096..usize::MAX);
        assert_eq!(&b[..], &text[..], "released pages read the same");
        assert!(Bytes::map(&dir.path().join("none")).is_none());
        std::fs::write(dir.path().join("empty"), b"").unwrap();
        assert!(Bytes::map(&dir.path().join("empty")).is_none());
        assert!(Bytes::map(std::path::Path::new("/dev/null")).is_none());
        let owned = Bytes::Owned(b"a,b".to_vec());
        owned.release_all();
        assert_eq!(&owned[..], b"a,b");
    }

    #[test]
    fn released_pages_leave_the_process() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.csv");
        std::fs::write(&path, vec![b'x'; 64 * 4096]).unwrap();
        let b = Bytes::map(&path).unwrap();
        assert_eq!(b.iter().filter(|&&c| c == b'x').count(), 64 * 4096);
        assert!(rss_kib(&b) >= 4 * 64, "pages read are resident");
        b.release_all();
        assert_eq!(rss_kib(&b), 0, "released pages are not");
        assert_eq!(b[4096 * 10], b'x');
        assert!(rss_kib(&b) > 0, "a page read again comes back");
    }
}
