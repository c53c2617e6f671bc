//! What the user sees and keeps: the console, the reports, the joblog, the event stream and
//! the metrics.

pub(crate) mod console;
pub(crate) mod events;
pub(crate) mod in_order;
pub(crate) mod joblog;
pub(crate) mod metrics;
pub(crate) mod ping;
pub mod report;
pub(crate) mod text;
