//! Child processes: one attempt, spawning, reaping, cancellation and signals.

pub mod board;
pub mod cancel;
pub(crate) mod exec;
pub(crate) mod group;
pub(crate) mod reaper;
pub mod signals;
