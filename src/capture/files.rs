//! Capture files: the private directory, named output files, and a capture lost to a full disk.

use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::model::outcome::{Attempt, AttemptEnd};
use crate::util::sys;

/// The private temporary directory for captured output: 0700 whatever the umask.
pub fn private_tempdir() -> std::io::Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("batchrun-")
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
}

/// Creates the `--output-dir` file `path` for a job to write: a new file (0666 less the
/// umask) renamed over whatever is at `path`, so an existing symlink or hard link there is
/// replaced and never written through. Errors keep their errno (out of descriptors is told
/// apart from other failures: such a start waits instead of failing).
pub fn create_output(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    loop {
        let tmp = dir.join(format!(
            ".batchrun-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let file = match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o666)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)
        {
            Ok(f) => f,
            // A name left by an earlier run with our pid: try the next.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        };
        return match std::fs::rename(&tmp, path) {
            Ok(()) => Ok(file),
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(e)
            }
        };
    }
}

/// Why an attempt's output could not be captured, if that is why it failed: the attempt
/// ended badly by itself and the file system of the capture directory `dir` is full (the
/// job's writes failed with ENOSPC inside the job, so only the state after it tells).
pub fn capture_lost(attempt: &Attempt, dir: &Path) -> Option<String> {
    let failed_by_itself = matches!(
        attempt.end,
        AttemptEnd::Ended { exit_code, killed: None, .. } if exit_code != Some(0)
    );
    if !failed_by_itself {
        return None;
    }
    let d = File::open(dir).ok()?;
    if !sys::fs_full(d.as_fd()).ok()? {
        return None;
    }
    Some(format!(
        "its output could not be captured: no space left on device (ENOSPC) on the file system of {}, where its output files are",
        dir.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_replaces_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let out = dir.path().join("a.out");
        std::os::unix::fs::symlink(&victim, &out).unwrap();
        std::io::Write::write_all(&mut create_output(&out).unwrap(), b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert!(!std::fs::symlink_metadata(&out).unwrap().is_symlink());
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "new");
    }
}
