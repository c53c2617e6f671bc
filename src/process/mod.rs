//! Child processes: one attempt, spawning, reaping, cancellation and signals.

pub mod cancel;
pub(crate) mod exec;
pub(crate) mod reaper;
pub(crate) mod status;
