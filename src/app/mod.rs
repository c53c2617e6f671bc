/*!
What each subcommand does, from a validated [`Config`] to a [`Finished`]: load and check the
manifest, `check` and `--dry-run`, one real run from start to end, and `merge`.
*/

pub(crate) mod balance;
pub(crate) mod check;
pub(crate) mod hook;
pub(crate) mod load;
pub(crate) mod merge;
pub(crate) mod merge_index;
pub(crate) mod merge_inputs;
pub(crate) mod merge_read;
pub(crate) mod preflight;
pub(crate) mod resume;
pub(crate) mod session;

use crate::event::summary::RunSummary;
use crate::model::config::{Action, Config, RunConfig};
use crate::model::error::Error;
use crate::model::exit::Exit;
use crate::model::shard::Shard;
use crate::output::console;
use crate::output::ping::{self, Pinger};
use crate::process::signals::SignalSource;

/// Prepares the process for `config` before any thread starts: with `--shard`, exports
/// `BATCHRUN_SHARD` for every job (and without, removes an inherited one); under `ulimit -v`,
/// one malloc arena for every thread ([`crate::util::sys::fit_malloc_to_address_space`]).
pub fn prepare_process(config: &Config) {
    crate::util::sys::fit_malloc_to_address_space();
    export_env(config.shard);
}

/// What [`run`] did.
#[derive(Debug)]
pub struct Finished {
    /// The exit code batchrun should end with.
    pub exit: Exit,
    /// The run's summary, when jobs were run.
    pub summary: Option<RunSummary>,
}

/// Does what `config` asks: `check`, `run --dry-run`, or a real run with signals from
/// `signals`. Prints job output, notices and the summary; returns the exit code. With
/// `--ping`, the health check hears how it ended, errors included.
pub fn run(config: &Config, signals: SignalSource) -> Result<Finished, Error> {
    if let Action::Run(RunConfig {
        deadline_note: Some(note),
        ..
    }) = &config.action
    {
        log::warn!("{note}");
    }
    let mut ping = match &config.action {
        Action::Run(rc) if !rc.dry_run => rc.ping.as_deref(),
        Action::Merge(mc) => mc.ping.as_deref(),
        _ => None,
    }
    .map(Pinger::new);
    let result = run_action(config, signals, ping.as_mut());
    if let Some(p) = ping {
        match &result {
            Ok(f) => {
                let body = match &f.summary {
                    Some(s) => ping::run_body(s, f.exit),
                    None => format!("exit code: {}\n", f.exit.code()),
                };
                p.finish(f.exit, body);
            }
            Err(e) => p.finish(e.exit(), ping::error_body(e)),
        }
    }
    result
}

/// Tells the health check at `url` (`--ping`) that batchrun ended with `e` before it could do
/// what it was asked (bad flags).
pub fn ping_error(url: &str, e: &Error) {
    Pinger::new(url).finish(e.exit(), ping::error_body(e));
}

/// [`run`] without the final ping; a real run sends `/start` through `ping`.
fn run_action(
    config: &Config,
    signals: SignalSource,
    ping: Option<&mut Pinger>,
) -> Result<Finished, Error> {
    if let Action::Merge(mc) = &config.action {
        let (exit, summary) = merge::merge(config, mc, &signals)?;
        return Ok(Finished {
            exit,
            summary: Some(summary),
        });
    }
    let plan = load::load_plan_or_stop(config, &signals)?;
    if config.implicit_stdin && config.shard.is_none() && plan.jobs.is_empty() {
        // As `xargs -r`: nothing to do is a success, but never a silent one (not even with
        // `-q`): a pipe that gave nothing is often a mistake upstream.
        console::eprint_line(crate::output::text::NO_ITEMS);
        return Ok(Finished {
            exit: Exit::Success,
            summary: None,
        });
    }
    let rc = match &config.action {
        // (`merge` returned above.)
        Action::Check | Action::Merge(_) => {
            console::stream_stdout(|w| check::write_plan_table(w, &plan));
            return printed(&signals);
        }
        Action::Run(rc) => rc,
    };
    if rc.dry_run {
        check::dry_run(&plan, rc)?;
        return printed(&signals);
    }
    session::run_plan(&plan, rc, signals, ping)
}

/// The end of `check` and `--dry-run`, which print and run nothing: exit 0, or 130 when a stop
/// signal arrived while they printed.
fn printed(signals: &SignalSource) -> Result<Finished, Error> {
    if let Some(s) = signals.pending_stop() {
        return Err(Error::Stopped {
            signal: s.name(),
            during: "printing the plan",
        });
    }
    Ok(Finished {
        exit: Exit::Success,
        summary: None,
    })
}

/// Makes every job of this process see `BATCHRUN_SHARD=K/N`: call before any thread starts
/// (children inherit the environment).
pub fn export_env(shard: Option<Shard>) {
    match shard {
        Some(s) => std::env::set_var("BATCHRUN_SHARD", s.to_string()),
        None => std::env::remove_var("BATCHRUN_SHARD"),
    }
}
