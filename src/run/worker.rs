/*!
One task on a worker thread: check the token, create the capture files, run the attempt
([`crate::process::exec`]), and hand back what happened. A panic becomes an internal error of
the job, never a hung run.
*/

use std::fs::File;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::capture::{Anonymous, CreateError, OutputPaths};
use crate::model::job::JobSpec;
use crate::model::outcome::Attempt;
use crate::plan::Plan;
use crate::process::cancel::CancelToken;
use crate::process::exec::{self, ExecRequest};

/// Work for one attempt.
pub(crate) struct Task {
    pub(crate) index: usize,
    pub(crate) attempt: u32,
}

/// What a worker sends back.
pub(crate) enum TaskEnd {
    /// The run was stopped before the attempt started.
    NotStarted,
    /// Nothing could be created for it now (no descriptor or process free); not an attempt.
    Deferred(String),
    /// The attempt ran (or failed to start), with its output when that went to anonymous files,
    /// and the job as the worker built it from its row (so the dispatcher need not).
    Ran(Attempt, Anonymous, Box<JobSpec>),
    /// batchrun could not run or wait for it.
    Internal(String),
}

/// What the worker reports when a capture file cannot be created: a start put off (out of
/// descriptors), or batchrun's failure.
fn deferred_or_internal(e: CreateError) -> TaskEnd {
    if e.transient {
        TaskEnd::Deferred(e.message)
    } else {
        TaskEnd::Internal(e.message)
    }
}

/// What every worker shares.
pub(crate) struct Shared<'a> {
    pub(crate) plan: &'a Plan,
    pub(crate) token: &'a CancelToken,
    pub(crate) grace: Duration,
    pub(crate) paths: &'a OutputPaths,
    pub(crate) stdout_wanted: bool,
    /// Jobs whose process workers are running now; workers keep it up to date.
    pub(crate) running: &'a AtomicUsize,
    /// The live-status board: workers put attempts on it.
    pub(crate) board: Option<&'a crate::process::board::Board>,
}

/// Runs one attempt on a worker thread; a panic becomes an internal error of this job.
pub(crate) fn work(shared: &Shared<'_>, task: Task) -> TaskEnd {
    if shared.token.is_stopped() {
        return TaskEnd::NotStarted;
    }
    shared.running.fetch_add(1, Ordering::SeqCst);
    let end = catch_unwind(AssertUnwindSafe(|| work_started(shared, task))).unwrap_or_else(|p| {
        TaskEnd::Internal(format!(
            "a worker thread panicked: {}",
            crate::run::pool::panic_message(&*p)
        ))
    });
    shared.running.fetch_sub(1, Ordering::SeqCst);
    end
}

/// Creates one capture file for [`work_started`].
fn capture(
    shared: &Shared<'_>,
    index: usize,
    ext: &str,
    into: &mut Option<File>,
) -> Result<exec::Output, CreateError> {
    let (f, reader) = shared.paths.create(shared.plan.jobs.id(index), ext)?;
    *into = reader;
    Ok(exec::Output::File(f))
}

/// [`work`] once the job is counted as running.
fn work_started(shared: &Shared<'_>, task: Task) -> TaskEnd {
    let job = shared.plan.jobs.get(task.index);
    let mut anonymous = Anonymous::default();
    let stdout = if shared.stdout_wanted || shared.paths.keep {
        match capture(shared, task.index, "out", &mut anonymous.out) {
            Ok(s) => s,
            Err(e) => return deferred_or_internal(e),
        }
    } else {
        exec::Output::Null
    };
    let stderr = match capture(shared, task.index, "err", &mut anonymous.err) {
        Ok(s) => s,
        Err(e) => return deferred_or_internal(e),
    };
    match exec::run_attempt(ExecRequest {
        job: &job,
        attempt: task.attempt,
        stdout,
        stderr,
        grace: shared.grace,
        token: shared.token,
        board: shared.board,
    }) {
        Ok(a) => {
            if let Some(why) = crate::capture::files::capture_lost(&a, &shared.paths.dir) {
                return TaskEnd::Internal(format!("job '{}': {why}", job.id));
            }
            // With no job output shown, only a failure's stderr tail is ever read: a success's
            // file is not read. Empty (or unread) files are kept for this worker's next job.
            let unread = !shared.stdout_wanted && a.status().is_success();
            let clean = a.leaked_processes == 0;
            anonymous.out = crate::capture::spare::give_back(anonymous.out.take(), false, clean);
            anonymous.err = crate::capture::spare::give_back(anonymous.err.take(), unread, clean);
            TaskEnd::Ran(a, anonymous, Box::new(job))
        }
        Err(e) => TaskEnd::Internal(format!("waiting for job '{}' failed: {e}", job.id)),
    }
}
