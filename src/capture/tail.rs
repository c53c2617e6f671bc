//! The last lines of a failed attempt's stderr, for the summary and the reports.

use std::io::{Read, Seek, SeekFrom};

/// How many bytes of a failed job's stderr are kept at most.
const TAIL_BYTES: u64 = 4096;

/// How many lines of a failed job's stderr are kept at most.
const TAIL_LINES: usize = 10;

/// The last lines of an open file (at most 10 lines, 4 KiB), whatever its position, or `None`
/// if it is empty.
pub fn read_tail_of(mut f: std::fs::File) -> Option<String> {
    let len = f.metadata().ok()?.len();
    if len == 0 {
        return None;
    }
    let start = len.saturating_sub(TAIL_BYTES);
    f.seek(SeekFrom::Start(start)).ok()?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf);
    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    if start > 0 && lines.len() > 1 {
        lines.remove(0); // a partial first line
    }
    let keep = lines.len().saturating_sub(TAIL_LINES);
    Some(lines[keep..].concat())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn tail_keeps_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e");
        let text: String = (0..50).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&p, text).unwrap();
        let tail = |p: &Path| read_tail_of(std::fs::File::open(p).unwrap());
        let t = tail(&p).unwrap();
        assert!(
            t.starts_with("line 40\n") && t.ends_with("line 49\n"),
            "{t}"
        );
        std::fs::write(&p, "").unwrap();
        assert_eq!(tail(&p), None);
    }
}
