/*!
The files batchrun creates or is given, handled so that a user's file is never damaged:

- the `--lock` file is opened read-only (created if missing) and only `flock`ed, so its
  content never changes, even through a symlink; the holder's pid comes from `/proc/locks`;
- the lock and the joblog never follow a symbolic link planted by another user
  ([`crate::util::fs::open_no_planted_link`]);
- before anything runs, an output path that is the manifest itself (same device and inode,
  so also through a link), a joblog, lock or manifest that a job's `--output-dir` file would
  replace, a joblog that is not a joblog, and a report path that cannot be a file are
  refused;
- `--output-dir` files are created new and renamed into place, so a planted symlink (or hard
  link) at `DIR/ID.out` is replaced, never written through;
- the private temporary directory for captured output is 0700 whatever the umask;
- a job whose output could not be captured because the capture file system is full is
  batchrun's own failure, not the job's.

Modes of created files: reports are 0600 (written privately, then renamed into place); the
joblog, the lock file and `--output-dir` files are 0666 less the umask, as a shell
redirection would make them.
*/

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::model::config::RunConfig;
use crate::model::error::Error;
use crate::plan::Plan;
use crate::util::sys;

/// Takes the `--lock` file: opens it read-only (creating it if missing) and `flock`s it.
/// Its content is never read or changed. When another run holds it, the error names that
/// run's pid if `/proc/locks` tells it.
pub fn take_lock(path: &Path) -> Result<File, Error> {
    let io_err = |source| Error::Output {
        what: "lock file",
        path: path.to_path_buf(),
        source,
    };
    let file = sys::open_for_lock(path).map_err(io_err)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = lock_holder(&file)
                .map(|pid| format!(" (pid {pid})"))
                .unwrap_or_default();
            Err(Error::Locked {
                path: path.to_path_buf(),
                holder,
            })
        }
        Err(std::fs::TryLockError::Error(e)) => Err(io_err(e)),
    }
}

/// The pid holding a `flock` on `file`, from `/proc/locks`, if it can be told.
fn lock_holder(file: &File) -> Option<u32> {
    let meta = file.metadata().ok()?;
    let text = std::fs::read_to_string("/proc/locks").ok()?;
    let dev = meta.dev();
    let (major, minor) = (libc::major(dev) as u64, libc::minor(dev) as u64);
    holder_in_locks(&text, major, minor, meta.ino())
}

/// Finds the holder of a granted `FLOCK` on the file `major:minor:inode` in the text of
/// `/proc/locks` (lines like `1: FLOCK  ADVISORY  WRITE 4242 fe:00:1234 0 EOF`; waiters,
/// marked `->`, are skipped).
fn holder_in_locks(text: &str, major: u64, minor: u64, inode: u64) -> Option<u32> {
    text.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.get(1) != Some(&"FLOCK") {
            return None;
        }
        let mut id = fields.get(5)?.split(':');
        let maj = u64::from_str_radix(id.next()?, 16).ok()?;
        let min = u64::from_str_radix(id.next()?, 16).ok()?;
        let ino = id.next()?.parse::<u64>().ok()?;
        if (maj, min, ino) != (major, minor, inode) {
            return None;
        }
        fields.get(4)?.parse::<u32>().ok()
    })
}

/// Device and inode of what `path` names (following links), if it exists.
fn file_id(path: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Checks, before anything runs, that no output path of `rc` is the manifest (`manifest`:
/// its path, `None` for stdin) and that an existing joblog is a joblog. Every problem found
/// is reported in one error (exit 2).
pub fn check_given_files(
    manifest: Option<&Path>,
    plan: &Plan,
    rc: &RunConfig,
) -> Result<(), Error> {
    let mut problems = Vec::new();
    if let Some(dir) = &rc.output_dir {
        problems.extend(output_dir_collisions(manifest, plan, rc, dir));
    }
    if let Some(m) = manifest.and_then(file_id) {
        let outputs = rc
            .reports
            .iter()
            .map(|(p, _)| ("--report", p))
            .chain(rc.joblog.iter().map(|p| ("--joblog", p)))
            .chain(rc.lock.iter().map(|p| ("--lock", p)))
            .chain(rc.output_dir.iter().map(|p| ("--output-dir", p)))
            .chain(rc.metrics.iter().map(|m| ("--metrics", &m.path)))
            .chain(rc.events.iter().filter_map(|e| match e {
                crate::model::config::EventsTarget::Path(p) => Some(("--events", p)),
                crate::model::config::EventsTarget::Stdout => None,
            }));
        for (flag, path) in outputs {
            if file_id(path) == Some(m) {
                problems.push(format!(
                    "{flag} {} is the manifest itself (refusing to overwrite it)",
                    path.display()
                ));
            }
        }
    }
    if let Some(log) = &rc.joblog {
        if let Some(why) = not_a_joblog(log) {
            problems.push(why);
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Usage(problems))
    }
}

/// The files batchrun is given or writes that are a job's output file in `--output-dir`
/// `dir` (`DIR/ID.out`, `DIR/ID.err`), which creating that output file would replace: the
/// manifest, the joblog, the lock and the reports, one problem each.
fn output_dir_collisions(
    manifest: Option<&Path>,
    plan: &Plan,
    rc: &RunConfig,
    dir: &Path,
) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(name) = manifest.and_then(|m| output_file_named_like(m, dir, plan)) {
        problems.push(format!(
            "the manifest is {name} in --output-dir {}, where a job's output would replace it",
            dir.display()
        ));
    }
    let given = rc
        .reports
        .iter()
        .map(|(p, _)| ("--report", p))
        .chain(rc.joblog.iter().map(|p| ("--joblog", p)))
        .chain(rc.lock.iter().map(|p| ("--lock", p)));
    for (flag, path) in given {
        if let Some(name) = output_file_named_like(path, dir, plan) {
            problems.push(format!(
                "{flag} {} is {name} in --output-dir {}, where a job's output would replace it",
                path.display(),
                dir.display()
            ));
        }
    }
    problems
}

/// The name of the file `m` if it lies in `dir` under the name of a job's output file
/// (`ID.out`, `ID.err`), which creating that output file would replace. `m` need not exist
/// (a joblog not created yet); a link at `m` is followed, as opening it would.
fn output_file_named_like(m: &Path, dir: &Path, plan: &Plan) -> Option<String> {
    let real = std::fs::canonicalize(m).unwrap_or_else(|_| m.to_path_buf());
    let (parent, name) = (
        crate::util::fs::parent_dir(&real),
        real.file_name()?.to_str()?,
    );
    if !same_dir(&parent, dir) {
        return None;
    }
    let (id, ext) = name.rsplit_once('.')?;
    let is_output = matches!(ext, "out" | "err") && plan.jobs.ids().any(|j| j == id);
    is_output.then(|| name.to_string())
}

/// Whether `a` and `b` are one directory: by device and inode when both exist, else by their
/// absolute paths (`--output-dir` is created later).
fn same_dir(a: &Path, b: &Path) -> bool {
    match (file_id(a), file_id(b)) {
        (Some(x), Some(y)) => x == y,
        _ => match (std::path::absolute(a), std::path::absolute(b)) {
            (Ok(x), Ok(y)) => x.components().eq(y.components()),
            _ => false,
        },
    }
}

/// Why `path` cannot be appended to as a joblog: it exists, is not empty, and does not start
/// with the joblog header.
fn not_a_joblog(path: &Path) -> Option<String> {
    let mut file = File::open(path).ok()?;
    let mut head = Vec::new();
    let want = crate::output::joblog::HEADER.len() as u64;
    (&mut file).take(want).read_to_end(&mut head).ok()?;
    if head.is_empty() || head == crate::output::joblog::HEADER.as_bytes() {
        return None;
    }
    Some(format!(
        "--joblog {} exists and is not a joblog (its first line is not the joblog header '{}'); refusing to append to it",
        path.display(),
        crate::output::joblog::HEADER
    ))
}

/// Checks that a report can be written at `path`: it is not a directory, and a file can be
/// created next to it (reports are written there, then renamed into place).
pub fn check_report(path: &Path) -> std::io::Result<()> {
    if std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
        return Err(std::io::Error::from_raw_os_error(libc::EISDIR));
    }
    crate::util::fs::check_writable(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCKS: &str = "1: FLOCK  ADVISORY  WRITE 13361 fe:00:10010770 0 EOF\n\
        2: -> FLOCK  ADVISORY  WRITE 999 fe:00:42 0 EOF\n\
        3: POSIX  ADVISORY  WRITE 12 fe:00:42 0 EOF\n\
        4: FLOCK  ADVISORY  WRITE 4242 fe:00:42 0 EOF\n";

    #[test]
    fn lock_holder_by_device_and_inode() {
        assert_eq!(holder_in_locks(LOCKS, 0xfe, 0, 42), Some(4242));
        assert_eq!(holder_in_locks(LOCKS, 0xfe, 0, 10010770), Some(13361));
        assert_eq!(holder_in_locks(LOCKS, 0xfe, 1, 42), None);
        assert_eq!(holder_in_locks("garbage\n\n1: FLOCK\n", 0xfe, 0, 42), None);
    }

    #[test]
    fn joblog_header_is_recognised() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log");
        assert_eq!(not_a_joblog(&p), None, "missing");
        std::fs::write(&p, "").unwrap();
        assert_eq!(not_a_joblog(&p), None, "empty");
        std::fs::write(
            &p,
            format!("{}\na,succeeded\n", crate::output::joblog::HEADER),
        )
        .unwrap();
        assert_eq!(not_a_joblog(&p), None, "a joblog");
        std::fs::write(&p, "id,command\na,true\n").unwrap();
        assert!(not_a_joblog(&p).unwrap().contains("not a joblog"));
    }
}
