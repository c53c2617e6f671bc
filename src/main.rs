//! The `batchrun` binary: parse flags, set up logging and signals, call [`batchrun::run`],
//! and turn the result into an exit code.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use batchrun::Action;
use batchrun::Cli;
use batchrun::Error;

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
        .target(env_logger::Target::Pipe(Box::new(batchrun::LogWriter)))
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

/// The signal source for `action`: the real handler, installed before the manifest is read so
/// that a stop signal while it is read ends batchrun at once (exit 130). When no thread can
/// be started for the handler, `check`, `--dry-run` and `merge` go on without it; a real run
/// cannot.
fn install_signals(action: &Action) -> Result<batchrun::SignalSource, Error> {
    match batchrun::install_signal_handler() {
        Ok(s) => Ok(s),
        Err(e) if matches!(action, Action::Run(r) if !r.dry_run) => Err(Error::Internal(format!(
            "cannot install the signal handler: {e}"
        ))),
        Err(_) => Ok(batchrun::SignalSource::manual().0),
    }
}

fn main() -> ExitCode {
    // Before anything else, while batchrun is small: the processes that start its jobs, so a
    // job's peak memory is its own (ended and reaped when `_spawners` drops).
    let _spawners = batchrun::start_spawners();
    // Then: a status request (SIGUSR1) while batchrun starts must not kill it.
    batchrun::ignore_status_requests();
    let cli = Cli::parse();
    if let Some(text) = cli.generated() {
        return match batchrun::write_stdout(&text) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                let e = Error::Internal(format!("cannot write to stdout: {e}"));
                batchrun::print_error(&e);
                ExitCode::from(e.exit().code())
            }
        };
    }
    // With --ping, a cron run that cannot even start still tells its health check.
    let ping = cli.ping_url();
    let fail = |e: Error| {
        batchrun::print_error(&e);
        if let Some(url) = &ping {
            batchrun::ping_error(url, &e);
        }
        ExitCode::from(e.exit().code())
    };
    let config = match cli.into_config() {
        Ok(c) => c,
        Err(e) => {
            init_logging(0, false);
            return fail(e);
        }
    };
    let quiet = matches!(&config.action, Action::Run(r) if r.quiet);
    init_logging(config.verbose, quiet);
    if let Some(dir) = &config.dir {
        if let Err(e) = std::env::set_current_dir(dir) {
            return fail(Error::usage(format!("-C {}: {e}", dir.display())));
        }
    }
    // Before any thread starts: every job inherits BATCHRUN_SHARD.
    batchrun::prepare_process(&config);
    let signals = match install_signals(&config.action) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    match batchrun::run(&config, signals) {
        Ok(f) => ExitCode::from(f.exit.code()),
        Err(e) => {
            batchrun::print_error(&e);
            ExitCode::from(e.exit().code())
        }
    }
}
