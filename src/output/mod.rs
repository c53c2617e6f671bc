//! What the user sees and keeps: the console, the reports and the joblog.

pub(crate) mod console;
pub(crate) mod joblog;
pub(crate) mod ping;
pub mod report;
pub(crate) mod text;
