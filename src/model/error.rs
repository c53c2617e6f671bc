/*!
batchrun's own errors, one variant per way a run can fail before or around the jobs. Each
carries its context; [`Error::exit`] gives the exit code of each.
*/

use std::path::PathBuf;

use crate::model::exit::Exit;
use crate::model::problem::Problem;

/// Why batchrun could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad option values, one message each, never empty (exit 2).
    #[error("{}", .0.join("; "))]
    Usage(Vec<String>),
    /// The manifest (or an option that shapes it) has problems; each is listed (exit 2).
    #[error("{} in {manifest}; nothing was run", crate::util::text::plural(problems.len(), "problem"))]
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
    /// A stop signal arrived before the plan existed (exit 130): nothing was started and
    /// there is no run to report on.
    #[error("interrupted by {signal} while {during}; nothing was run and no report was written")]
    Stopped {
        /// The signal's name (`SIGINT`, …).
        signal: &'static str,
        /// What batchrun was doing: "reading and checking the manifest", …
        during: &'static str,
    },
}

impl Error {
    /// A usage error with one message.
    pub fn usage(message: impl Into<String>) -> Error {
        Error::Usage(vec![message.into()])
    }

    /// The exit code batchrun ends with after this error.
    pub fn exit(&self) -> Exit {
        match self {
            Error::Usage(_) | Error::Invalid { .. } | Error::ReadManifest { .. } => Exit::Usage,
            Error::Locked { .. } => Exit::Locked,
            Error::Output { .. } | Error::Internal(_) => Exit::Internal,
            Error::Stopped { .. } => Exit::Interrupted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_its_exit_code() {
        assert_eq!(Error::usage("x").exit(), Exit::Usage);
        assert_eq!(
            Error::Locked {
                path: "l".into(),
                holder: String::new()
            }
            .exit(),
            Exit::Locked
        );
        assert_eq!(Error::Internal("x".into()).exit(), Exit::Internal);
    }
}
