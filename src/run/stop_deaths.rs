/*!
Jobs that die of the signal that stopped the run. A cluster engine stopping a task (`scancel`,
a pod's deletion) signals every process of it at once, batchrun and its jobs alike, so a job can
die of SIGTERM just before or just after batchrun receives its own. Such a job was stopped with
the run: it is `cancelled` ([`KillReason::StopSignal`]), not `failed`, and not retried.

A job that dies of a stop signal batchrun did not send is held back (not retried, not reported)
until batchrun receives a stop signal or [`STOP_SIGNAL_WINDOW`] has passed since the job died;
a job dying within the window after batchrun's signal is `cancelled` at once.
*/

use std::time::{Instant, SystemTime};

use crate::capture::Anonymous;
use crate::model::job::JobSpec;
use crate::model::outcome::{Attempt, AttemptEnd, KillReason, STOP_SIGNAL_WINDOW};

/// An attempt that ended with a job's death by a stop signal, waiting to be told apart.
pub(crate) struct Held {
    /// The job's index in the plan.
    pub index: usize,
    /// The attempt, as the worker reported it.
    pub attempt: Attempt,
    /// Its output, when that went to anonymous files.
    pub anonymous: Anonymous,
    /// The job as the worker built it.
    pub job: Box<JobSpec>,
    /// When it stops being held: a `failed` attempt then.
    until: Instant,
}

/// The stop signals batchrun received, and the attempts held back waiting for one.
#[derive(Default)]
pub(crate) struct StopDeaths {
    /// When batchrun last received a stop signal (wall clock, as attempts' ends are).
    last_stop: Option<SystemTime>,
    /// Attempts held, oldest first.
    held: Vec<Held>,
}

/// Marks the attempt as stopped with the run.
fn cancelled(mut h: Held) -> Held {
    if let AttemptEnd::Ended { killed, .. } = &mut h.attempt.end {
        *killed = Some(KillReason::StopSignal);
    }
    h
}

/// Whether `a` and `b` are at most [`STOP_SIGNAL_WINDOW`] apart, either way.
fn close(a: SystemTime, b: SystemTime) -> bool {
    let gap = a.duration_since(b).or_else(|_| b.duration_since(a));
    gap.is_ok_and(|g| g <= STOP_SIGNAL_WINDOW)
}

impl StopDeaths {
    /// batchrun received a stop signal: every held attempt is `cancelled`, and returned.
    pub fn on_stop(&mut self, now: SystemTime) -> Vec<Held> {
        self.last_stop = Some(now);
        self.held.drain(..).map(cancelled).collect()
    }

    /// An attempt came back: returned to go on at once (`cancelled` when it died of a stop
    /// signal close to batchrun's), or held (`None`) when it died of a stop signal and batchrun
    /// has received none yet.
    pub fn arrived(
        &mut self,
        index: usize,
        attempt: Attempt,
        anonymous: Anonymous,
        job: Box<JobSpec>,
    ) -> Option<Held> {
        let h = Held {
            index,
            attempt,
            anonymous,
            job,
            until: Instant::now() + STOP_SIGNAL_WINDOW,
        };
        if !h.attempt.died_of_stop_signal() {
            return Some(h);
        }
        match self.last_stop {
            Some(t) if close(t, h.attempt.ended_at()) => Some(cancelled(h)),
            // A stop long before: the job died of something else's signal.
            Some(_) => Some(h),
            None => {
                self.held.push(h);
                None
            }
        }
    }

    /// The held attempts whose window has passed with no stop signal: they go on as they are.
    pub fn expired(&mut self, now: Instant) -> Vec<Held> {
        let n = self.held.iter().take_while(|h| h.until <= now).count();
        self.held.drain(..n).collect()
    }

    /// When the oldest held attempt's window ends.
    pub fn next_wake(&self) -> Option<Instant> {
        self.held.first().map(|h| h.until)
    }

    /// Whether no attempt is held.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }
}
