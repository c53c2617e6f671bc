/*!
Where job output is captured: a file per stream and attempt, named (`--output-dir`) or
anonymous (`O_TMPFILE` in a private directory), handed to the console to print and read for
the stderr tail of a failure.
*/

pub(crate) mod files;
pub(crate) mod spare;
pub(crate) mod tail;

use std::fs::File;
use std::io::Seek;
use std::path::PathBuf;
use std::sync::Arc;

/// Where one stream of an attempt's output was captured.
#[derive(Debug, Clone)]
pub enum Captured {
    /// Not captured (stdout with `--output none`, or nothing left to read).
    Nothing,
    /// A named file (`--output-dir`).
    Path(PathBuf),
    /// A file with no name, which vanishes once its last handle is closed (shared, so every
    /// consumer of the attempt's event can hold it without another descriptor).
    File(Arc<File>),
}

impl Captured {
    /// True when there is nothing to print (one `fstat`, which is cheaper than handing the
    /// files to the printer thread).
    pub fn is_empty(&self) -> bool {
        match self {
            Captured::Nothing => true,
            Captured::Path(p) => std::fs::metadata(p).map_or(true, |m| m.len() == 0),
            Captured::File(f) => f.metadata().map_or(true, |m| m.len() == 0),
        }
    }

    /// Opens the output for reading from its start; `None` if there is nothing to read.
    pub fn open(&self) -> Option<File> {
        match self {
            Captured::Nothing => None,
            Captured::Path(p) => File::open(p).ok(),
            Captured::File(f) => {
                let mut f = f.try_clone().ok()?;
                f.rewind().ok()?;
                Some(f)
            }
        }
    }
}

/// Handles on an attempt's anonymous output files (no `--output-dir`). They have no name, so
/// nothing is left to remove, and they vanish when these handles are dropped.
#[derive(Debug, Default)]
pub(crate) struct Anonymous {
    /// Stdout's file.
    pub(crate) out: Option<File>,
    /// Stderr's file.
    pub(crate) err: Option<File>,
}

/// Where one job's output files are.
#[derive(Debug, Clone)]
pub struct OutputPaths {
    /// The directory.
    pub(crate) dir: PathBuf,
    /// True for `--output-dir` (files named by id and kept); false for the private temporary
    /// directory (files with no name, gone once the dispatcher has read them).
    pub(crate) keep: bool,
}

impl OutputPaths {
    /// Output files in `dir`, kept when `keep`.
    pub fn new(dir: PathBuf, keep: bool) -> Self {
        OutputPaths { dir, keep }
    }

    /// The kept file of one stream (`ext`: `out` or `err`) of job `index`: `DIR/ID.ext` with
    /// `--output-dir`, `None` otherwise (the files have no name).
    fn kept(&self, id: &str, ext: &str) -> Option<PathBuf> {
        self.keep.then(|| self.dir.join(format!("{id}.{ext}")))
    }

    /// Creates the file one stream (`ext`: `out` or `err`) of job `index` goes to. Returns the
    /// handle for the child and, unless files are kept, a second handle to read the output
    /// back: then the file has no name (`O_TMPFILE`), so creating it does not touch the
    /// directory, which workers would otherwise contend for, and nothing needs removing.
    pub(crate) fn create(&self, id: &str, ext: &str) -> Result<(File, Option<File>), CreateError> {
        if let Some(p) = self.kept(id, ext) {
            let f = files::create_output(&p).map_err(|e| CreateError::new(e, &p))?;
            return Ok((f, None));
        }
        let reader = spare::take(&self.dir).map_err(|e| CreateError::new(e, &self.dir))?;
        let f = spare::writer(&reader).map_err(|e| CreateError::new(e, &self.dir))?;
        Ok((f, Some(reader)))
    }

    /// Where each stream of job `index` was captured, as the console reads it. A kept file
    /// the job wrote nothing to is removed (no empty `.out`/`.err` files; one left by an
    /// earlier run was replaced when the attempt started, so it goes too).
    pub(crate) fn captured(&self, id: &str, anonymous: Anonymous) -> (Captured, Captured) {
        let named = |ext| match self.kept(id, ext) {
            Some(p) if std::fs::metadata(&p).is_ok_and(|m| m.len() == 0) => {
                let _ = std::fs::remove_file(&p);
                Captured::Nothing
            }
            Some(p) => Captured::Path(p),
            None => Captured::Nothing,
        };
        if self.keep {
            return (named("out"), named("err"));
        }
        let file = |f: Option<File>| f.map_or(Captured::Nothing, |f| Captured::File(Arc::new(f)));
        (file(anonymous.out), file(anonymous.err))
    }
}

/// A capture file could not be created.
pub(crate) struct CreateError {
    /// What failed, with the path.
    pub(crate) message: String,
    /// Out of descriptors: waiting for a running job to end may help.
    pub(crate) transient: bool,
}

impl CreateError {
    /// The error of creating a file in `path`.
    pub(crate) fn new(e: std::io::Error, path: &std::path::Path) -> Self {
        CreateError {
            message: format!("cannot create a file in {}: {e}", path.display()),
            transient: matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)),
        }
    }
}
