//! The compact store of a manifest's jobs.

pub mod jobs;
