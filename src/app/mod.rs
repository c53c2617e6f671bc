/*!
What each subcommand does, from a validated [`Config`] to a [`Finished`]: load and check the
manifest, `check` and `--dry-run`, one real run from start to end, and `merge`.
*/

pub(crate) mod balance;
pub(crate) mod check;
pub(crate) mod hook;
pub(crate) mod load;
pub(crate) mod merge;
pub(crate) mod merge_inputs;
pub(crate) mod preflight;
pub(crate) mod resume;
pub(crate) mod session;

use crate::event::summary::RunSummary;
use crate::model::config::{Action, Config};
use crate::model::error::Error;
use crate::model::exit::Exit;
use crate::model::shard::Shard;
use crate::output::console;
use crate::process::signals::SignalSource;

/// Prepares the process for `config` before any thread starts: with `--shard`, exports
/// `BATCHRUN_SHARD` for every job (and without, removes an inherited one).
pub fn prepare_process(config: &Config) {
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
/// `signals`. Prints job output, notices and the summary; returns the exit code.
pub fn run(config: &Config, signals: SignalSource) -> Result<Finished, Error> {
    if let Action::Merge(mc) = &config.action {
        let (exit, summary) = merge::merge(config, mc)?;
        return Ok(Finished {
            exit,
            summary: Some(summary),
        });
    }
    let plan = load::load_plan(config)?;
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
            return Ok(Finished {
                exit: Exit::Success,
                summary: None,
            });
        }
        Action::Run(rc) => rc,
    };
    if rc.dry_run {
        check::dry_run(&plan, rc)?;
        return Ok(Finished {
            exit: Exit::Success,
            summary: None,
        });
    }
    session::run_plan(&plan, rc, signals)
}

/// Makes every job of this process see `BATCHRUN_SHARD=K/N`: call before any thread starts
/// (children inherit the environment).
pub fn export_env(shard: Option<Shard>) {
    match shard {
        Some(s) => std::env::set_var("BATCHRUN_SHARD", s.to_string()),
        None => std::env::remove_var("BATCHRUN_SHARD"),
    }
}
