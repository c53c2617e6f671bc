//! The `batchrun` binary: parse flags, set up logging and signals, call [`batchrun::run`],
//! and turn the result into an exit code.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use batchrun::cli::{Action, Cli};
use batchrun::error::Error;
use batchrun::{console, exit};

fn init_logging(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => log::LevelFilter::Error,
        (false, 0) => log::LevelFilter::Warn,
        (false, 1) => log::LevelFilter::Info,
        (false, 2) => log::LevelFilter::Debug,
        (false, _) => log::LevelFilter::Trace,
    };
    env_logger::Builder::new()
        .filter_level(level)
        .parse_env("RUST_LOG")
        .target(env_logger::Target::Pipe(Box::new(console::LogWriter)))
        .format(|buf, record| {
            writeln!(
                buf,
                "batchrun: {} {}: {}",
                buf.timestamp_millis(),
                record.level().as_str().to_lowercase(),
                record.args()
            )
        })
        .init();
}

fn report_error(e: &Error) {
    if let Error::Invalid { problems, .. } = e {
        let mut err = std::io::stderr().lock();
        for p in problems {
            let _ = writeln!(err, "{p}");
        }
    }
    console::eprint_line(&e.to_string());
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match cli.into_config() {
        Ok(c) => c,
        Err(e) => {
            init_logging(0, false);
            report_error(&e);
            return ExitCode::from(exit::for_error(&e) as u8);
        }
    };
    let quiet = matches!(&config.action, Action::Run(r) if r.quiet);
    init_logging(config.verbose, quiet);
    if let Some(dir) = &config.dir {
        if let Err(e) = std::env::set_current_dir(dir) {
            console::eprint_line(&format!("-C {}: {e}", dir.display()));
            return ExitCode::from(exit::USAGE as u8);
        }
    }
    // Before any thread starts: every job inherits BATCHRUN_SHARD.
    batchrun::shard::export_env(config.shard);
    let signals = match &config.action {
        Action::Run(r) if !r.dry_run => match batchrun::cancel::install_signal_handler() {
            Ok(s) => s,
            Err(e) => {
                console::eprint_line(&format!("cannot install the signal handler: {e}"));
                return ExitCode::from(exit::INTERNAL as u8);
            }
        },
        _ => batchrun::SignalSource::manual().0,
    };
    match batchrun::run(&config, signals) {
        Ok(f) => ExitCode::from(f.exit_code as u8),
        Err(e) => {
            report_error(&e);
            ExitCode::from(exit::for_error(&e) as u8)
        }
    }
}
