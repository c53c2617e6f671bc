//! Integration tests: the real `batchrun` binary on real manifests, with real child processes
//! and real signals. One test binary; each area in its own module.

mod util;

mod core;
mod cron;
mod faults;
mod layers;
mod lists;
mod operators;
mod ops;
mod resource_limits;
mod scale;
mod sched;
mod shard;
mod snapshots;
mod spawn;
mod stops;
