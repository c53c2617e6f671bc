/*!
Every job's result, held compactly (issues 10 and 19): 5 bytes per job (a kind and an index),
plus 28 for a job whose last attempt went as most do (it exited, with no error to tell and no
stderr tail kept) with times in whole milliseconds and a start in whole seconds (every job
`merge` reads from a report), 56 for such a job with finer times (a job `run` ran; past the
newest 4,096 these are held in a temporary file, [`SpillVec`], so a long run's memory stays
flat), and the whole [`JobResult`] only for the others: failures, timeouts, jobs that left
processes behind.
A job that never ran keeps its status, attempts and reason, each distinct triple stored once
(a run stopped with a million jobs not started holds one "not started: …" text and one entry).

[`Results::get`] gives back exactly the [`JobResult`] that was [`Results::set`].
*/

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use crate::model::outcome::{Attempt, AttemptEnd, JobResult, Status};

use crate::util::spill::{Record, SpillVec};
use crate::util::sys::Usage;

/// Every job's result, by job index.
#[derive(Debug, Clone, Default)]
pub struct Results {
    /// For each job, where its result is: `Kind` says which vector `at` indexes.
    kind: Vec<Kind>,
    at: Vec<u32>,
    /// Results of jobs that never ran, each distinct one once.
    bare: Vec<Bare>,
    bare_index: HashMap<Bare, u32>,
    small: Vec<Small>,
    /// Spilled to a temporary file a chunk at a time: a long run's memory stays flat.
    plain: SpillVec<Plain>,
    full: Vec<JobResult>,
    /// Reasons of jobs that never ran, each once.
    texts: Vec<Box<str>>,
    text_index: HashMap<Box<str>, u32>,
}

/// Where one job's result is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// None yet.
    Empty,
    /// An index in `bare`.
    Bare,
    /// An index in `small`.
    Small,
    /// An index in `plain`.
    Plain,
    /// An index in `full`: anything else.
    Full,
}

/// A job that never ran (no attempt, no stderr): its status and the index of its reason in
/// `texts` ([`NO_TEXT`]: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Bare {
    status: Status,
    attempts: u32,
    error: u32,
}

/// How the run's own reasons for a job not started begin.
pub const NOT_STARTED: &str = "not started: ";

/// In [`Bare`]: no reason.
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

/// A [`Plain`] result whose times are whole milliseconds below 2^32 (49 days), started at a
/// whole second before 2106, with a peak RSS below 4 TiB and fewer than 2^16 attempts: what
/// `merge` reads from a report (milliseconds, and starts in seconds).
#[derive(Debug, Clone, Copy)]
struct Small {
    started_s: u32,
    duration_ms: u32,
    user_ms: u32,
    system_ms: u32,
    max_rss_kib: u32,
    exit_code: i32,
    attempts: u16,
    status: Status,
    has_usage: bool,
}

/// `d` in nanoseconds, when that fits in 64 bits (584 years).
fn nanos(d: Duration) -> Option<u64> {
    u64::try_from(d.as_nanos()).ok()
}

/// `d` in milliseconds, when it is a whole number of them below 2^32.
fn whole_millis(d: Duration) -> Option<u32> {
    if !d.subsec_nanos().is_multiple_of(1_000_000) {
        return None;
    }
    u32::try_from(d.as_millis()).ok()
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

impl Record for Plain {
    const SIZE: usize = 50;

    fn encode(&self, out: &mut [u8]) {
        let words = [
            self.started_ns,
            self.duration_ns,
            self.user_ns,
            self.system_ns,
            self.max_rss_kib,
        ];
        for (w, o) in words.iter().zip(out.chunks_exact_mut(8)) {
            o.copy_from_slice(&w.to_ne_bytes());
        }
        out[40..44].copy_from_slice(&self.exit_code.to_ne_bytes());
        out[44..48].copy_from_slice(&self.attempts.to_ne_bytes());
        out[48] = self.status.index() as u8;
        out[49] = u8::from(self.has_usage);
    }

    fn decode(b: &[u8]) -> Self {
        let word = |k: usize| u64::from_ne_bytes(b[8 * k..8 * k + 8].try_into().expect("8 bytes"));
        let half = |at: usize| b[at..at + 4].try_into().expect("4 bytes");
        Plain {
            started_ns: word(0),
            duration_ns: word(1),
            user_ns: word(2),
            system_ns: word(3),
            max_rss_kib: word(4),
            exit_code: i32::from_ne_bytes(half(40)),
            attempts: u32::from_ne_bytes(half(44)),
            status: Status::ALL[usize::from(b[48])],
            has_usage: b[49] != 0,
        }
    }
}

impl Small {
    /// The smaller form of `p`, when its figures fit exactly.
    fn of(p: &Plain) -> Option<Small> {
        let ms = |ns: u64| whole_millis(Duration::from_nanos(ns));
        let started = Duration::from_nanos(p.started_ns);
        if started.subsec_nanos() != 0 {
            return None;
        }
        Some(Small {
            started_s: u32::try_from(started.as_secs()).ok()?,
            duration_ms: ms(p.duration_ns)?,
            user_ms: ms(p.user_ns)?,
            system_ms: ms(p.system_ns)?,
            max_rss_kib: u32::try_from(p.max_rss_kib).ok()?,
            exit_code: p.exit_code,
            attempts: u16::try_from(p.attempts).ok()?,
            status: p.status,
            has_usage: p.has_usage,
        })
    }

    fn plain(&self) -> Plain {
        let ns = |ms: u32| u64::from(ms) * 1_000_000;
        Plain {
            started_ns: u64::from(self.started_s) * 1_000_000_000,
            duration_ns: ns(self.duration_ms),
            user_ns: ns(self.user_ms),
            system_ns: ns(self.system_ms),
            max_rss_kib: u64::from(self.max_rss_kib),
            exit_code: self.exit_code,
            attempts: u32::from(self.attempts),
            status: self.status,
            has_usage: self.has_usage,
        }
    }
}

/// The next index of a vector of `len` entries.
fn next(len: usize) -> u32 {
    u32::try_from(len).expect("fewer than 2^32 results of one kind")
}

impl Results {
    /// Room for `n` jobs, none with a result yet.
    pub fn new(n: usize) -> Results {
        Results {
            kind: vec![Kind::Empty; n],
            // Not zero, so the pages are written now rather than as jobs end (a zeroed
            // allocation is mapped lazily): a long run's memory is flat from its start.
            at: vec![u32::MAX; n],
            ..Results::default()
        }
    }

    /// How many jobs.
    pub fn len(&self) -> usize {
        self.kind.len()
    }

    /// Whether there are no jobs.
    pub fn is_empty(&self) -> bool {
        self.kind.is_empty()
    }

    /// Gives job `i` its result.
    ///
    /// # Panics
    /// With 2^32 distinct results of one kind.
    pub fn set(&mut self, i: usize, r: JobResult) {
        let (kind, at) = if let Some(p) = Plain::of(&r) {
            if let Some(small) = Small::of(&p) {
                self.small.push(small);
                (Kind::Small, next(self.small.len() - 1))
            } else {
                self.plain.push(p);
                (Kind::Plain, next(self.plain.len() - 1))
            }
        } else if r.last.is_none() && r.stderr_tail.is_none() {
            let error = r.error.map_or(NO_TEXT, |e| self.text(e));
            let b = Bare {
                status: r.status,
                attempts: r.attempts,
                error,
            };
            let k = match self.bare_index.get(&b) {
                Some(&k) => k,
                None => {
                    let k = next(self.bare.len());
                    self.bare.push(b);
                    self.bare_index.insert(b, k);
                    k
                }
            };
            (Kind::Bare, k)
        } else {
            self.full.push(r);
            (Kind::Full, next(self.full.len() - 1))
        };
        self.kind[i] = kind;
        self.at[i] = at;
    }

    /// The index of `text` in `texts`, added if new.
    fn text(&mut self, text: String) -> u32 {
        if let Some(&k) = self.text_index.get(text.as_str()) {
            return k;
        }
        let k = next(self.texts.len());
        let text: Box<str> = text.into();
        self.texts.push(text.clone());
        self.text_index.insert(text, k);
        k
    }

    /// Job `i`'s compact result, if it has one of [`Kind::Small`] or [`Kind::Plain`].
    fn plain_of(&self, i: usize) -> Option<Plain> {
        let at = self.at[i] as usize;
        match self.kind[i] {
            Kind::Small => Some(self.small[at].plain()),
            Kind::Plain => Some(self.plain.get(at)),
            _ => None,
        }
    }

    /// Job `i`'s result, if it has one.
    pub fn get(&self, i: usize) -> Option<JobResult> {
        let at = self.at[i] as usize;
        match self.kind[i] {
            Kind::Empty => None,
            Kind::Small | Kind::Plain => self.plain_of(i).map(|p| p.result()),
            Kind::Bare => {
                let b = &self.bare[at];
                Some(JobResult {
                    status: b.status,
                    attempts: b.attempts,
                    last: None,
                    error: (b.error != NO_TEXT).then(|| self.texts[b.error as usize].to_string()),
                    stderr_tail: None,
                })
            }
            Kind::Full => Some(self.full[at].clone()),
        }
    }

    /// Job `i`'s result when jobs share it (a job that never ran: no attempt, no stderr): a
    /// handle, the same for the same result, for [`set_shared`](Self::set_shared).
    pub fn shared(&self, i: usize) -> Option<u32> {
        (self.kind[i] == Kind::Bare).then_some(self.at[i])
    }

    /// Gives job `i` the result that [`shared`](Self::shared) gave for another job: a stop
    /// settles a million jobs with one result, without a string and a lookup for each.
    pub fn set_shared(&mut self, i: usize, shared: u32) {
        self.kind[i] = Kind::Bare;
        self.at[i] = shared;
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
        let at = self.at[i] as usize;
        match self.kind[i] {
            Kind::Empty => None,
            Kind::Bare => Some(self.bare[at].status),
            Kind::Small => Some(self.small[at].status),
            Kind::Plain => Some(self.plain.get(at).status),
            Kind::Full => Some(self.full[at].status),
        }
    }

    /// Whether job `i` was not started and has nothing to tell beyond that: no attempt, no
    /// stderr, and no reason but the run's own (`not started: the run was interrupted`, …),
    /// which the run's outcome says already. Without building the result.
    pub fn plainly_not_started(&self, i: usize) -> bool {
        if self.kind[i] != Kind::Bare {
            return false;
        }
        let b = &self.bare[self.at[i] as usize];
        b.status == Status::NotStarted
            && (b.error == NO_TEXT || self.texts[b.error as usize].starts_with(NOT_STARTED))
    }

    /// Job `i`'s attempts (0 without a result); without building the result.
    pub fn attempts(&self, i: usize) -> u32 {
        let at = self.at[i] as usize;
        match self.kind[i] {
            Kind::Empty => 0,
            Kind::Bare => self.bare[at].attempts,
            Kind::Small => u32::from(self.small[at].attempts),
            Kind::Plain => self.plain.get(at).attempts,
            Kind::Full => self.full[at].attempts,
        }
    }

    /// How long job `i`'s last attempt ran, if it had one; without building the result.
    pub fn duration(&self, i: usize) -> Option<Duration> {
        match self.kind[i] {
            Kind::Empty | Kind::Bare => None,
            Kind::Small | Kind::Plain => self
                .plain_of(i)
                .map(|p| Duration::from_nanos(p.duration_ns)),
            Kind::Full => self.full[self.at[i] as usize]
                .last
                .as_ref()
                .map(|a| a.duration),
        }
    }

    /// Whether job `i` went wrong ([`Status::went_wrong`]); without building the result.
    pub fn went_wrong(&self, i: usize) -> bool {
        self.status(i).is_some_and(Status::went_wrong)
    }

    /// Whether job `i` has a result.
    pub fn has(&self, i: usize) -> bool {
        self.kind[i] != Kind::Empty
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
            r.kind.push(Kind::Empty);
            r.at.push(0);
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
        // Compact where it can be: two plain results, one text and one entry for the two
        // alike reasons.
        assert_eq!((r.plain.len(), r.texts.len(), r.bare.len()), (2, 2, 3));
        let mut pending = Results::new(2);
        assert!(!pending.has(0) && pending.get(1).is_none());
        pending.set(1, all[0].clone());
        assert!(std::mem::size_of::<Small>() <= 28 && std::mem::size_of::<Plain>() <= 56);
        assert_eq!(
            (pending.status(1), pending.has(1)),
            (Some(Status::Succeeded), true)
        );
    }

    #[test]
    fn a_long_run_s_results_leave_memory_and_come_back_exactly() {
        // More plain results than a chunk, finishing out of manifest order (as at -j 300):
        // all but the last chunk are in the temporary file, each read back as it was set.
        let n = 3 * SpillVec::<Plain>::CHUNK + 100;
        let job = |i: usize| {
            let code = (i % 3) as i32;
            let end = AttemptEnd::Ended {
                exit_code: Some(code),
                signal: None,
                killed: None,
            };
            let status = [Status::Succeeded, Status::Failed][usize::from(code != 0)];
            let usage = (!i.is_multiple_of(5)).then(|| Usage {
                max_rss_kib: 1000 + i as u64,
                user: Duration::new(0, i as u32 * 7),
                system: Duration::new(i as u64, 3),
            });
            let mut r = ran(end, status, usage);
            r.attempts = 1 + (i % 4) as u32;
            let a = r.last.as_mut().expect("ran");
            a.started_at += Duration::new(i as u64, i as u32);
            a.duration = Duration::new(0, 1 + i as u32);
            r
        };
        let mut r = Results::new(n);
        let order = (0..n).map(|k| (k * 7919) % n);
        for i in order {
            r.set(i, job(i));
        }
        assert!(r.plain.len() == n && r.small.is_empty());
        for i in (0..n).chain([n - 1, 0, n / 2, 5, n - 101]) {
            assert_eq!(r.get(i), Some(job(i)), "job {i}");
            assert_eq!(r.status(i), Some(job(i).status));
            assert_eq!(r.attempts(i), job(i).attempts);
        }
        assert!(r.statuses().eq((0..n).map(|i| job(i).status)));
    }

    #[test]
    fn whole_milliseconds_are_held_small_and_come_back_exactly() {
        let at = |secs, ms: u64, usage| {
            let end = AttemptEnd::Ended {
                exit_code: Some(0),
                signal: None,
                killed: None,
            };
            let mut r = ran(end, Status::Succeeded, usage);
            let a = r.last.as_mut().expect("ran");
            a.started_at = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
            a.duration = Duration::from_millis(ms);
            r
        };
        let usage = |rss, ms| {
            Some(Usage {
                max_rss_kib: rss,
                user: Duration::from_millis(ms),
                system: Duration::from_millis(1),
            })
        };
        let small = [
            at(1_790_000_000, 1234, None),
            at(u64::from(u32::MAX), u64::from(u32::MAX), usage(7, 5)),
        ];
        let plain = [
            at(u64::from(u32::MAX) + 1, 1, None),
            at(1, u64::from(u32::MAX) + 1, None),
            at(1, 1, usage(1 << 32, 5)),
            at(1, 1, usage(7, u64::from(u32::MAX) + 1)),
        ];
        let all: Vec<JobResult> = small.iter().chain(&plain).cloned().collect();
        let r: Results = all.iter().cloned().collect();
        assert_eq!(r.iter().collect::<Vec<_>>(), all);
        assert_eq!((r.small.len(), r.plain.len()), (small.len(), plain.len()));
    }
}
