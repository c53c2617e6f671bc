//! Reading, validating, hashing and shard-selecting a manifest: from a [`Config`] to the
//! [`Plan`] of the jobs this run is about.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::manifest;
use crate::model::config::Config;
use crate::model::error::Error;
use crate::plan::Plan;

/// Reads and validates the manifest named in `config`, returning the plan or every problem.
/// With `--shard`, the whole manifest is validated, then the plan keeps only the shard's jobs.
pub fn load_plan(config: &Config) -> Result<Plan, Error> {
    let bytes = manifest::read_source(&config.manifest).map_err(|source| Error::ReadManifest {
        path: looked_for(config),
        source,
    })?;
    let sha256 = sha256_hex(&bytes);
    let mut plan = validate(config, bytes)?;
    plan.manifest_sha256 = sha256;
    Ok(match (config.shard, &config.balance_from) {
        (Some(s), Some(path)) => {
            let (sha256, durations) = crate::app::balance::read(path)?;
            crate::plan::shard::select_balanced(plan, s, &durations, sha256)
        }
        (Some(s), None) => crate::plan::shard::select(plan, s),
        (None, _) => plan,
    })
}

/// The manifest's path as given, and with `-C DIR` and a relative path, where it was looked
/// for: `m.csv (looked for proj/m.csv)`.
fn looked_for(config: &Config) -> String {
    let m = &config.manifest;
    match &config.dir {
        Some(dir) if m != "-" && Path::new(m).is_relative() => {
            format!("{m} (looked for {})", dir.join(m).display())
        }
        _ => m.clone(),
    }
}

/// Parses and checks the manifest's bytes into the plan of every job.
fn validate(config: &Config, bytes: Vec<u8>) -> Result<Plan, Error> {
    let name = manifest::display_name(&config.manifest);
    let tsv = Path::new(&config.manifest)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("tsv"));
    let invalid = |problems| Error::Invalid {
        manifest: name.clone(),
        problems,
    };
    // Cross-row checks run on the valid rows even when others have problems, so one pass
    // reports everything.
    let (m, mut problems) = manifest::parse_all(&name, bytes, tsv, &config.manifest_options);
    // Logged, so `-q` keeps a cron run that succeeds silent.
    for w in &m.warnings {
        log::warn!("{w}");
    }
    match Plan::new(m, &config.limits) {
        Ok(plan) if problems.is_empty() => Ok(plan),
        Ok(_) => Err(invalid(problems)),
        Err(more) => {
            problems.extend(more);
            problems.sort_by_key(|p| p.line.unwrap_or(u64::MAX));
            Err(invalid(problems))
        }
    }
}

/// The hex SHA-256 of `bytes` (the `manifest_sha256` of reports).
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_hash() {
        assert_eq!(
            sha256_hex(b"a"),
            "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
        );
    }
}
