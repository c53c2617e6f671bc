/*!
Cross-row checks and the run plan: `after` ids resolved to indices, cycles found (and printed
with their ids in order), `--limit` groups matched, and the start order a single worker would
follow. Everything here is O(jobs + edges).
*/

pub(crate) mod adjacency;
pub(crate) mod shard;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use crate::manifest::{Manifest, NO_GROUP};
use crate::model::problem::Problem;
use crate::plan::adjacency::Adjacency;
use crate::store::jobs::Jobs;

/// A validated manifest, ready to schedule.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The manifest's display name.
    pub manifest: String,
    /// Every job, in manifest order.
    pub jobs: Jobs,
    /// For each job, the indices of the jobs in its `after` (sorted, without repeats).
    pub deps: Adjacency,
    /// For each job, the indices of the jobs whose `after` names it (in manifest order).
    pub dependents: Adjacency,
    /// Group names, in order of first appearance.
    pub groups: Vec<String>,
    /// For each group, its `--limit` (`None`: only the worker count limits it).
    pub group_limits: Vec<Option<usize>>,
    /// For each job, its group's index in `groups` ([`NO_GROUP`]: none); empty when no job
    /// is in a group. Read it with [`Plan::group`].
    pub group_of: Vec<u32>,
    /// True when the ids are row (or item) numbers, so `--resume` matches by command.
    pub ids_from_rows: bool,
    /// Hex SHA-256 of the manifest's bytes, as read (empty when the plan was not read from
    /// bytes).
    pub manifest_sha256: String,
    /// With `--shard`: the shard these jobs are (the plan holds only its jobs).
    pub shard: Option<crate::model::shard::Shard>,
    /// With `--balance-from`: the report the shards were balanced by, and every shard's load.
    pub balance: Option<shard::Balanced>,
    /// The widest cell of each column of the plan table, when known for these jobs (measured
    /// as the manifest was read; not for a subset).
    pub table_widths: Option<[usize; 6]>,
}

impl Plan {
    /// Checks `after` and `--limit`, building the plan; returns every problem found.
    pub fn new(manifest: Manifest, limits: &[(String, usize)]) -> Result<Plan, Vec<Problem>> {
        let name = manifest.name.clone();
        let jobs = &manifest.jobs;
        let mut problems = Vec::new();
        let after = |i: usize| match manifest.after.is_empty() {
            true => "",
            false => manifest.after.get(i),
        };
        // Only `after` looks ids up: without it, no index is built.
        let index: HashMap<&str, usize> = if (0..jobs.len()).any(|i| !after(i).trim().is_empty()) {
            jobs.ids().enumerate().map(|(i, id)| (id, i)).collect()
        } else {
            HashMap::new()
        };

        let mut deps = Adjacency::new();
        let mut mine: Vec<usize> = Vec::new();
        for i in 0..jobs.len() {
            mine.clear();
            for dep in after(i).split_whitespace() {
                match index.get(dep) {
                    Some(&d) => mine.push(d),
                    // A row with problems of its own: already reported.
                    None if manifest.invalid_ids.contains(dep) => {}
                    None => problems.push(Problem {
                        origin: name.clone(),
                        line: Some(jobs.line(i)),
                        column: Some("after".into()),
                        message: format!(
                            "unknown id '{dep}' (expected the id of a job in this manifest)"
                        ),
                    }),
                }
            }
            // A job may name another twice; sorting keeps this O(edges log edges) even for a
            // job that waits on tens of thousands of others.
            mine.sort_unstable();
            mine.dedup();
            deps.push_node(mine.iter().copied());
        }
        drop(index);
        let dependents = deps.transpose();
        problems.extend(cycle_problems(&name, jobs, &deps));

        let group_limits = resolve_limits(&manifest.groups, limits, &mut problems);

        if !problems.is_empty() {
            problems.sort_by_key(|p| p.line);
            return Err(problems);
        }
        Ok(Plan {
            manifest: name,
            jobs: manifest.jobs,
            deps,
            dependents,
            groups: manifest.groups,
            group_limits,
            group_of: manifest.group_of,
            ids_from_rows: manifest.ids_from_rows,
            manifest_sha256: String::new(),
            shard: None,
            balance: None,
            table_widths: Some(manifest.table_widths),
        })
    }

    /// Job `i`'s group, as an index in [`Plan::groups`].
    pub fn group(&self, i: usize) -> Option<usize> {
        match self.group_of.get(i) {
            Some(&g) if g != NO_GROUP => Some(g as usize),
            _ => None,
        }
    }

    /// The plan of the jobs with `keep[i]` set, in manifest order. No kept job may depend on
    /// a job that is not kept (true of whole `after` components). Groups and their limits are
    /// kept as they are, so `--limit` applies to the subset's share of each group.
    pub fn subset(self, keep: &[bool]) -> Plan {
        let mut new_index = vec![usize::MAX; self.jobs.len()];
        let mut n = 0;
        for (i, &k) in keep.iter().enumerate() {
            if k {
                new_index[i] = n;
                n += 1;
            }
        }
        let remap = |v: &[u32]| {
            v.iter()
                .map(|&d| new_index[d as usize])
                .filter(|&d| d != usize::MAX)
                .collect::<Vec<usize>>()
        };
        let mut deps = crate::plan::adjacency::Adjacency::new();
        let mut dependents = crate::plan::adjacency::Adjacency::new();
        for i in (0..keep.len()).filter(|&i| keep[i]) {
            debug_assert!(self.deps.of(i).all(|d| keep[d]), "a dependency crosses");
            deps.push_node(remap(&self.deps[i]));
            dependents.push_node(remap(&self.dependents[i]));
        }
        let group_of = match self.group_of.is_empty() {
            true => Vec::new(),
            false => (0..keep.len())
                .filter(|&i| keep[i])
                .map(|i| self.group_of[i])
                .collect(),
        };
        Plan {
            jobs: self.jobs.subset(keep),
            deps,
            dependents,
            group_of,
            table_widths: None,
            ..self
        }
    }

    /// The order one worker would start the jobs in: manifest order, as far as `after` allows.
    pub fn start_order(&self) -> Vec<usize> {
        if self.deps.has_no_edges() {
            return (0..self.jobs.len()).collect();
        }
        let mut left: Vec<usize> = (0..self.deps.len()).map(|i| self.deps[i].len()).collect();
        let mut ready: BinaryHeap<Reverse<usize>> = (0..self.jobs.len())
            .filter(|&i| left[i] == 0)
            .map(Reverse)
            .collect();
        let mut order = Vec::with_capacity(self.jobs.len());
        while let Some(Reverse(i)) = ready.pop() {
            order.push(i);
            for d in self.dependents.of(i) {
                left[d] -= 1;
                if left[d] == 0 {
                    ready.push(Reverse(d));
                }
            }
        }
        order
    }
}

/// Each group's `--limit`; a limit naming no group is a problem.
fn resolve_limits(
    groups: &[String],
    limits: &[(String, usize)],
    problems: &mut Vec<Problem>,
) -> Vec<Option<usize>> {
    let mut group_limits = vec![None; groups.len()];
    for (g, n) in limits {
        match groups.iter().position(|name| name == g) {
            Some(gi) => group_limits[gi] = Some(*n),
            None => {
                problems.push(Problem {
                    origin: "--limit".into(),
                    line: None,
                    column: None,
                    message: format!(
                    "{g}={n}: no job is in group '{g}' (expected one of the manifest's groups: {})",
                    if groups.is_empty() { "none".to_string() } else { groups.join(", ") }
                ),
                })
            }
        }
    }
    group_limits
}

/// One problem per dependency cycle, on the line of its first job.
fn cycle_problems(name: &str, jobs: &Jobs, deps: &Adjacency) -> Vec<Problem> {
    find_cycles(deps)
        .into_iter()
        .map(|cycle| {
            let first = *cycle.iter().min().expect("a cycle has members");
            let ids: Vec<&str> = cycle.iter().map(|&i| jobs.id(i)).collect();
            Problem {
                origin: name.to_string(),
                line: Some(jobs.line(first)),
                column: Some("after".into()),
                message: format!(
                    "dependency cycle: {} (expected `after` to form no cycle)",
                    cycle_text(&ids)
                ),
            }
        })
        .collect()
}

/// Cycles longer than this are printed abbreviated.
const CYCLE_SHOWN: usize = 10;

/// A cycle's ids as `a -> b -> a`; a long one as its first [`CYCLE_SHOWN`] ids, the count of
/// those left out, and the last id.
fn cycle_text(ids: &[&str]) -> String {
    let mut shown: Vec<String> = Vec::new();
    if ids.len() > CYCLE_SHOWN + 1 {
        shown.extend(ids[..CYCLE_SHOWN].iter().map(|s| s.to_string()));
        shown.push(format!("… {} more …", ids.len() - CYCLE_SHOWN - 1));
        shown.push(ids[ids.len() - 1].to_string());
    } else {
        shown.extend(ids.iter().map(|s| s.to_string()));
    }
    shown.push(ids[0].to_string());
    let text = shown.join(" -> ");
    if ids.len() > CYCLE_SHOWN + 1 {
        format!("{} jobs: {text}", ids.len())
    } else {
        text
    }
}

/// Every dependency cycle, each as job indices in `after` order, starting at its smallest index.
/// Tarjan's strongly connected components (iterative), then one shortest cycle through the
/// smallest member of each component.
fn find_cycles(deps: &Adjacency) -> Vec<Vec<usize>> {
    if deps.has_no_edges() {
        return Vec::new();
    }
    let n = deps.len();
    const UNSEEN: usize = usize::MAX;
    let mut order = vec![UNSEEN; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut comp = vec![UNSEEN; n];
    let mut comps: Vec<Vec<usize>> = Vec::new();
    let mut counter = 0;
    for root in 0..n {
        if order[root] != UNSEEN {
            continue;
        }
        let mut call: Vec<(usize, usize)> = vec![(root, 0)];
        order[root] = counter;
        low[root] = counter;
        counter += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut next)) = call.last_mut() {
            if let Some(&w) = deps[v].get(*next) {
                let w = w as usize;
                *next += 1;
                if order[w] == UNSEEN {
                    order[w] = counter;
                    low[w] = counter;
                    counter += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    call.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(order[w]);
                }
            } else {
                call.pop();
                if let Some(&(parent, _)) = call.last() {
                    low[parent] = low[parent].min(low[v]);
                }
                if low[v] == order[v] {
                    pop_component(v, &mut stack, &mut on_stack, &mut comp, &mut comps, deps);
                }
            }
        }
    }
    let mut cycles = Vec::new();
    for (ci, members) in comps.iter().enumerate() {
        let start = *members.iter().min().expect("non-empty component");
        cycles.push(shortest_cycle(deps, &comp, ci, start));
    }
    cycles.sort();
    cycles
}

/// Pops the strongly connected component rooted at `v` off Tarjan's stack. Only components
/// that hold a cycle (more than one job, or one `after` itself) are kept in `comps` and
/// numbered in `comp`; the others (nearly every job) cost no allocation.
fn pop_component(
    v: usize,
    stack: &mut Vec<usize>,
    on_stack: &mut [bool],
    comp: &mut [usize],
    comps: &mut Vec<Vec<usize>>,
    deps: &Adjacency,
) {
    let top = stack
        .iter()
        .rposition(|&w| w == v)
        .expect("v is on the stack");
    let cyclic = stack.len() - top > 1 || deps.of(v).any(|d| d == v);
    if !cyclic {
        for w in stack.drain(top..) {
            on_stack[w] = false;
        }
        return;
    }
    let members: Vec<usize> = stack.drain(top..).collect();
    for &w in &members {
        on_stack[w] = false;
        comp[w] = comps.len();
    }
    comps.push(members);
}

/// The shortest cycle through `start` inside its strongly connected component `ci`, in `after`
/// order, found breadth-first.
fn shortest_cycle(deps: &Adjacency, comp: &[usize], ci: usize, start: usize) -> Vec<usize> {
    let mut prev: HashMap<usize, usize> = HashMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    'bfs: while let Some(v) = queue.pop_front() {
        for w in deps.of(v) {
            if comp[w] != ci {
                continue;
            }
            if w == start {
                prev.insert(start, v);
                break 'bfs;
            }
            if let std::collections::hash_map::Entry::Vacant(e) = prev.entry(w) {
                e.insert(v);
                queue.push_back(w);
            }
        }
    }
    let mut cycle = vec![start];
    let mut v = prev[&start];
    while v != start {
        cycle.push(v);
        v = prev[&v];
    }
    cycle[1..].reverse();
    cycle
}

#[cfg(test)]
mod tests {
    use super::*;
    use {crate::manifest::parse, crate::model::config::ManifestOptions};

    fn plan(text: &str, limits: &[(String, usize)]) -> Result<Plan, Vec<String>> {
        let m = parse("m.csv", text.as_bytes(), false, &ManifestOptions::default()).unwrap();
        Plan::new(m, limits).map_err(|ps| ps.iter().map(|p| p.to_string()).collect())
    }

    #[test]
    fn start_order_follows_manifest_and_after() {
        let p = plan(
            "id,command,after\na,true,c\nb,true,\nc,true,\nd,true,a b\n",
            &[],
        )
        .unwrap();
        let ids: Vec<&str> = p.start_order().iter().map(|&i| p.jobs.id(i)).collect();
        assert_eq!(ids, ["b", "c", "a", "d"]);
    }

    #[test]
    fn unknown_ids_and_cycles_are_all_reported() {
        let e = plan(
            "id,command,after\na,true,c\nb,true,a\nc,true,b\nd,true,zz\ne,true,e\n",
            &[],
        )
        .unwrap_err();
        assert_eq!(
            e,
            [
                "m.csv:2: column 'after': dependency cycle: a -> c -> b -> a (expected `after` to form no cycle)",
                "m.csv:5: column 'after': unknown id 'zz' (expected the id of a job in this manifest)",
                "m.csv:6: column 'after': dependency cycle: e -> e (expected `after` to form no cycle)",
            ]
        );
    }

    #[test]
    fn long_cycles_are_abbreviated() {
        let n = 100_000;
        let mut text = String::from("id,command,after\n");
        for i in 0..n {
            text.push_str(&format!("j{i},true,j{}\n", (i + 1) % n));
        }
        let e = plan(&text, &[]).unwrap_err();
        assert_eq!(
            e,
            ["m.csv:2: column 'after': dependency cycle: 100000 jobs: j0 -> j1 -> j2 -> j3 -> j4 -> j5 -> j6 -> j7 -> j8 -> j9 -> … 99989 more … -> j99999 -> j0 (expected `after` to form no cycle)"]
        );
        let short: Vec<String> = (0..11).map(|i| format!("j{i}")).collect();
        let ids: Vec<&str> = short.iter().map(String::as_str).collect();
        assert_eq!(cycle_text(&ids).matches(" -> ").count(), 11);
    }

    #[test]
    fn limit_must_name_a_group() {
        let e = plan("id,command,group\na,true,db\n", &[("web".into(), 2)]).unwrap_err();
        assert_eq!(
            e,
            ["--limit: web=2: no job is in group 'web' (expected one of the manifest's groups: db)"]
        );
        let p = plan("id,command,group\na,true,db\n", &[("db".into(), 2)]).unwrap();
        assert_eq!(p.group_limits, [Some(2)]);
        assert_eq!(p.group(0), Some(0));
    }

    #[test]
    fn wide_fan_in_with_repeats() {
        let mut text = String::from("id,command,after\n");
        let ids: Vec<String> = (0..50_000).map(|i| format!("j{i}")).collect();
        for id in &ids {
            text.push_str(&format!("{id},true,\n"));
        }
        text.push_str(&format!("all,true,{} j0\n", ids.join(" ")));
        let p = plan(&text, &[]).unwrap();
        assert_eq!(p.deps[50_000].len(), 50_000);
        assert_eq!(p.dependents[0], [50_000]);
        assert_eq!(*p.start_order().last().unwrap(), 50_000);
    }

    #[test]
    fn long_chain_does_not_overflow_the_stack() {
        let mut text = String::from("id,command,after\nj0,true,\n");
        for i in 1..100_000 {
            text.push_str(&format!("j{i},true,j{}\n", i - 1));
        }
        let p = plan(&text, &[]).unwrap();
        assert_eq!(p.start_order().len(), 100_000);
    }
}
