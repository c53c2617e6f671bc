/*!
Every job's result, held compactly (issue 10): 16 bytes per job, plus 56 for a job whose last
attempt went as most do (it exited, with no error to tell and no stderr tail kept), and the
whole [`JobResult`] only for the others: failures, timeouts, jobs that left processes behind.
A job that never ran keeps its status and its reason, each distinct reason stored once (a run
stopped with a million jobs not started holds one "not started: …" text).

[`Results::get`] gives back exactly the [`JobResult`] that was [`Results::set`].
*/

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use crate::model::outcome::{Attempt, AttemptEnd, JobResult, Status};

use crate::util::sys::Usage;

/// Every job's result, by job index.
#[derive(Debug, Clone, Default)]
pub struct Results {
    slots: Vec<Slot>,
    plain: Vec<Plain>,
    /// Reasons of jobs that never ran, each once.
    texts: Vec<Box<str>>,
    text_index: HashMap<Box<str>, u32>,
}

/// One job's result.
#[derive(Debug, Clone)]
enum Slot {
    /// None yet.
    Empty,
    /// Never ran (no attempt, no stderr): its status and the index of its reason in `texts`
    /// ([`NO_TEXT`]: none).
    Bare {
        status: Status,
        attempts: u32,
        error: u32,
    },
    /// An index in `plain`.
    Plain(u32),
    /// Anything else.
    Full(Box<JobResult>),
}

/// In [`Slot::Bare`]: no reason.
const NO_TEXT: u32 = u32::MAX;

/// A result whose last attempt exited (no signal, not terminated by batchrun, no leftover
/// process), with no error text and no stderr tail: times in nanoseconds.
#[derive(Debug, Clone, Copy)]
struct Plain {
    started_ns: u64,
    duration_ns: u64,
    user_ns: u64,
    system_ns: u64,
    max_rss_kib: u64,
    exit_code: i32,
    attempts: u32,
    status: Status,
    has_usage: bool,
}

/// `d` in nanoseconds, when that fits in 64 bits (584 years).
fn nanos(d: Duration) -> Option<u64> {
    u64::try_from(d.as_nanos()).ok()
}

impl Plain {
    /// The compact form of `r`, when it has one.
    fn of(r: &JobResult) -> Option<Plain> {
        let a = r.last.as_ref()?;
        let AttemptEnd::Ended {
            exit_code: Some(exit_code),
            signal: None,
            killed: None,
        } = a.end
        else {
            return None;
        };
        if r.error.is_some() || r.stderr_tail.is_some() || a.leaked_processes != 0 {
            return None;
        }
        let usage = a.usage.unwrap_or_default();
        Some(Plain {
            started_ns: nanos(a.started_at.duration_since(SystemTime::UNIX_EPOCH).ok()?)?,
            duration_ns: nanos(a.duration)?,
            user_ns: nanos(usage.user)?,
            system_ns: nanos(usage.system)?,
            max_rss_kib: usage.max_rss_kib,
            exit_code,
            attempts: r.attempts,
            status: r.status,
            has_usage: a.usage.is_some(),
        })
    }

    fn result(&self) -> JobResult {
        let usage = self.has_usage.then(|| Usage {
            max_rss_kib: self.max_rss_kib,
            user: Duration::from_nanos(self.user_ns),
            system: Duration::from_nanos(self.system_ns),
        });
        JobResult {
            status: self.status,
            attempts: self.attempts,
            last: Some(Attempt {
                end: AttemptEnd::Ended {
                    exit_code: Some(self.exit_code),
                    signal: None,
                    killed: None,
                },
                started_at: SystemTime::UNIX_EPOCH + Duration::from_nanos(self.started_ns),
                duration: Duration::from_nanos(self.duration_ns),
                leaked_processes: 0,
                usage,
            }),
            error: None,
            stderr_tail: None,
        }
    }
}

impl Results {
    /// Room for `n` jobs, none with a result yet.
    pub fn new(n: usize) -> Results {
        Results {
            slots: vec![Slot::Empty; n],
            ..Results::default()
        }
    }

    /// How many jobs.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether there are no jobs.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Gives job `i` its result.
    ///
    /// # Panics
    /// With 2^32 distinct results of one kind.
    pub fn set(&mut self, i: usize, r: JobResult) {
        self.slots[i] = if let Some(p) = Plain::of(&r) {
            let k = u32::try_from(self.plain.len()).expect("fewer than 2^32 results");
            self.plain.push(p);
            Slot::Plain(k)
        } else if r.last.is_none() && r.stderr_tail.is_none() {
            let error = r.error.map_or(NO_TEXT, |e| self.text(e));
            Slot::Bare {
                status: r.status,
                attempts: r.attempts,
                error,
            }
        } else {
            Slot::Full(Box::new(r))
        };
    }

    /// The index of `text` in `texts`, added if new.
    fn text(&mut self, text: String) -> u32 {
        if let Some(&k) = self.text_index.get(text.as_str()) {
            return k;
        }
        let k = u32::try_from(self.texts.len()).expect("fewer than 2^32 reasons");
        let text: Box<str> = text.into();
        self.texts.push(text.clone());
        self.text_index.insert(text, k);
        k
    }

    /// Job `i`'s result, if it has one.
    pub fn get(&self, i: usize) -> Option<JobResult> {
        match &self.slots[i] {
            Slot::Empty => None,
            Slot::Plain(k) => Some(self.plain[*k as usize].result()),
            Slot::Bare {
                status,
                attempts,
                error,
            } => Some(JobResult {
                status: *status,
                attempts: *attempts,
                last: None,
                error: (*error != NO_TEXT).then(|| self.texts[*error as usize].to_string()),
                stderr_tail: None,
            }),
            Slot::Full(r) => Some((**r).clone()),
        }
    }

    /// Job `i`'s result.
    ///
    /// # Panics
    /// If it has none (a run's summary has a result for every job).
    pub fn job(&self, i: usize) -> JobResult {
        self.get(i).expect("every job has a result")
    }

    /// Job `i`'s status, if it has a result; without building the result.
    pub fn status(&self, i: usize) -> Option<Status> {
        match &self.slots[i] {
            Slot::Empty => None,
            Slot::Plain(k) => Some(self.plain[*k as usize].status),
            Slot::Bare { status, .. } => Some(*status),
            Slot::Full(r) => Some(r.status),
        }
    }

    /// Job `i`'s attempts, if it has a result; without building the result.
    pub fn attempts(&self, i: usize) -> Option<u32> {
        match &self.slots[i] {
            Slot::Empty => None,
            Slot::Plain(k) => Some(self.plain[*k as usize].attempts),
            Slot::Bare { attempts, .. } => Some(*attempts),
            Slot::Full(r) => Some(r.attempts),
        }
    }

    /// How long job `i`'s last attempt ran, if it had one; without building the result.
    pub fn duration(&self, i: usize) -> Option<Duration> {
        match &self.slots[i] {
            Slot::Empty | Slot::Bare { .. } => None,
            Slot::Plain(k) => Some(Duration::from_nanos(self.plain[*k as usize].duration_ns)),
            Slot::Full(r) => r.last.as_ref().map(|a| a.duration),
        }
    }

    /// Whether job `i` went wrong ([`Status::went_wrong`]); without building the result.
    pub fn went_wrong(&self, i: usize) -> bool {
        self.status(i).is_some_and(Status::went_wrong)
    }

    /// Whether job `i` has a result.
    pub fn has(&self, i: usize) -> bool {
        !matches!(self.slots[i], Slot::Empty)
    }

    /// Every job's result, in order.
    ///
    /// # Panics
    /// On a job with no result.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = JobResult> + '_ {
        (0..self.len()).map(|i| self.job(i))
    }

    /// Every job's status, in order, without building the results.
    ///
    /// # Panics
    /// On a job with no result.
    pub fn statuses(&self) -> impl ExactSizeIterator<Item = Status> + '_ {
        (0..self.len()).map(|i| self.status(i).expect("every job has a result"))
    }
}

impl FromIterator<JobResult> for Results {
    fn from_iter<I: IntoIterator<Item = JobResult>>(iter: I) -> Self {
        let mut r = Results::default();
        for (i, result) in iter.into_iter().enumerate() {
            r.slots.push(Slot::Empty);
            r.set(i, result);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::outcome::KillReason;

    fn ran(end: AttemptEnd, status: Status, usage: Option<Usage>) -> JobResult {
        JobResult {
            status,
            attempts: 2,
            last: Some(Attempt {
                end,
                started_at: SystemTime::UNIX_EPOCH + Duration::new(1_790_000_000, 123_456_789),
                duration: Duration::new(3, 7),
                leaked_processes: 0,
                usage,
            }),
            error: None,
            stderr_tail: None,
        }
    }

    #[test]
    fn every_result_comes_back_as_it_was_set() {
        let exited = |c| AttemptEnd::Ended {
            exit_code: Some(c),
            signal: None,
            killed: None,
        };
        let usage = Usage {
            max_rss_kib: 1234,
            user: Duration::from_micros(5_000_001),
            system: Duration::from_micros(7),
        };
        let mut failed = ran(exited(3), Status::Failed, None);
        failed.error = Some("exit status 3".into());
        failed.stderr_tail = Some("oops\n".into());
        let mut leaked = ran(exited(0), Status::Succeeded, Some(usage));
        leaked.last.as_mut().unwrap().leaked_processes = 2;
        let timed_out = ran(
            AttemptEnd::Ended {
                exit_code: None,
                signal: Some(15),
                killed: Some(KillReason::Timeout(Duration::from_secs(1))),
            },
            Status::TimedOut,
            None,
        );
        let all = vec![
            ran(exited(0), Status::Succeeded, Some(usage)),
            ran(exited(0), Status::Succeeded, None),
            failed,
            leaked,
            timed_out,
            JobResult::without_attempt(Status::NotStarted, "not started: the run was stopped"),
            JobResult::without_attempt(Status::NotStarted, "not started: the run was stopped"),
            JobResult::without_attempt(Status::Skipped, "dependency 'a' failed"),
            JobResult {
                status: Status::Resumed,
                attempts: 0,
                last: None,
                error: None,
                stderr_tail: None,
            },
        ];
        let r: Results = all.iter().cloned().collect();
        assert_eq!(r.iter().collect::<Vec<_>>(), all);
        for (i, j) in all.iter().enumerate() {
            assert_eq!(r.duration(i), j.last.as_ref().map(|a| a.duration));
            assert_eq!(r.went_wrong(i), j.went_wrong());
        }
        assert_eq!(
            r.statuses().collect::<Vec<_>>(),
            all.iter().map(|j| j.status).collect::<Vec<_>>()
        );
        // Compact where it can be: two plain results, one text for the two alike reasons.
        assert_eq!((r.plain.len(), r.texts.len()), (2, 2));
        let mut pending = Results::new(2);
        assert!(!pending.has(0) && pending.get(1).is_none());
        pending.set(1, all[0].clone());
        assert!(std::mem::size_of::<Slot>() <= 16 && std::mem::size_of::<Plain>() <= 56);
        assert_eq!(
            (pending.status(1), pending.has(1)),
            (Some(Status::Succeeded), true)
        );
    }
}
