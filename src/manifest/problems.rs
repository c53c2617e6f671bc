//! The problems found while reading a manifest ([`Problems`]), and a row's view of them
//! ([`Row`]): each problem with the manifest's name, its line and its column.

use crate::model::problem::Problem;

/// Every problem found so far, with the manifest's name.
pub(crate) struct Problems<'a> {
    pub(crate) name: &'a str,
    pub(crate) list: Vec<Problem>,
}

impl<'a> Problems<'a> {
    pub(crate) fn new(name: &'a str) -> Self {
        Problems {
            name,
            list: Vec::new(),
        }
    }

    /// A problem in the manifest, at `line` and `column` when known.
    pub(crate) fn push(
        &mut self,
        line: Option<u64>,
        column: Option<&str>,
        message: impl Into<String>,
    ) {
        self.list.push(Problem {
            origin: self.name.to_string(),
            line,
            column: column.map(str::to_string),
            message: message.into(),
        });
    }

    /// A problem in a command-line option.
    pub(crate) fn option(&mut self, option: &str, message: String) {
        self.list.push(Problem {
            origin: option.to_string(),
            line: None,
            column: None,
            message,
        });
    }
}

/// One row being turned into a job: its line, and the problems found.
pub(crate) struct Row<'p, 'n> {
    pub(crate) line: u64,
    pub(crate) problems: &'p mut Problems<'n>,
}

impl Row<'_, '_> {
    pub(crate) fn err(&mut self, column: &str, message: impl Into<String>) {
        self.problems.push(Some(self.line), Some(column), message);
    }
}
