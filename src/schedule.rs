/*!
The dispatcher's bookkeeping, free of threads and processes so it can be unit-tested: which
jobs are ready (manifest order first), which wait for `after`, which wait for a free slot in
their concurrency group, which wait out a retry delay, and which are skipped because a
dependency did not succeed.

Every operation is O(log n) per job or per edge, so 100,000 jobs in long chains or wide fans
schedule in linear-logarithmic time.
*/

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use crate::outcome::Status;
use crate::plan::Plan;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for jobs in its `after`.
    Blocked,
    /// In the ready queue, or waiting for a slot in its group.
    Ready,
    /// Handed to a worker.
    Running,
    /// Waiting out a retry delay.
    Delayed,
    /// Has its final status.
    Done,
}

/// Scheduling state for one run.
#[derive(Debug)]
pub struct Scheduler<'a> {
    /// For each job, the jobs that name it in `after`.
    dependents: &'a [Vec<usize>],
    /// For each job, how many of its `after` jobs have not succeeded yet.
    deps_left: Vec<usize>,
    /// For each job, its group.
    group_of: &'a [Option<usize>],
    /// For each group, its `--limit`.
    group_limit: Vec<Option<usize>>,
    /// For each group, how many of its jobs are running.
    group_running: Vec<usize>,
    /// For each group, ready jobs waiting for a slot, lowest index first.
    group_waiting: Vec<BinaryHeap<Reverse<usize>>>,
    /// Ready jobs, lowest index (manifest order) first.
    ready: BinaryHeap<Reverse<usize>>,
    /// Jobs waiting out a retry delay, earliest first.
    delayed: BinaryHeap<Reverse<(Instant, usize)>>,
    /// Each job's state.
    state: Vec<State>,
    /// How many jobs are not `Done`.
    open: usize,
}

impl<'a> Scheduler<'a> {
    /// Every job starts blocked or ready.
    pub fn new(plan: &'a Plan) -> Self {
        let n = plan.jobs.len();
        let deps_left: Vec<usize> = plan.deps.iter().map(Vec::len).collect();
        let ready: BinaryHeap<Reverse<usize>> =
            (0..n).filter(|&i| deps_left[i] == 0).map(Reverse).collect();
        let state = deps_left
            .iter()
            .map(|&d| if d == 0 { State::Ready } else { State::Blocked })
            .collect();
        Scheduler {
            dependents: &plan.dependents,
            deps_left,
            group_of: &plan.group_of,
            group_limit: plan.group_limits.clone(),
            group_running: vec![0; plan.groups.len()],
            group_waiting: vec![BinaryHeap::new(); plan.groups.len()],
            ready,
            delayed: BinaryHeap::new(),
            state,
            open: n,
        }
    }

    /// The next job to start, lowest index first, skipping over (and parking) jobs whose group
    /// is full. Marks it running.
    pub fn next_ready(&mut self) -> Option<usize> {
        while let Some(Reverse(i)) = self.ready.pop() {
            if self.state[i] != State::Ready {
                continue;
            }
            if let Some(g) = self.group_of[i] {
                if self.group_limit[g].is_some_and(|limit| self.group_running[g] >= limit) {
                    self.group_waiting[g].push(Reverse(i));
                    continue;
                }
                self.group_running[g] += 1;
            }
            self.state[i] = State::Running;
            return Some(i);
        }
        None
    }

    /// A running job's attempt ended and it will be retried at `at`.
    pub fn delay(&mut self, i: usize, at: Instant) {
        self.release_slot(i);
        self.state[i] = State::Delayed;
        self.delayed.push(Reverse((at, i)));
    }

    /// When the earliest retry is due.
    pub fn next_retry_at(&self) -> Option<Instant> {
        self.delayed.peek().map(|Reverse((at, _))| *at)
    }

    /// Moves retries that are due by `now` to the ready queue.
    pub fn promote_due(&mut self, now: Instant) {
        while let Some(&Reverse((at, i))) = self.delayed.peek() {
            if at > now {
                break;
            }
            self.delayed.pop();
            self.state[i] = State::Ready;
            self.ready.push(Reverse(i));
        }
    }

    /// Takes every job waiting out a retry delay (the run is stopping).
    pub fn take_delayed(&mut self) -> Vec<usize> {
        let jobs: Vec<usize> = self.delayed.drain().map(|Reverse((_, i))| i).collect();
        for &i in &jobs {
            self.state[i] = State::Running;
        }
        jobs
    }

    /// Frees a running job's group slot, letting the first waiting job of its group back in.
    fn release_slot(&mut self, i: usize) {
        if self.state[i] != State::Running {
            return;
        }
        if let Some(g) = self.group_of[i] {
            self.group_running[g] -= 1;
            if let Some(w) = self.group_waiting[g].pop() {
                self.ready.push(w);
            }
        }
    }

    /// Records a job's final status. A success releases its dependents; anything else skips
    /// them, and theirs, transitively. Returns the skipped jobs, each with the dependency that
    /// caused it (in the order found).
    pub fn finish(&mut self, i: usize, status: Status) -> Vec<(usize, usize)> {
        self.release_slot(i);
        if self.state[i] == State::Done {
            return Vec::new();
        }
        self.state[i] = State::Done;
        self.open -= 1;
        let mut skipped = Vec::new();
        if status.is_success() {
            for &d in &self.dependents[i] {
                self.deps_left[d] -= 1;
                if self.deps_left[d] == 0 && self.state[d] == State::Blocked {
                    self.state[d] = State::Ready;
                    self.ready.push(Reverse(d));
                }
            }
            return skipped;
        }
        let mut stack = vec![i];
        while let Some(v) = stack.pop() {
            for &d in &self.dependents[v] {
                if self.state[d] == State::Blocked {
                    self.state[d] = State::Done;
                    self.open -= 1;
                    skipped.push((d, v));
                    stack.push(d);
                }
            }
        }
        skipped
    }

    /// True when no job can start now or later without another job finishing first.
    pub fn idle(&self) -> bool {
        self.ready.is_empty() && self.delayed.is_empty()
    }

    /// How many jobs have no final status yet.
    pub fn open(&self) -> usize {
        self.open
    }

    /// Jobs without a final status, in manifest order.
    pub fn unfinished(&self) -> Vec<usize> {
        (0..self.state.len())
            .filter(|&i| self.state[i] != State::Done)
            .collect()
    }
}

/// The delay before attempt `attempt + 1`: `base` doubled per attempt, capped at five minutes,
/// scaled by a random factor in [0.5, 1.0) so retries of many jobs do not stampede.
pub fn retry_delay(base: Duration, attempt: u32, jitter: f64) -> Duration {
    const CAP: Duration = Duration::from_secs(300);
    let doubled = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    doubled.min(CAP).mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{parse, ManifestOptions};

    fn sched(text: &str, limits: &[(String, usize)]) -> (&'static Plan, Scheduler<'static>) {
        let m = parse("m.csv", text.as_bytes(), false, &ManifestOptions::default()).unwrap();
        let p: &'static Plan = Box::leak(Box::new(Plan::new(m, limits).unwrap()));
        (p, Scheduler::new(p))
    }

    fn drain(s: &mut Scheduler<'_>) -> Vec<usize> {
        std::iter::from_fn(|| s.next_ready()).collect()
    }

    #[test]
    fn dependencies_release_in_manifest_order() {
        let (_, mut s) = sched(
            "id,command,after\na,true,\nb,true,a\nc,true,\nd,true,a\n",
            &[],
        );
        assert_eq!(drain(&mut s), [0, 2]);
        assert!(s.finish(0, Status::Succeeded).is_empty());
        assert_eq!(drain(&mut s), [1, 3]);
    }

    #[test]
    fn failure_skips_down_the_chain_only() {
        let (_, mut s) = sched(
            "id,command,after\na,true,\nb,true,a\nc,true,b\nd,true,\ne,true,d c\n",
            &[],
        );
        assert_eq!(drain(&mut s), [0, 3]);
        let skipped = s.finish(0, Status::Failed);
        assert_eq!(skipped, [(1, 0), (2, 1), (4, 2)]);
        assert!(s.finish(3, Status::Succeeded).is_empty());
        assert_eq!(s.open(), 0);
    }

    #[test]
    fn full_group_parks_its_jobs_without_blocking_others() {
        let (_, mut s) = sched(
            "id,command,group\na,true,db\nb,true,db\nc,true,\nd,true,db\ne,true,\n",
            &[("db".into(), 1)],
        );
        assert_eq!(drain(&mut s), [0, 2, 4]);
        s.finish(0, Status::Succeeded);
        assert_eq!(drain(&mut s), [1]);
        s.finish(1, Status::Failed);
        assert_eq!(drain(&mut s), [3]);
    }

    #[test]
    fn retries_wait_without_holding_a_slot() {
        let (_, mut s) = sched(
            "id,command,group\na,true,db\nb,true,db\n",
            &[("db".into(), 1)],
        );
        assert_eq!(drain(&mut s), [0]);
        let t = Instant::now();
        s.delay(0, t + Duration::from_secs(5));
        assert_eq!(drain(&mut s), [1]);
        s.promote_due(t);
        assert!(drain(&mut s).is_empty());
        s.promote_due(t + Duration::from_secs(5));
        assert!(drain(&mut s).is_empty()); // group still full
        s.finish(1, Status::Succeeded);
        assert_eq!(drain(&mut s), [0]);
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
        let (p, mut s) = sched(&text, &[]);
        let mut done = 0;
        while s.open() > 0 {
            let batch = drain(&mut s);
            assert!(!batch.is_empty());
            for i in batch {
                s.finish(i, Status::Succeeded);
                done += 1;
            }
        }
        assert_eq!(done, p.jobs.len());
    }
}
