//! clap's mirrors of the model's plain enums, with `From` into them, so no clap type reaches
//! past `cli` (cargo-nextest's `value_enums.rs` pattern).

use crate::model::config::OutputMode;

/// `--output MODE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputArg {
    /// Each job's stdout and stderr printed whole when it ends, never interleaved.
    Group,
    /// Like `group`, with every line prefixed `[id] `.
    Tag,
    /// Not shown (still kept with `--output-dir`, and stderr tails still reach the summary).
    None,
}

impl From<OutputArg> for OutputMode {
    fn from(a: OutputArg) -> OutputMode {
        match a {
            OutputArg::Group => OutputMode::Group,
            OutputArg::Tag => OutputMode::Tag,
            OutputArg::None => OutputMode::None,
        }
    }
}
