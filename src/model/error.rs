/*!
batchrun's own errors, one variant per way a run can fail before or around the jobs. Each
carries its context; [`crate::model::exit::Exit::for_error`] maps each to its exit code.
*/

use std::path::PathBuf;

use crate::manifest::Problem;

/// Why batchrun could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A bad option value (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The manifest (or an option that shapes it) has problems; each is listed (exit 2).
    #[error("{} in {manifest}; nothing was run", crate::model::outcome::plural(problems.len(), "problem"))]
    Invalid {
        /// The manifest's display name.
        manifest: String,
        /// Every problem found, never empty.
        problems: Vec<Problem>,
    },
    /// The manifest could not be read (exit 2).
    #[error("cannot read manifest {path}: {source}")]
    ReadManifest {
        /// As given on the command line.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `--lock` is held by another run (exit 75).
    #[error("lock {} is held by another run{holder}; exiting", path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// ` (pid N)` when the holder wrote its pid, else empty.
        holder: String,
    },
    /// A file batchrun must write cannot be written (exit 3).
    #[error("cannot write {what} {}: {source}", path.display())]
    Output {
        /// What the file is for: "report", "joblog", "output directory", "lock file".
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Anything else of batchrun's own (exit 3).
    #[error("{0}")]
    Internal(String),
}
