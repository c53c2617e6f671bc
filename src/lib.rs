/*!
batchrun: run the jobs of a CSV manifest as child processes on a fixed pool of OS worker
threads, cancel cooperatively, collect every error, write a report, and exit with a code that
shell scripts can trust.
*/
#![warn(missing_docs)]
// The internals are documented too (`cargo doc --document-private-items`, as CI builds them),
// and public docs may point into them.
#![allow(rustdoc::private_intra_doc_links)]

pub mod app;
pub mod capture;
pub mod cli;
pub mod event;
pub mod manifest;
pub mod model;
pub mod output;
pub mod plan;
pub mod process;
pub mod run;
pub mod store;
pub mod util;

pub use app::load::load_plan;
pub use app::{prepare_process, run, Finished};
pub use model::config::Config;
pub use model::error::Error;
pub use model::exit::Exit;
pub use output::console::{print_error, write_stdout, LogWriter};
pub use process::cancel::CancelToken;
pub use process::signals::{install_signal_handler, SignalSource};
pub use run::pool::WorkerPool;
