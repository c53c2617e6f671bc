//! Plain values used everywhere: no I/O, no threads.

pub mod config;
pub mod error;
pub mod exit;
pub mod job;
pub mod outcome;
pub mod problem;
pub mod results;
pub mod retry;
pub mod shard;
