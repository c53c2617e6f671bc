//! Plain values used everywhere: no I/O, no threads.

pub mod error;
pub mod exit;
pub mod outcome;
pub mod results;
pub mod shard;
pub mod config;
pub mod job;
pub mod problem;
