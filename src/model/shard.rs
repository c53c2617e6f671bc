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
    fn shard_ranges() {
        assert_eq!(ranges(&[3, 5, 6]), "3,5-6");
        assert_eq!(ranges(&[1, 2, 3, 4]), "1-4");
        assert_eq!(ranges(&[2]), "2");
        assert_eq!(ranges(&[]), "");
        assert_eq!(ranges(&[1, 3, 5, 7, 8, 9, 12]), "1,3,5,7-9,12");
    }
}
