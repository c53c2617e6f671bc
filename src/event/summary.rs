//! The summary of a finished run: what the reports, the summary lines and `--on-finish` read.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use crate::model::exit::Decision;
use crate::model::outcome::{RunOutcome, Status};
use crate::model::results::Results;
use crate::model::shard::Shard;
use crate::plan::Plan;
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
    /// With `--balance-from`: the hex SHA-256 of the report the shards were balanced by.
    pub balance_sha256: Option<String>,
    /// Set on the report of `batchrun merge`, so a merged report is told apart from a shard's.
    pub merged: Option<MergeInfo>,
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

/// What a merged report was made of.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MergeInfo {
    /// N: the shards merged.
    pub shards: u32,
    /// The shards whose results came from their joblogs (`merge --joblog`), ascending.
    pub recovered_from_joblogs: Vec<u32>,
}

/// When a run (or the shards of a merge) ran.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    /// When it started.
    pub started_at: SystemTime,
    /// When it ended.
    pub finished_at: SystemTime,
    /// Its wall time.
    pub duration: Duration,
}

impl RunSummary {
    /// The summary of `plan`'s jobs with their `results`, as `decision` decided: the one
    /// constructor, for a run and for a merge.
    pub fn new(
        plan: &Plan,
        results: Results,
        decision: Decision,
        span: Span,
        workers: usize,
        internal_errors: Vec<String>,
    ) -> RunSummary {
        // A merged shard may report more attempts than its row allows today (the manifest
        // changed); a run never does.
        let max_attempts = (0..plan.jobs.len())
            .map(|i| {
                let allowed = plan.jobs.retries(i).saturating_add(1);
                allowed.max(results.attempts(i))
            })
            .collect();
        RunSummary {
            manifest: plan.manifest.clone(),
            manifest_sha256: plan.manifest_sha256.clone(),
            shard: plan.shard,
            balance_sha256: plan.balance.as_ref().map(|b| b.sha256.clone()),
            merged: None,
            started_at: span.started_at,
            finished_at: span.finished_at,
            duration: span.duration,
            workers,
            outcome: decision.outcome,
            exit_code: decision.exit.code().into(),
            jobs: plan.jobs.clone(),
            max_attempts,
            results,
            internal_errors,
        }
    }

    /// How many jobs ended with each status.
    pub fn counts(&self) -> BTreeMap<Status, usize> {
        // Counted in an array by the status's place: a map's lookup for each of a million jobs
        // costs more, and the report, the summary and the hooks each ask.
        let mut n = [0usize; Status::ALL.len()];
        for status in self.results.statuses() {
            n[status as usize] += 1;
        }
        Status::ALL.iter().map(|&s| (s, n[s as usize])).collect()
    }
}
