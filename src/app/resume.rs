/*!
`--resume`: which jobs an earlier run's joblog lets this run skip.

- When the jobs have real ids (an `id` column or `--id`), a job is resumed when the last joblog
  line of its id is a success with the same command hash (see [`crate::output::joblog::command_hash`]).
- When the ids are row (or `--lines` item) numbers, they say nothing about which row is which
  once rows are inserted, removed or reordered, so jobs are matched by command hash alone. Each
  successful joblog line resumes at most one job: two identical rows need two successes, and
  the first rows (in manifest order) take them. A command whose last joblog line is not a
  success (it failed, timed out, was skipped, cancelled or not started) has no successes left
  to give: every row running it runs again.
- Resume is make-like: a job that runs in this run makes every job `after` it, transitively,
  run too, even if that one succeeded before with the same command (its inputs may have
  changed).
*/

use std::collections::VecDeque;
use std::path::Path;

use crate::output::joblog::{self, History, JoblogError};
use crate::plan::Plan;

/// For each job of `plan`, whether `--resume` skips it, per the joblog at `joblog` (`None`:
/// no `--resume`, nothing is skipped). A missing joblog resumes nothing.
pub fn from_joblog(plan: &Plan, joblog: Option<&Path>) -> Result<Vec<bool>, JoblogError> {
    match joblog {
        None => Ok(vec![false; plan.jobs.len()]),
        Some(path) => Ok(resumed(
            plan,
            joblog::read_history(path, plan.ids_from_rows)?,
        )),
    }
}

/// For each job of `plan`, whether the joblog `history` lets it be skipped.
pub fn resumed(plan: &Plan, history: History) -> Vec<bool> {
    if history.is_empty() {
        return vec![false; plan.jobs.len()];
    }
    let mut resumed = vec![false; plan.jobs.len()];
    if plan.ids_from_rows {
        // Only the jobs whose command has a success are candidates; they take the successes
        // in manifest order.
        let mut left = history.into_successes();
        let keep = |i: usize| {
            let k = plan.jobs.command_key(i);
            left.contains_key(&k).then_some(k)
        };
        for (i, k) in candidates(plan, &keep) {
            if let Some(n) = left.get_mut(&k).filter(|n| **n > 0) {
                *n -= 1;
                resumed[i] = true;
            }
        }
    } else {
        // Most jobs of a stopped run have no success: their key is not made.
        let ok = |i: usize| {
            let want = history.succeeded(plan.jobs.id(i))?;
            let k = plan.jobs.command_key(i);
            (k == want).then_some(k)
        };
        for (i, _) in candidates(plan, &ok) {
            resumed[i] = true;
        }
    }
    run_dependents_too(plan, &mut resumed);
    resumed
}

/// The jobs (index, command key) that `keep` keeps (giving their key), in manifest order;
/// `keep` runs on every core (a big manifest has a million jobs), a chunk at a time, and only
/// the kept jobs are held.
fn candidates(plan: &Plan, keep: &(dyn Fn(usize) -> Option<u64> + Sync)) -> Vec<(usize, u64)> {
    const CHUNK: usize = 4096;
    let n = plan.jobs.len();
    let starts: Vec<usize> = (0..n).step_by(CHUNK).collect();
    let chunks = crate::util::par::scope(n, |par| {
        par.map(&starts, |&s| {
            (s..n.min(s + CHUNK))
                .filter_map(|i| Some((i, keep(i)?)))
                .collect::<Vec<_>>()
        })
    });
    chunks.concat()
}

/// Un-resumes every job that is `after` (transitively) a job that runs.
fn run_dependents_too(plan: &Plan, resumed: &mut [bool]) {
    if plan.dependents.has_no_edges() {
        return;
    }
    let mut queue: VecDeque<usize> = (0..resumed.len()).filter(|&i| !resumed[i]).collect();
    while let Some(i) = queue.pop_front() {
        for d in plan.dependents.of(i) {
            if resumed[d] {
                resumed[d] = false;
                queue.push_back(d);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use {crate::manifest::parse, crate::model::config::ManifestOptions};

    fn plan(text: &str) -> Plan {
        let m = parse("m.csv", text.as_bytes(), false, &ManifestOptions::default()).unwrap();
        Plan::new(m, &[]).unwrap()
    }

    fn history(plan: &Plan, ok: &[usize]) -> History {
        let mut h = History::new(plan.ids_from_rows);
        for &i in ok {
            let job = &plan.jobs.get(i);
            h.record(&job.id, true, &joblog::command_hash(job));
        }
        h
    }

    #[test]
    fn row_numbers_match_by_command() {
        let before = plan("command\necho a\necho b\n");
        let h = history(&before, &[0, 1]);
        // A row inserted at the top: only it runs.
        let after = plan("command\necho new\necho a\necho b\n");
        assert_eq!(resumed(&after, h.clone()), [false, true, true]);
    }

    #[test]
    fn each_success_resumes_one_duplicate() {
        let p = plan("command\necho a\necho a\necho a\n");
        let mut h = history(&p, &[0, 1]);
        assert_eq!(resumed(&p, h.clone()), [true, true, false]);
        // A later failure of the same command takes its successes away.
        h.record("3", false, &joblog::command_hash(&p.jobs.get(0)));
        assert_eq!(resumed(&p, h.clone()), [false, false, false]);
    }

    #[test]
    fn real_ids_match_by_id_and_command() {
        let p = plan("id,command\na,echo a\nb,echo b\n");
        let mut h = history(&p, &[0, 1]);
        h.record("b", true, "another command");
        assert_eq!(resumed(&p, h.clone()), [true, false]);
    }

    #[test]
    fn a_job_that_runs_runs_everything_after_it() {
        let old = plan("id,command,after\nextract,echo v1,\nreport,echo r,extract\nfinal,echo f,report\nother,echo o,\n");
        let h = history(&old, &[0, 1, 2, 3]);
        assert_eq!(resumed(&old, h.clone()), [true; 4]);
        let new = plan("id,command,after\nextract,echo v2,\nreport,echo r,extract\nfinal,echo f,report\nother,echo o,\n");
        assert_eq!(resumed(&new, h.clone()), [false, false, false, true]);
    }
}
