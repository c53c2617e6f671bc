//! Integration tests: the real `batchrun` binary on real manifests, with real child processes
//! and real signals. One test binary; each area in its own module.

mod util;

mod balance;
mod core;
mod cron;
mod engines;
mod faults;
mod hostile;
mod layers;
mod lists;
mod merge_recovery;
mod operators;
mod ops;
mod ping;
mod resource_limits;
mod retry_on;
mod scale;
mod sched;
mod shard;
mod shellusers;
mod snapshots;
mod spawn;
mod stop_signal;
mod stops;
