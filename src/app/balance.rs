/*!
`--balance-from REPORT.json`: the recorded durations that balance `--shard` by time instead of
by count (see [`crate::plan::shard::assign_balanced`]). Any JSON report of the manifest serves:
an earlier merged report, or a run of the whole manifest. The report's SHA-256 goes into every
shard report (`balance_sha256`), and `merge` needs the same file to recompute the partition.
*/

use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::model::error::Error;
use crate::plan::shard::Durations;

#[derive(Deserialize)]
struct DurReport {
    schema: u32,
    jobs: Vec<DurJob>,
}

#[derive(Deserialize)]
struct DurJob {
    id: String,
    duration_ms: Option<u64>,
}

/// Reads the report at `path`: its hex SHA-256 and the duration of every job that has one.
pub fn read(path: &Path) -> Result<(String, Durations), Error> {
    let name = path.display();
    let bytes = std::fs::read(path)
        .map_err(|e| Error::usage(format!("--balance-from {name}: cannot read: {e}")))?;
    let r: DurReport = serde_json::from_slice(&bytes).map_err(|e| {
        Error::usage(format!(
            "--balance-from {name}: not a batchrun JSON report ({e})"
        ))
    })?;
    if r.schema != 1 {
        return Err(Error::usage(format!(
            "--balance-from {name}: not a batchrun JSON report (schema {}, expected 1)",
            r.schema
        )));
    }
    let durations = r
        .jobs
        .into_iter()
        .filter_map(|j| Some((j.id, j.duration_ms?)))
        .collect();
    let sha256 = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((sha256, durations))
}
