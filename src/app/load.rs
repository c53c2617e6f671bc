//! Reading, validating, hashing and shard-selecting a manifest: from a [`Config`] to the
//! [`Plan`] of the jobs this run is about.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::manifest;
use crate::model::config::{Action, Config};
use crate::model::error::Error;
use crate::plan::Plan;
use crate::process::signals::{SignalEvent, SignalSource};

/// What batchrun is doing while [`load_plan_or_stop`] waits (for the stop message).
const LOADING: &str = "reading and checking the manifest";

/// [`load_plan`], ended early by a stop signal: the manifest is read and checked on a thread
/// of its own while this one waits for it or for a signal, so a signal during a read that
/// blocks (standard input from a pipe that stays open) or a long check ends the run at once
/// with [`Error::Stopped`]. The reading thread is left behind; the process exits without
/// waiting for it. A status request (SIGUSR1) is answered on the log: there is no run yet.
/// With no thread free (`ulimit -u`), the manifest is read on this thread.
pub fn load_plan_or_stop(config: &Config, signals: &SignalSource) -> Result<Plan, Error> {
    let stopped = |s: crate::process::signals::StopSignal| Error::Stopped {
        signal: s.name(),
        during: LOADING,
    };
    if let Some(s) = signals.pending_stop() {
        return Err(stopped(s));
    }
    let (tx, rx) = crossbeam_channel::bounded(1);
    let owned = config.clone();
    let spawned = std::thread::Builder::new()
        .name("batchrun-load".into())
        .spawn(move || {
            let _ = tx.send(load_plan(&owned));
        });
    if spawned.is_err() {
        return load_plan(config);
    }
    let mut events = Some(&signals.events);
    loop {
        let never = crossbeam_channel::never();
        crossbeam_channel::select! {
            recv(rx) -> r => {
                return r.unwrap_or_else(|_| {
                    Err(Error::Internal("the manifest reader thread panicked".into()))
                });
            }
            recv(events.unwrap_or(&never)) -> e => match e {
                Ok(SignalEvent::Stop(s)) => return Err(stopped(s)),
                Ok(SignalEvent::Status) => log::warn!("status: {LOADING}; no job has started"),
                Err(_) => events = None,
            },
        }
    }
}

/// Reads and validates the manifest named in `config`, returning the plan or every problem.
/// With `--shard`, the whole manifest is validated, then the plan keeps only the shard's jobs.
pub fn load_plan(config: &Config) -> Result<Plan, Error> {
    // `check`, `--dry-run` and `merge` start nothing and end in seconds: they map a regular
    // file, and its pages leave the RSS as they are read (`util::bytes`). A run reads its own
    // copy.
    let (map, hash) = match &config.action {
        Action::Check => (true, false),
        Action::Run(rc) => (rc.dry_run, !rc.dry_run),
        Action::Merge(_) => (true, true),
    };
    let bytes = manifest::read_source_bytes(&config.manifest, map).map_err(|source| {
        Error::ReadManifest {
            path: looked_for(config),
            source,
        }
    })?;
    // Only reports name the manifest's hash: `check` and `--dry-run` write none.
    let sha256 = if hash {
        sha256_released(&bytes)
    } else {
        String::new()
    };
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
fn validate(config: &Config, bytes: crate::util::bytes::Bytes) -> Result<Plan, Error> {
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

/// The hex SHA-256 of a manifest's bytes (the `manifest_sha256` of reports), letting go of
/// each chunk once hashed (a mapped manifest's pages do not stay resident:
/// [`crate::util::bytes::Bytes::release`]).
fn sha256_released(bytes: &crate::util::bytes::Bytes) -> String {
    const CHUNK: usize = 1 << 20;
    let mut h = Sha256::new();
    for (k, chunk) in bytes.chunks(CHUNK).enumerate() {
        h.update(chunk);
        bytes.release(k * CHUNK..k * CHUNK + chunk.len());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_hash() {
        assert_eq!(
            sha256_released(&b"a".to_vec().into()),
            "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
        );
    }
}
