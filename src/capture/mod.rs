//! Where job output is captured: capture files and their reuse.

pub(crate) mod spare;
