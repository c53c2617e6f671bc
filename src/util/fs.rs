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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_users_path_not_ours() {
        let e = check_writable(Path::new("/proc/nope/r.json")).unwrap_err();
        assert!(!e.to_string().contains(".tmp"), "{e}");
        assert_eq!(parent_dir(Path::new("r.json")), PathBuf::from("."));
    }
}
