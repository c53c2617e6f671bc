/*!
batchrun: run the jobs of a CSV manifest as child processes on a fixed pool of OS worker
threads, cancel cooperatively, collect every error, write a report, and exit with a code that
shell scripts can trust.

The library exists for the `batchrun` binary, its fuzz targets and its benchmarks: it carries
**no semver guarantee**, and its surface is only what those use. [`Cli`] turns flags into a
[`Config`]; [`run()`] does what it asks with signals from a [`SignalSource`] and returns a
[`Finished`]; [`parse_manifest`] and [`Plan::new`] check a manifest on their own;
[`WorkerPool`] runs closures on a fixed set of threads.

# Layers

Every source file belongs to one top-level module, and a module imports only from modules on
lower layers (two modules on one layer never import each other). No two files import each other
in a circle. `tests/layers.rs` checks both against this table, and README's *Design* shows it.

```text
L9  main
L8  app | cli
L7  run | output
L6  event
L5  process | capture
L4  plan
L3  manifest
L2  store
L1  model
L0  util
```
*/
#![warn(missing_docs)]
// The internals are documented too (`cargo doc --document-private-items`, as CI builds them),
// and public docs may point into them.
#![allow(rustdoc::private_intra_doc_links)]

pub(crate) mod app;
pub(crate) mod capture;
pub(crate) mod cli;
pub(crate) mod event;
pub(crate) mod manifest;
pub(crate) mod model;
pub(crate) mod output;
pub(crate) mod plan;
pub(crate) mod process;
pub(crate) mod run;
pub(crate) mod store;
pub(crate) mod util;

pub use app::load::load_plan;
pub use app::merge::fold_reports;
pub use app::{ping_error, prepare_process, run, Finished};
pub use cli::Cli;
pub use event::summary::RunSummary;
pub use manifest::{parse as parse_manifest, Manifest};
pub use model::config::{Action, Config, InputFormat, ManifestOptions};
pub use model::error::Error;
pub use model::exit::Exit;
pub use model::job::{CommandLine, JobSpec};
pub use output::console::{print_error, write_stdout, LogWriter};
pub use plan::Plan;
pub use process::cancel::CancelToken;
pub use process::exec::{start_spawners, SpawnerGuard};
pub use process::signals::{
    ignore_status_requests, install_signal_handler, SignalEvent, SignalSource, StopSignal,
};
pub use run::pool::WorkerPool;
