//! `merge` on arbitrary inputs: a manifest and shard reports, parsed and folded into one
//! summary, never a panic (huge counts and numbers included: sums saturate).
//!
//! The input is the manifest (CSV), then the reports, separated by NUL bytes. A valid plan's
//! reports are folded as `batchrun merge` folds them once the manifest is loaded; a merged
//! summary has one result per job of the manifest.
#![no_main]

use std::path::Path;

use batchrun::{fold_reports, parse_manifest, ManifestOptions, Plan};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|&b| b == 0);
    let Some(manifest) = parts.next() else {
        return;
    };
    let Ok(m) = parse_manifest("fuzz.csv", manifest, false, &ManifestOptions::default()) else {
        return;
    };
    let Ok(plan) = Plan::new(m, &[]) else {
        return;
    };
    let reports: Vec<(&Path, &[u8])> = parts.map(|r| (Path::new("shard.json"), r)).collect();
    if let Ok(summary) = fold_reports(&plan, &reports) {
        assert_eq!(summary.results.len(), plan.jobs.len());
        let _ = summary.counts();
    }
});
