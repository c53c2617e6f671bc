/*!
Sharding: `--shard K/N` runs only the jobs of shard K of N, so one manifest can run across a
cluster engine (Slurm job arrays, Kubernetes Indexed Jobs, CI matrices, ssh hosts), every job
exactly once.

The partition is a pure function of the manifest's job ids and `after` edges, never of row
positions, so every machine and every version computes the same one:

1. Jobs connected through `after` (in either direction, transitively) form one *component*;
   a component never spans shards, so no dependency crosses machines.
2. A component's *key* is its smallest job id, comparing ids as bytes.
3. Its shard is `u64::from_be_bytes(first 8 bytes of SHA-256(key)) % N + 1`.

Adding, removing or reordering rows moves no job to another shard, except jobs whose component
itself changes (an `after` edge that joins or splits components).
*/

use std::fmt;

use sha2::{Digest, Sha256};

use crate::plan::Plan;

/// One shard: `index` of `count`, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// K, from 1 to `count`.
    pub index: u32,
    /// N, at least 1.
    pub count: u32,
}

impl fmt::Display for Shard {
    /// `K/N`, as `--shard` takes it and `BATCHRUN_SHARD` shows it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The largest N: enough for any cluster, and small enough that a per-shard table is cheap.
pub const MAX_COUNT: u32 = 1_000_000;

/// The Slurm job array variables `--shard auto` reads.
pub const SLURM_VARS: [&str; 4] = [
    "SLURM_ARRAY_TASK_ID",
    "SLURM_ARRAY_TASK_MIN",
    "SLURM_ARRAY_TASK_STEP",
    "SLURM_ARRAY_TASK_COUNT",
];

/// Parses a `--shard` value: `K/N` (1 ≤ K ≤ N), or `auto`, which reads the Slurm job array
/// variables through `env` (see [`from_slurm`]).
///
/// # Examples
///
/// ```text
/// use batchrun::shard::{parse_spec, Shard};
/// let none = |_: &str| None;
/// assert_eq!(parse_spec("2/4", none), Ok(Shard { index: 2, count: 4 }));
/// assert!(parse_spec("5/4", none).is_err());
/// assert!(parse_spec("auto", none).is_err()); // not in a Slurm array
/// ```
pub fn parse_spec(s: &str, env: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
    if s == "auto" {
        return from_slurm(env).map_err(|m| format!("--shard auto: {m}"));
    }
    let bad = |why: &str| {
        format!("--shard '{s}': {why} (expected K/N with 1 <= K <= N, e.g. 2/4, or auto)")
    };
    let (k, n) = s.split_once('/').ok_or_else(|| bad("no '/'"))?;
    let k: u32 = k.trim().parse().map_err(|_| bad("K is not a number"))?;
    let n: u32 = n.trim().parse().map_err(|_| bad("N is not a number"))?;
    if n == 0 {
        return Err(bad("N is 0"));
    }
    if n > MAX_COUNT {
        return Err(bad("N is above 1000000"));
    }
    if k == 0 || k > n {
        return Err(bad("K is out of range"));
    }
    Ok(Shard { index: k, count: n })
}

/// The shard of this Slurm array task: K = (ID − MIN) / STEP + 1 and N = COUNT, from the
/// variables in [`SLURM_VARS`]. An array that is not a regular range (`--array=1,3,8`) does not
/// divide evenly and is rejected.
pub fn from_slurm(env: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
    if env(SLURM_VARS[0]).is_none() {
        return Err(
            "not inside a Slurm job array (SLURM_ARRAY_TASK_ID is not set); give K/N explicitly"
                .into(),
        );
    }
    let mut v = [0u64; 4];
    for (slot, name) in v.iter_mut().zip(SLURM_VARS) {
        let text = env(name).ok_or_else(|| format!("{name} is not set"))?;
        *slot = text
            .trim()
            .parse()
            .map_err(|_| format!("{name}={text} is not a number"))?;
    }
    let [id, min, step, count] = v;
    let uneven = || {
        format!(
            "task {id} of an array with min {min}, step {step} and {count} tasks does not give \
             a shard (expected a regular range such as --array=1-{count} or --array=0-{}:{step})",
            count.saturating_sub(1) * step.max(1)
        )
    };
    if step == 0 || id < min || (id - min) % step != 0 {
        return Err(uneven());
    }
    let k = (id - min) / step + 1;
    if count > u64::from(MAX_COUNT) {
        return Err(format!(
            "{count} tasks: expected at most {MAX_COUNT} shards"
        ));
    }
    if count == 0 || k > count {
        return Err(uneven());
    }
    Ok(Shard {
        index: k as u32,
        count: count as u32,
    })
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

/// The hex SHA-256 of `bytes` (the `manifest_sha256` of reports).
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
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

/// Makes every job of this process see `BATCHRUN_SHARD=K/N`: call before any thread starts
/// (children inherit the environment).
pub fn export_env(shard: Option<Shard>) {
    match shard {
        Some(s) => std::env::set_var("BATCHRUN_SHARD", s.to_string()),
        None => std::env::remove_var("BATCHRUN_SHARD"),
    }
}

/// Shard numbers as Kubernetes-style ranges: `[3, 5, 6]` → `3,5-6`. `numbers` must be sorted.
pub fn ranges(numbers: &[u32]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < numbers.len() {
        let mut j = i;
        while j + 1 < numbers.len() && numbers[j + 1] == numbers[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            numbers[i].to_string()
        } else {
            format!("{}-{}", numbers[i], numbers[j])
        });
        i = j + 1;
    }
    out.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doc_examples() {
        let none = |_: &str| None;
        assert_eq!(parse_spec("2/4", none), Ok(Shard { index: 2, count: 4 }));
        assert!(parse_spec("5/4", none).is_err());
        assert!(parse_spec("auto", none).is_err()); // not in a Slurm array
                                                    // Every version computes the same shard for the same id and count.
        assert_eq!(shard_of_key("a", 4), 3);
    }
    use crate::manifest::{parse, ManifestOptions};

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
    fn specs() {
        let none = |_: &str| None;
        assert_eq!(parse_spec("1/1", none), Ok(Shard { index: 1, count: 1 }));
        assert_eq!(parse_spec("4/4", none).unwrap().to_string(), "4/4");
        assert!(parse_spec("1/1000000", none).is_ok());
        for bad in [
            "0/4",
            "5/4",
            "1/0",
            "x/2",
            "2",
            "",
            "/",
            "1/",
            "-1/4",
            "1/4/5",
            "auto",
            "1/1000001",
        ] {
            let e = parse_spec(bad, none).unwrap_err();
            assert!(e.starts_with("--shard"), "{bad}: {e}");
        }
    }

    fn slurm(vars: &[(&str, &str)]) -> Result<Shard, String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (format!("SLURM_ARRAY_TASK_{k}"), v.to_string()))
            .collect();
        from_slurm(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn slurm_arrays() {
        let s = |id, min, step, count| {
            slurm(&[("ID", id), ("MIN", min), ("STEP", step), ("COUNT", count)])
        };
        assert_eq!(s("1", "1", "1", "4").unwrap().to_string(), "1/4");
        assert_eq!(s("4", "1", "1", "4").unwrap().to_string(), "4/4");
        assert_eq!(s("0", "0", "1", "3").unwrap().to_string(), "1/3");
        assert_eq!(s("7", "1", "2", "4").unwrap().to_string(), "4/4");
        // --array=1,3,8: not a regular range.
        assert!(s("8", "1", "1", "3").is_err());
        assert!(s("4", "1", "2", "4").is_err());
        assert!(s("0", "1", "1", "4").is_err());
        assert!(s("1", "1", "0", "4").is_err());
        assert!(s("x", "1", "1", "4").is_err());
        assert!(slurm(&[("ID", "1")])
            .unwrap_err()
            .contains("MIN is not set"));
        assert!(slurm(&[])
            .unwrap_err()
            .contains("not inside a Slurm job array"));
    }

    #[test]
    fn the_documented_function() {
        // SHA-256("a") starts ca978112ca1bbdca: 0xca978112ca1bbdca % 4 = 2, so shard 3.
        assert_eq!(shard_of_key("a", 4), 3);
        assert_eq!(shard_of_key("a", 1), 1);
        assert_eq!(
            sha256_hex(b"a"),
            "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
        );
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

    #[test]
    fn shard_ranges() {
        assert_eq!(ranges(&[3, 5, 6]), "3,5-6");
        assert_eq!(ranges(&[1, 2, 3, 4]), "1-4");
        assert_eq!(ranges(&[2]), "2");
        assert_eq!(ranges(&[]), "");
        assert_eq!(ranges(&[1, 3, 5, 7, 8, 9, 12]), "1,3,5,7-9,12");
    }
}
