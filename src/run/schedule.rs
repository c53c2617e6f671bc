/*!
The job table: the one record of where every job is in its life, owned by the dispatcher, free
of threads and processes so it can be unit-tested.

Each job is in exactly one [`JobState`]:

```text
            deps succeed               worker takes it            attempt ends
 Blocked ─────────────────▶ Ready ─────────────────────▶ Running ──────────────▶ Done(result)
    │                        ▲  ▲                         │  │
    │ a dep fails            │  │ retry due               │  │ failed, retries left
    ▼                        │  └──── RetryWaiting ◀──────┘  │
 Done(skipped)               │                               │ no descriptor / process free:
                             └───────────────────────────────┘ back to Ready (not an attempt)
```

A stop ([`JobTable::settle_unstarted`]) turns every `Ready` and `RetryWaiting` job into its
final result in one place: a job with an earlier attempt keeps that attempt's status, exit code,
stderr tail and attempt count, with a note that the retry was not attempted; one without is
`not_started`. At the end of the run, [`JobTable::settle_all`] does the same for `Blocked` jobs.

Group slots (`--limit`) are taken when a job enters `Running` and released when it leaves it,
in the one function every state change goes through (`JobTable::update`), so a slot can be
neither leaked nor released twice.

The queues (ready jobs by manifest order, retries by due time, jobs waiting for a group slot)
hold indices only; an entry whose job has since changed state is skipped when it comes up.
Every operation is O(log n) per job or per edge.
*/

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use crate::model::outcome::{Attempt, JobResult, Status};
use crate::model::results::Results;
use crate::plan::Plan;

/// A job's finished attempt that will be retried, kept until the retry runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastAttempt {
    /// How it ended.
    pub attempt: Attempt,
    /// The last lines of its stderr.
    pub stderr_tail: Option<String>,
    /// Attempts started so far (this one included).
    pub attempts: u32,
}

impl LastAttempt {
    /// The job's final result when this was its last attempt.
    pub fn into_result(self) -> JobResult {
        JobResult {
            status: self.attempt.status(),
            attempts: self.attempts,
            error: self.attempt.error(),
            stderr_tail: self.stderr_tail,
            last: Some(self.attempt),
        }
    }

    /// The final result when the retry is not attempted because the run stopped.
    fn into_stopped_result(self) -> JobResult {
        let mut r = self.into_result();
        r.note("retry not attempted: the run was stopped");
        r
    }
}

/// A failed attempt waiting for its retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retry {
    /// The attempt that failed.
    pub last: LastAttempt,
    /// When the retry is due.
    pub at: Instant,
}

/// Where one job is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    /// Waiting for this many jobs of its `after` to succeed.
    Blocked {
        /// Jobs of its `after` that have not succeeded yet.
        waiting_on: u32,
    },
    /// May start (when a worker, and a slot in its group, are free).
    Ready {
        /// The previous attempt, when this is a retry.
        last: Option<Box<LastAttempt>>,
    },
    /// Handed to a worker.
    Running {
        /// 1-based attempt number.
        attempt: u32,
        /// The previous attempt, when this is a retry.
        last: Option<Box<LastAttempt>>,
    },
    /// Waiting out a retry delay.
    RetryWaiting {
        /// The attempt that failed, and when the retry is due (boxed: a state is 16 bytes).
        retry: Box<Retry>,
    },
    /// Has its final result (kept beside the states: see [`JobTable::result`]).
    Done,
}

/// The kind of a [`JobState`], for bookkeeping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Blocked,
    Ready,
    Running,
    RetryWaiting,
    Done,
}

impl JobState {
    fn kind(&self) -> Kind {
        match self {
            JobState::Blocked { .. } => Kind::Blocked,
            JobState::Ready { .. } => Kind::Ready,
            JobState::Running { .. } => Kind::Running,
            JobState::RetryWaiting { .. } => Kind::RetryWaiting,
            JobState::Done => Kind::Done,
        }
    }
}

/// How many jobs are in each kind of state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StateCounts {
    /// `Blocked`.
    pub blocked: usize,
    /// `Ready`.
    pub ready: usize,
    /// `Running`.
    pub running: usize,
    /// `RetryWaiting`.
    pub retry_waiting: usize,
    /// `Done`.
    pub done: usize,
}

impl StateCounts {
    fn slot(&mut self, k: Kind) -> &mut usize {
        match k {
            Kind::Blocked => &mut self.blocked,
            Kind::Ready => &mut self.ready,
            Kind::Running => &mut self.running,
            Kind::RetryWaiting => &mut self.retry_waiting,
            Kind::Done => &mut self.done,
        }
    }
}

/// Every job's state, and the queues that say which may start next.
#[derive(Debug)]
pub struct JobTable<'a> {
    /// The plan: ids, `after` edges and groups.
    plan: &'a Plan,
    /// Each job's state.
    states: Vec<JobState>,
    /// Each `Done` job's result, in one vector that becomes the run's results without a copy.
    results: Results,
    /// How many jobs are in each kind of state.
    counts: StateCounts,
    /// For each group, how many of its jobs are `Running`.
    group_running: Vec<usize>,
    /// For each group, `Ready` jobs waiting for a slot, lowest index first.
    group_waiting: Vec<BinaryHeap<Reverse<u32>>>,
    /// `Ready` jobs, lowest index (manifest order) first.
    ready: BinaryHeap<Reverse<u32>>,
    /// `RetryWaiting` jobs, earliest first.
    delayed: BinaryHeap<Reverse<(Instant, usize)>>,
}

impl<'a> JobTable<'a> {
    /// Every job starts `Blocked` or `Ready`; jobs marked in `resumed` are `Done` (as
    /// `resumed`) and release their dependents.
    pub fn new(plan: &'a Plan, resumed: &[bool]) -> Self {
        let n = plan.jobs.len();
        let mut t = JobTable {
            plan,
            states: Vec::with_capacity(n),
            results: Results::new(n),
            counts: StateCounts::default(),
            group_running: vec![0; plan.groups.len()],
            group_waiting: vec![BinaryHeap::new(); plan.groups.len()],
            ready: BinaryHeap::new(),
            delayed: BinaryHeap::new(),
        };
        for i in 0..n {
            let state = match plan.deps[i].len() {
                0 => JobState::Ready { last: None },
                waiting_on => JobState::Blocked {
                    // Fewer than 2^32 jobs: an adjacency holds u32 indices.
                    waiting_on: waiting_on as u32,
                },
            };
            t.states.push(JobState::Blocked { waiting_on: 0 });
            t.counts.blocked += 1;
            t.update(i, |_| state);
        }
        for (i, _) in resumed.iter().enumerate().filter(|(_, &r)| r) {
            let r = JobResult {
                status: Status::Resumed,
                attempts: 0,
                last: None,
                error: None,
                stderr_tail: None,
            };
            t.finish(i, r);
        }
        t
    }

    /// Changes job `i`'s state to `f(old state)`, keeping the counts, the group slots and the
    /// queues in step. Every state change goes through here.
    fn update(&mut self, i: usize, f: impl FnOnce(JobState) -> JobState) {
        let old = std::mem::replace(&mut self.states[i], JobState::Blocked { waiting_on: 0 });
        let was = old.kind();
        self.states[i] = f(old);
        let now = self.states[i].kind();
        if was == now {
            return;
        }
        *self.counts.slot(was) -= 1;
        *self.counts.slot(now) += 1;
        if let Some(g) = self.plan.group(i) {
            if was == Kind::Running {
                self.group_running[g] -= 1;
                if let Some(w) = self.group_waiting[g].pop() {
                    self.ready.push(w);
                }
            } else if now == Kind::Running {
                self.group_running[g] += 1;
            }
        }
        match &self.states[i] {
            JobState::Ready { .. } => self.ready.push(Reverse(i as u32)),
            JobState::RetryWaiting { retry } => self.delayed.push(Reverse((retry.at, i))),
            _ => {}
        }
    }

    /// Job `i`'s state.
    #[cfg(test)]
    pub fn state(&self, i: usize) -> &JobState {
        &self.states[i]
    }

    /// The handle of job `i`'s result when jobs share it ([`Results::shared`]).
    pub fn shared_result(&self, i: usize) -> Option<u32> {
        self.results.shared(i)
    }

    /// Job `i`'s final result, once it is `Done`.
    pub fn result(&self, i: usize) -> Option<JobResult> {
        self.results.get(i)
    }

    /// How many jobs are in each kind of state.
    pub fn counts(&self) -> StateCounts {
        self.counts
    }

    /// True when no job can start now or later without another one finishing first.
    pub fn idle(&self) -> bool {
        self.counts.ready == 0 && self.counts.retry_waiting == 0
    }

    /// The next job to start, lowest index first, parking jobs whose group is full; moves it
    /// to `Running` and returns it with its attempt number.
    pub fn next_ready(&mut self) -> Option<(usize, u32)> {
        while let Some(Reverse(i)) = self.ready.pop() {
            let i = i as usize;
            let JobState::Ready { last } = &self.states[i] else {
                continue; // an entry left from an earlier state
            };
            if let Some(g) = self.plan.group(i) {
                if self.plan.group_limits[g].is_some_and(|l| self.group_running[g] >= l) {
                    self.group_waiting[g].push(Reverse(i as u32));
                    continue;
                }
            }
            let attempt = last.as_ref().map_or(1, |l| l.attempts + 1);
            self.update(i, |old| match old {
                JobState::Ready { last } => JobState::Running { attempt, last },
                other => other,
            });
            return Some((i, attempt));
        }
        None
    }

    /// The attempt number of a running job.
    pub fn running_attempt(&self, i: usize) -> Option<u32> {
        match &self.states[i] {
            JobState::Running { attempt, .. } => Some(*attempt),
            _ => None,
        }
    }

    /// A running job's attempt ended and will be retried at `at`. False (and nothing changes)
    /// if the job was not running.
    pub fn retry_later(&mut self, i: usize, last: LastAttempt, at: Instant) -> bool {
        if self.running_attempt(i).is_none() {
            return false;
        }
        self.update(i, |_| JobState::RetryWaiting {
            retry: Box::new(Retry { last, at }),
        });
        true
    }

    /// A running job did not really start (its worker saw the run stop first, or the system
    /// was out of descriptors or processes): it is `Ready` again, its attempt not counted.
    pub fn unstart(&mut self, i: usize) -> bool {
        if self.running_attempt(i).is_none() {
            return false;
        }
        self.update(i, |old| match old {
            JobState::Running { last, .. } => JobState::Ready { last },
            other => other,
        });
        true
    }

    /// When the earliest retry is due.
    pub fn next_retry_at(&mut self) -> Option<Instant> {
        while let Some(&Reverse((at, i))) = self.delayed.peek() {
            if matches!(&self.states[i], JobState::RetryWaiting { retry } if retry.at == at) {
                return Some(at);
            }
            self.delayed.pop();
        }
        None
    }

    /// Moves retries due by `now` to `Ready`.
    pub fn promote_due(&mut self, now: Instant) {
        while let Some(at) = self.next_retry_at() {
            if at > now {
                break;
            }
            let Some(Reverse((_, i))) = self.delayed.pop() else {
                break;
            };
            self.update(i, |old| match old {
                JobState::RetryWaiting { retry } => JobState::Ready {
                    last: Some(Box::new(retry.last)),
                },
                other => other,
            });
        }
    }

    /// Gives job `i` its final result. A success releases its dependents; anything else
    /// settles them (transitively): `skipped` after a failure, `not_started` after a job the
    /// stopped run never finished. Returns the jobs settled that way, in the order found.
    /// A job that is already `Done` keeps its first result.
    pub fn finish(&mut self, i: usize, result: JobResult) -> Vec<usize> {
        self.finish_with(i, |_| result)
    }

    /// [`finish`](Self::finish) with the result made from the job's state as it was.
    fn finish_with(&mut self, i: usize, f: impl FnOnce(JobState) -> JobResult) -> Vec<usize> {
        if matches!(self.states[i], JobState::Done) {
            return Vec::new();
        }
        let mut result = None;
        self.update(i, |old| {
            result = Some(f(old));
            JobState::Done
        });
        let status = result.as_ref().map_or(Status::Failed, |r| r.status);
        if let Some(r) = result {
            self.results.set(i, r);
        }
        self.finished(i, status)
    }

    /// Job `i` is `Done` with `status`: releases or settles its dependents (as
    /// [`finish`](Self::finish) says).
    fn finished(&mut self, i: usize, status: Status) -> Vec<usize> {
        let dependents = &self.plan.dependents;
        if status.is_success() {
            for d in dependents.of(i) {
                if let JobState::Blocked { waiting_on } = &mut self.states[d] {
                    *waiting_on -= 1;
                    if *waiting_on == 0 {
                        self.update(d, |_| JobState::Ready { last: None });
                    }
                }
            }
            return Vec::new();
        }
        if dependents.of(i).next().is_none() {
            return Vec::new();
        }
        let mut settled = Vec::new();
        let mut stack = vec![(i, status)];
        while let Some((v, v_status)) = stack.pop() {
            let dependency_is_unfinished =
                matches!(v_status, Status::NotStarted | Status::Cancelled);
            let status = if dependency_is_unfinished {
                Status::NotStarted
            } else {
                Status::Skipped
            };
            for d in dependents.of(v) {
                if matches!(self.states[d], JobState::Blocked { .. }) {
                    let why = format!(
                        "dependency '{}' {}",
                        self.plan.jobs.id(v),
                        v_status.as_str()
                    );
                    self.update(d, |_| JobState::Done);
                    self.results.set(d, JobResult::without_attempt(status, why));
                    settled.push(d);
                    stack.push((d, status));
                }
            }
        }
        settled
    }

    /// The run stopped: every `Ready` and `RetryWaiting` job gets its final result — its last
    /// attempt's, with a note that the retry was not attempted, or `not_started` with `why` —
    /// and their dependents are settled. Returns every job that got a result, in manifest
    /// order.
    pub fn settle_unstarted(&mut self, why: &str) -> Vec<usize> {
        self.settle(why, false)
    }

    /// The run is over: like [`settle_unstarted`](Self::settle_unstarted), and `Blocked` jobs
    /// are `not_started` too. Jobs still `Running` (a worker was lost) keep no result; see
    /// [`into_results`](Self::into_results).
    pub fn settle_all(&mut self, why: &str) -> Vec<usize> {
        self.settle(why, true)
    }

    fn settle(&mut self, why: &str, blocked_too: bool) -> Vec<usize> {
        let mut settled = Vec::new();
        // No job to settle (the run's end, after a stop settled them all): no scan of a
        // million states.
        let c = self.counts;
        if c.ready + c.retry_waiting + if blocked_too { c.blocked } else { 0 } == 0 {
            return settled;
        }
        // The result of the plainly not-started jobs, once the first has it.
        let mut shared = None;
        for i in 0..self.states.len() {
            let eligible = match self.states[i].kind() {
                Kind::Ready | Kind::RetryWaiting => true,
                Kind::Blocked => blocked_too,
                Kind::Running | Kind::Done => false,
            };
            if !eligible {
                continue;
            }
            settled.push(i);
            let plain = matches!(
                self.states[i],
                JobState::Ready { last: None } | JobState::Blocked { .. }
            );
            let dependents = match shared.filter(|_| plain) {
                // The same result as the last plainly not-started job: no string for each.
                Some(s) => {
                    self.update(i, |_| JobState::Done);
                    self.results.set_shared(i, s);
                    self.finished(i, Status::NotStarted)
                }
                None => {
                    let dependents = self.finish_with(i, |old| match old {
                        JobState::Ready { last: Some(l) } => l.into_stopped_result(),
                        JobState::RetryWaiting { retry } => retry.last.into_stopped_result(),
                        _ => JobResult::without_attempt(Status::NotStarted, why),
                    });
                    if plain {
                        shared = self.results.shared(i);
                    }
                    dependents
                }
            };
            settled.extend(dependents);
        }
        settled.sort_unstable();
        settled
    }

    /// Every job's final result, in manifest order, and the jobs that had none (a bug: a
    /// worker was lost), which get a `failed` result saying so.
    pub fn into_results(self) -> (Results, Vec<usize>) {
        drop(self.states);
        let mut results = self.results;
        let lost: Vec<usize> = (0..results.len()).filter(|&i| !results.has(i)).collect();
        for &i in &lost {
            let why = "batchrun lost track of this job (internal error)";
            results.set(i, JobResult::without_attempt(Status::Failed, why));
        }
        (results, lost)
    }
}

/// The delay before attempt `attempt + 1`: `base` doubled per attempt, capped at five minutes,
/// scaled by a random factor in [0.5, 1.0) so retries of many jobs do not stampede.
pub fn retry_delay(base: std::time::Duration, attempt: u32, jitter: f64) -> std::time::Duration {
    const CAP: std::time::Duration = std::time::Duration::from_secs(300);
    let doubled = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    doubled.min(CAP).mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::parse;
    use crate::model::config::ManifestOptions;
    use crate::model::outcome::AttemptEnd;
    use std::time::{Duration, SystemTime};

    fn plan(text: &str, limits: &[(String, usize)]) -> &'static Plan {
        let m = parse("m.csv", text.as_bytes(), false, &ManifestOptions::default()).unwrap();
        Box::leak(Box::new(Plan::new(m, limits).unwrap()))
    }

    fn table(text: &str, limits: &[(String, usize)]) -> JobTable<'static> {
        let p = plan(text, limits);
        JobTable::new(p, &vec![false; p.jobs.len()])
    }

    fn drain(t: &mut JobTable<'_>) -> Vec<usize> {
        std::iter::from_fn(|| t.next_ready().map(|(i, _)| i)).collect()
    }

    fn ended(code: i32) -> Attempt {
        Attempt {
            end: AttemptEnd::Ended {
                exit_code: Some(code),
                signal: None,
                killed: None,
            },
            started_at: SystemTime::UNIX_EPOCH,
            duration: Duration::from_millis(5),
            leaked_processes: 0,
            usage: None,
        }
    }

    fn last(code: i32, attempts: u32) -> LastAttempt {
        LastAttempt {
            attempt: ended(code),
            stderr_tail: Some(format!("tail {code}\n")),
            attempts,
        }
    }

    fn ok() -> JobResult {
        LastAttempt {
            attempt: ended(0),
            stderr_tail: None,
            attempts: 1,
        }
        .into_result()
    }

    fn result(t: &JobTable<'_>, i: usize) -> JobResult {
        match (t.state(i), t.result(i)) {
            (JobState::Done, Some(r)) => r,
            (s, _) => panic!("job {i} is not done: {s:?}"),
        }
    }

    /// The counts always add up, and group slots match the running jobs.
    fn check_invariants(t: &JobTable<'_>) {
        let c = t.counts();
        assert_eq!(
            c.blocked + c.ready + c.running + c.retry_waiting + c.done,
            t.states.len()
        );
        for (g, &n) in t.group_running.iter().enumerate() {
            let running = (0..t.states.len())
                .filter(|&i| {
                    t.plan.group(i) == Some(g) && matches!(t.state(i), JobState::Running { .. })
                })
                .count();
            assert_eq!(n, running, "group {g}");
        }
    }

    #[test]
    fn dependencies_release_in_manifest_order() {
        let mut t = table(
            "id,command,after\na,true,\nb,true,a\nc,true,\nd,true,a\n",
            &[],
        );
        assert_eq!(drain(&mut t), [0, 2]);
        assert!(t.finish(0, ok()).is_empty());
        assert_eq!(drain(&mut t), [1, 3]);
        check_invariants(&t);
    }

    #[test]
    fn failure_skips_down_the_chain_only() {
        let mut t = table(
            "id,command,after\na,true,\nb,true,a\nc,true,b\nd,true,\ne,true,d c\n",
            &[],
        );
        assert_eq!(drain(&mut t), [0, 3]);
        let skipped = t.finish(0, last(1, 1).into_result());
        assert_eq!(skipped, [1, 2, 4]);
        assert_eq!(
            result(&t, 2).error.as_deref(),
            Some("dependency 'b' skipped")
        );
        assert_eq!(result(&t, 4).status, Status::Skipped);
        assert!(t.finish(3, ok()).is_empty());
        assert_eq!(t.counts().done, 5);
        check_invariants(&t);
    }

    #[test]
    fn full_group_parks_its_jobs_without_blocking_others() {
        let mut t = table(
            "id,command,group\na,true,db\nb,true,db\nc,true,\nd,true,db\ne,true,\n",
            &[("db".into(), 1)],
        );
        assert_eq!(drain(&mut t), [0, 2, 4]);
        t.finish(0, ok());
        assert_eq!(drain(&mut t), [1]);
        t.finish(1, last(1, 1).into_result());
        assert_eq!(drain(&mut t), [3]);
        check_invariants(&t);
    }

    #[test]
    fn retries_wait_without_holding_a_slot() {
        let mut t = table(
            "id,command,group\na,true,db\nb,true,db\n",
            &[("db".into(), 1)],
        );
        assert_eq!(drain(&mut t), [0]);
        let now = Instant::now();
        assert!(t.retry_later(0, last(1, 1), now + Duration::from_secs(5)));
        assert_eq!(drain(&mut t), [1]);
        t.promote_due(now);
        assert!(drain(&mut t).is_empty());
        t.promote_due(now + Duration::from_secs(5));
        assert!(drain(&mut t).is_empty()); // group still full
        t.finish(1, ok());
        assert_eq!(t.next_ready(), Some((0, 2)));
        check_invariants(&t);
    }

    /// Every stop finds jobs in every state; each ends with a true result, and slots balance.
    #[test]
    fn stop_settles_every_state_with_the_last_attempt() {
        let text = "id,command,group,after\n\
                    due,true,g,\nwaiting,true,g,\nrun,true,g,\nblocked,true,,run\n\
                    ready,true,,\nparked,true,g,\n";
        for blocked_too in [false, true] {
            let mut t = table(text, &[("g".into(), 2)]);
            let now = Instant::now();
            assert_eq!(t.next_ready(), Some((0, 1)));
            assert_eq!(t.next_ready(), Some((1, 1)));
            assert!(t.retry_later(0, last(3, 1), now));
            assert!(t.retry_later(1, last(4, 1), now + Duration::from_secs(3600)));
            assert_eq!(t.next_ready(), Some((2, 1))); // run
            t.promote_due(now); // `due` is Ready again, with its last attempt
            assert_eq!(t.next_ready(), Some((0, 2))); // due's retry takes the second slot
            assert!(t.unstart(0)); // ...but it could not start (no descriptor)
            assert!(matches!(t.state(0), JobState::Ready { last: Some(_) }));
            check_invariants(&t);
            // Stop: everything that has not started is settled; `run` keeps running.
            let settled = if blocked_too {
                t.settle_all("not started: the run was interrupted")
            } else {
                t.settle_unstarted("not started: the run was interrupted")
            };
            let mut expected = vec![0, 1, 4, 5];
            if blocked_too {
                expected.insert(2, 3);
            }
            assert_eq!(settled, expected);
            for (i, code) in [(0, 3), (1, 4)] {
                let r = result(&t, i);
                assert_eq!(r.status, Status::Failed);
                assert_eq!(r.attempts, 1);
                assert_eq!(
                    r.stderr_tail.as_deref(),
                    Some(format!("tail {code}\n").as_str())
                );
                assert_eq!(
                    r.error.as_deref(),
                    Some(
                        format!("exit status {code} (retry not attempted: the run was stopped)")
                            .as_str()
                    )
                );
            }
            assert_eq!(result(&t, 4).status, Status::NotStarted);
            // The plainly not-started jobs share one result, reason and all.
            let why = Some("not started: the run was interrupted");
            for i in if blocked_too {
                vec![3, 4, 5]
            } else {
                vec![4, 5]
            } {
                assert_eq!(result(&t, i), result(&t, 4), "job {i}");
                assert_eq!(result(&t, i).error.as_deref(), why);
                assert_eq!(t.shared_result(i), t.shared_result(4));
            }
            check_invariants(&t);
            // The running job ends; the slot comes back exactly once.
            t.finish(2, ok());
            check_invariants(&t);
            assert_eq!(t.group_running, [0]);
            t.settle_all("not started");
            let (results, lost) = t.into_results();
            assert!(lost.is_empty());
            assert_eq!(results.status(3), Some(Status::NotStarted));
        }
    }

    #[test]
    fn a_state_is_16_bytes() {
        assert!(std::mem::size_of::<JobState>() <= 16);
    }

    #[test]
    fn a_job_lost_while_running_is_reported() {
        let mut t = table("id,command\na,true\n", &[]);
        assert_eq!(t.next_ready(), Some((0, 1)));
        t.settle_all("x");
        let (results, lost) = t.into_results();
        assert_eq!(lost, [0]);
        assert_eq!(results.status(0), Some(Status::Failed));
    }

    #[test]
    fn transitions_from_the_wrong_state_change_nothing() {
        let mut t = table("id,command,group\na,true,g\n", &[("g".into(), 1)]);
        assert!(!t.retry_later(0, last(1, 1), Instant::now()));
        assert!(!t.unstart(0));
        assert_eq!(t.next_ready(), Some((0, 1)));
        t.finish(0, ok());
        assert!(t.finish(0, last(1, 1).into_result()).is_empty());
        assert_eq!(result(&t, 0).status, Status::Succeeded);
        check_invariants(&t);
    }

    #[test]
    fn resumed_jobs_release_their_dependents() {
        let p = plan("id,command,after\na,true,\nb,true,a\n", &[]);
        let mut t = JobTable::new(p, &[true, false]);
        assert_eq!(result(&t, 0).status, Status::Resumed);
        assert_eq!(drain(&mut t), [1]);
    }

    #[test]
    fn retry_delay_doubles_caps_and_jitters() {
        let s = Duration::from_secs(1);
        assert_eq!(retry_delay(s, 1, 1.0), Duration::from_secs(1));
        assert_eq!(retry_delay(s, 3, 1.0), Duration::from_secs(4));
        assert_eq!(retry_delay(s, 3, 0.0), Duration::from_secs(2));
        assert_eq!(retry_delay(s, 30, 1.0), Duration::from_secs(300));
    }

    #[test]
    fn wide_fan_and_long_chain_are_linear() {
        let mut text = String::from("id,command,after\nroot,true,\n");
        for i in 0..50_000 {
            text.push_str(&format!("f{i},true,root\n"));
        }
        text.push_str("c0,true,\n");
        for i in 1..50_000 {
            text.push_str(&format!("c{i},true,c{}\n", i - 1));
        }
        let mut t = table(&text, &[]);
        let mut done = 0;
        while t.counts().done < t.states.len() {
            let batch = drain(&mut t);
            assert!(!batch.is_empty());
            for i in batch {
                t.finish(i, ok());
                done += 1;
            }
        }
        assert_eq!(done, t.states.len());
    }
}
