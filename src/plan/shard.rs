/*!
The partition of a plan into shards (`--shard K/N`): components of `after`-connected jobs, each
assigned whole to the shard its key hashes to (see [`crate::model::shard`] for the rules).
*/

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use sha2::{Digest, Sha256};

use crate::model::shard::Shard;
use crate::plan::Plan;

/// Recorded durations in milliseconds by job id (`--balance-from`).
pub type Durations = HashMap<String, u64>;

/// What `--balance-from` gave a sharded plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balanced {
    /// Hex SHA-256 of the report the durations came from.
    pub sha256: String,
    /// For each shard (index 0 unused): its jobs and their expected total time in ms.
    pub loads: Vec<(usize, u64)>,
}

/// The shard (1 to `count`) of a component whose smallest id is `key`.
///
/// # Examples
///
/// ```text
/// // Every version computes the same shard for the same id and count.
/// assert_eq!(batchrun::shard::shard_of_key("a", 4), 3);
/// ```
pub fn shard_of_key(key: &str, count: u32) -> u32 {
    let digest = Sha256::digest(key.as_bytes());
    let first: [u8; 8] = digest[..8].try_into().expect("SHA-256 has 32 bytes");
    (u64::from_be_bytes(first) % u64::from(count)) as u32 + 1
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// For each job, its component's representative: the index of the job with the smallest id
/// (byte order) among the jobs connected to it through `after`. Union-find, near O(jobs + edges).
pub fn components(plan: &Plan) -> Vec<usize> {
    let n = plan.jobs.len();
    let mut parent: Vec<usize> = (0..n).collect();
    for i in 0..n {
        for d in plan.deps.of(i) {
            let (a, b) = (find(&mut parent, i), find(&mut parent, d));
            if a != b {
                // Keep the root with the smaller id, so each root is its component's key.
                let (lo, hi) = if plan.jobs.id(a).as_bytes() <= plan.jobs.id(b).as_bytes() {
                    (a, b)
                } else {
                    (b, a)
                };
                parent[hi] = lo;
            }
        }
    }
    (0..n).map(|i| find(&mut parent, i)).collect()
}

/// For each job of `plan`, its shard (1 to `count`).
pub fn assign(plan: &Plan, count: u32) -> Vec<u32> {
    shards_of(plan, &components(plan), count)
}

/// For each job, the shard of its component (`roots` from [`components`]); hashes each key once.
fn shards_of(plan: &Plan, roots: &[usize], count: u32) -> Vec<u32> {
    let mut memo: Vec<u32> = vec![0; plan.jobs.len()];
    roots
        .iter()
        .map(|&r| {
            if memo[r] == 0 {
                memo[r] = shard_of_key(plan.jobs.id(r), count);
            }
            memo[r]
        })
        .collect()
}

/// For each job, its expected duration in ms: the recorded one, else the median of those
/// recorded for the plan's jobs (1 ms when none is).
pub fn estimates(plan: &Plan, durations: &Durations) -> Vec<u64> {
    let known: Vec<Option<u64>> = plan
        .jobs
        .ids()
        .map(|id| durations.get(id).copied())
        .collect();
    let mut sorted: Vec<u64> = known.iter().flatten().copied().collect();
    sorted.sort_unstable();
    let median = match sorted.len() {
        0 => 1,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2,
    };
    known.into_iter().map(|d| d.unwrap_or(median)).collect()
}

/// For each job, its shard by recorded durations: whole components, heaviest first (ties by
/// key, as bytes), each to the shard with the least expected time so far (ties: the lowest
/// shard). The same plan, durations and count always give the same partition.
pub fn assign_balanced(plan: &Plan, count: u32, durations: &Durations) -> Vec<u32> {
    let roots = components(plan);
    let est = estimates(plan, durations);
    let mut weight: HashMap<usize, u64> = HashMap::new();
    for (i, &r) in roots.iter().enumerate() {
        *weight.entry(r).or_default() += est[i];
    }
    let mut comps: Vec<(usize, u64)> = weight.into_iter().collect();
    comps.sort_by(|a, b| {
        b.1.cmp(&a.1).then_with(|| {
            plan.jobs
                .id(a.0)
                .as_bytes()
                .cmp(plan.jobs.id(b.0).as_bytes())
        })
    });
    let mut heap: BinaryHeap<Reverse<(u64, u32)>> = (1..=count).map(|k| Reverse((0, k))).collect();
    let mut shard_of_root: HashMap<usize, u32> = HashMap::with_capacity(comps.len());
    for (root, w) in comps {
        let Reverse((load, k)) = heap.pop().expect("count >= 1");
        shard_of_root.insert(root, k);
        heap.push(Reverse((load.saturating_add(w), k)));
    }
    roots.iter().map(|r| shard_of_root[r]).collect()
}

/// Each shard's jobs and expected total time (index 0 unused).
pub fn loads(plan: &Plan, shards: &[u32], count: u32, durations: &Durations) -> Vec<(usize, u64)> {
    let mut loads = vec![(0usize, 0u64); count as usize + 1];
    for (&s, d) in shards.iter().zip(estimates(plan, durations)) {
        let l = &mut loads[s as usize];
        l.0 += 1;
        l.1 = l.1.saturating_add(d);
    }
    loads
}

/// Keeps only the jobs of `shard` of the partition balanced by `durations` (from the report
/// whose SHA-256 is `sha256`), recording every shard's load on the plan.
pub fn select_balanced(plan: Plan, shard: Shard, durations: &Durations, sha256: String) -> Plan {
    let shards = assign_balanced(&plan, shard.count, durations);
    let loads = loads(&plan, &shards, shard.count, durations);
    let keep: Vec<bool> = shards.iter().map(|&s| s == shard.index).collect();
    let mut sub = plan.subset(&keep);
    sub.shard = Some(shard);
    sub.balance = Some(Balanced { sha256, loads });
    sub
}

/// The size of the largest component and its key, when it holds more than half of the jobs
/// and there are more jobs than shards (sharding cannot spread them).
fn lopsided(plan: &Plan, roots: &[usize], count: u32) -> Option<(usize, String)> {
    let total = plan.jobs.len();
    if count < 2 || total <= count as usize {
        return None;
    }
    let mut sizes = vec![0usize; total];
    for &r in roots {
        sizes[r] += 1;
    }
    let (root, &size) = sizes.iter().enumerate().max_by_key(|&(_, s)| *s)?;
    (size * 2 > total).then(|| (size, plan.jobs.id(root).to_string()))
}

/// Keeps only the jobs of `shard`, in manifest order, warning when one `after`-connected
/// component holds most of the jobs.
pub fn select(plan: Plan, shard: Shard) -> Plan {
    let roots = components(&plan);
    if let Some((size, key)) = lopsided(&plan, &roots, shard.count) {
        log::warn!(
            "{size} of {} jobs are connected through `after` (the group of job '{key}'); they \
             all run in one shard, so sharding cannot spread them",
            plan.jobs.len()
        );
    }
    let keep: Vec<bool> = shards_of(&plan, &roots, shard.count)
        .into_iter()
        .map(|s| s == shard.index)
        .collect();
    let mut sub = plan.subset(&keep);
    sub.shard = Some(shard);
    sub
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doc_examples() {
        // Every version computes the same shard for the same id and count.
        assert_eq!(shard_of_key("a", 4), 3);
    }

    use {crate::manifest::parse, crate::model::config::ManifestOptions};

    fn plan(text: &str) -> Plan {
        let m = parse("m.csv", text.as_bytes(), false, &ManifestOptions::default()).unwrap();
        Plan::new(m, &[]).unwrap()
    }

    fn shard_by_id(p: &Plan, n: u32) -> std::collections::HashMap<String, u32> {
        p.jobs
            .iter()
            .map(|j| j.id.clone())
            .zip(assign(p, n))
            .collect()
    }

    #[test]
    fn the_documented_function() {
        // SHA-256("a") starts ca978112ca1bbdca: 0xca978112ca1bbdca % 4 = 2, so shard 3.
        assert_eq!(shard_of_key("a", 4), 3);
        assert_eq!(shard_of_key("a", 1), 1);
    }

    #[test]
    fn stable_under_reordering_and_new_rows() {
        let a = plan("id,command,after\nx,true,\ny,true,x\nz,true,\nw,true,\nv,true,\n");
        let b = plan(
            "id,command,after\nnew1,true,\nv,true,\nw,true,\ny,true,x\nz,true,\nx,true,\nnew2,true,\n",
        );
        for n in [1, 2, 3, 7] {
            let (sa, sb) = (shard_by_id(&a, n), shard_by_id(&b, n));
            for (id, s) in &sa {
                assert_eq!(sb[id], *s, "{id} moved with N={n}");
            }
        }
    }

    #[test]
    fn components_stay_together_and_use_the_smallest_id() {
        let p =
            plan("id,command,after\nb,true,\nc,true,b\nd,true,\na,true,d\ne,true,c a\nq,true,\n");
        let roots = components(&p);
        let ids: Vec<&str> = roots.iter().map(|&r| p.jobs.id(r)).collect();
        assert_eq!(ids, ["a", "a", "a", "a", "a", "q"]);
        for n in 1..20 {
            let s = assign(&p, n);
            assert!(s[..5].iter().all(|&x| x == shard_of_key("a", n)));
            assert_eq!(s[5], shard_of_key("q", n));
        }
    }

    #[test]
    fn every_job_in_exactly_one_shard() {
        let mut text = String::from("id,command,after\n");
        for i in 0..300 {
            let after = if i % 5 == 4 {
                format!("j{}", i - 1)
            } else {
                String::new()
            };
            text.push_str(&format!("j{i},true,{after}\n"));
        }
        let p = plan(&text);
        let n = 4;
        let mut seen = vec![0; p.jobs.len()];
        for k in 1..=n {
            let sub = select(p.clone(), Shard { index: k, count: n });
            assert_eq!(sub.shard, Some(Shard { index: k, count: n }));
            assert!(!sub.jobs.is_empty(), "shard {k} of 300 jobs is empty");
            let mut last = None;
            for j in sub.jobs.iter() {
                assert!(Some(j.index) > last, "manifest order");
                last = Some(j.index);
                seen[j.index] += 1;
            }
            // Dependencies resolve inside the subset.
            for i in 0..sub.jobs.len() {
                for d in sub.deps.of(i) {
                    assert!(sub.jobs.get(i).after.iter().any(|a| a == sub.jobs.id(d)));
                }
            }
        }
        assert!(seen.iter().all(|&c| c == 1));
    }

    #[test]
    fn balanced_shards_take_whole_components_greedily() {
        // c0 → c1 → c2 is one component of 30; five jobs of 10; one unknown (the median, 10).
        let p = plan(
            "id,command,after\nc0,true,\nc1,true,c0\nc2,true,c1\na,true,\nb,true,\nd,true,\ne,true,\nf,true,\nu,true,\n",
        );
        let d: Durations = [
            ("c0", 10),
            ("c1", 10),
            ("c2", 10),
            ("a", 10),
            ("b", 10),
            ("d", 10),
            ("e", 10),
            ("f", 10),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        assert_eq!(estimates(&p, &d)[8], 10);
        let s = assign_balanced(&p, 3, &d);
        // Heaviest first: the chain (30) to shard 1; then a, b, d, e, f, u (ties by key) to
        // the least loaded, lowest shard first.
        assert_eq!(s, [1, 1, 1, 2, 3, 2, 3, 2, 3]);
        assert_eq!(loads(&p, &s, 3, &d), [(0, 0), (3, 30), (3, 30), (3, 30)]);
        // Deterministic, and every component whole.
        assert_eq!(assign_balanced(&p, 3, &d), s);
        assert_eq!(assign_balanced(&p, 1, &d), vec![1; 9]);
        let none = Durations::new();
        assert_eq!(
            loads(&p, &assign_balanced(&p, 2, &none), 2, &none)[1..]
                .iter()
                .map(|l| l.0)
                .sum::<usize>(),
            9
        );
    }

    #[test]
    fn lopsided_components() {
        let mut text = String::from("id,command,after\nj0,true,\n");
        for i in 1..10 {
            text.push_str(&format!("j{i},true,j{}\n", i - 1));
        }
        text.push_str("free,true,\n");
        let p = plan(&text);
        let roots = components(&p);
        assert_eq!(lopsided(&p, &roots, 4), Some((10, "j0".into())));
        assert_eq!(lopsided(&p, &roots, 1), None);
        assert_eq!(lopsided(&p, &roots, 11), None);
        let even = plan("id,command\na,true\nb,true\nc,true\n");
        assert_eq!(lopsided(&even, &components(&even), 2), None);
    }
}
