//! A located diagnostic: where a problem is and what is wrong.

use std::fmt;

/// One problem found while validating: where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The manifest's name as given on the command line (`-` is shown as `<stdin>`), or the
    /// option the problem is in.
    pub origin: String,
    /// 1-based line in the manifest, when the problem is in a row.
    pub line: Option<u64>,
    /// The column the problem is in, when there is one.
    pub column: Option<String>,
    /// What is wrong, then what was expected in parentheses.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.origin)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(col) = &self.column {
            write!(f, ": column '{col}'")?;
        }
        write!(f, ": {}", self.message)
    }
}
