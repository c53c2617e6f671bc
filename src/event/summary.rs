//! The summary of a finished run: what the reports, the summary lines and `--on-finish` read.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use crate::model::outcome::{RunOutcome, Status};
use crate::model::results::Results;
use crate::model::shard::Shard;
use crate::store::jobs::Jobs;

/// Everything a report says about a finished run.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// The manifest's display name.
    pub manifest: String,
    /// Hex SHA-256 of the manifest's bytes.
    pub manifest_sha256: String,
    /// With `--shard`: which shard ran.
    pub shard: Option<Shard>,
    /// When the run started.
    pub started_at: SystemTime,
    /// When it ended.
    pub finished_at: SystemTime,
    /// Its wall time.
    pub duration: Duration,
    /// Worker threads.
    pub workers: usize,
    /// How it ended.
    pub outcome: RunOutcome,
    /// batchrun's exit code.
    pub exit_code: i32,
    /// The plan's jobs, in manifest order (their ids, and their commands as `--dry-run`
    /// prints them).
    pub jobs: Jobs,
    /// One result per job, in manifest order.
    pub results: Results,
    /// For each job, its retries + 1.
    pub max_attempts: Vec<u32>,
    /// batchrun's own errors during the run.
    pub internal_errors: Vec<String>,
}

impl RunSummary {
    /// How many jobs ended with each status.
    pub fn counts(&self) -> BTreeMap<Status, usize> {
        let mut c: BTreeMap<Status, usize> = Status::ALL.iter().map(|&s| (s, 0)).collect();
        for status in self.results.statuses() {
            *c.entry(status).or_default() += 1;
        }
        c
    }
}
