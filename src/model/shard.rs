/*!
Sharding: `--shard K/N` runs only the jobs of shard K of N, so one manifest can run across a
cluster engine (Slurm job arrays, Kubernetes Indexed Jobs, AWS Batch and Google Cloud Batch
arrays, HyperQueue task arrays, CI matrices, ssh hosts), every job exactly once.

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
pub const SLURM_VARS: [&str; 5] = [
    "SLURM_ARRAY_TASK_ID",
    "SLURM_ARRAY_TASK_MIN",
    "SLURM_ARRAY_TASK_STEP",
    "SLURM_ARRAY_TASK_COUNT",
    "SLURM_ARRAY_TASK_MAX",
];

/// The count of shards where the engine does not export it (Kubernetes, HyperQueue).
pub const COUNT_VAR: &str = "BATCHRUN_SHARD_COUNT";

/// A cluster engine `--shard auto` recognises, by the variable holding the task's index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Engine {
    /// The engine's name, as messages and README say it.
    pub name: &'static str,
    /// The variable that is set in every task of an array (its presence selects the engine).
    pub index_var: &'static str,
    /// The variables holding the number of tasks, in the order they are read: the engine's
    /// own first, then [`COUNT_VAR`] where the engine exports none.
    pub count_vars: &'static [&'static str],
}

/// Every engine `--shard auto` reads, Slurm first. Every index but Slurm's is 0-based.
pub const ENGINES: [Engine; 5] = [
    Engine {
        name: "Slurm",
        index_var: "SLURM_ARRAY_TASK_ID",
        count_vars: &["SLURM_ARRAY_TASK_COUNT"],
    },
    Engine {
        name: "Kubernetes",
        index_var: "JOB_COMPLETION_INDEX",
        count_vars: &[COUNT_VAR],
    },
    Engine {
        name: "AWS Batch",
        index_var: "AWS_BATCH_JOB_ARRAY_INDEX",
        count_vars: &["AWS_BATCH_JOB_ARRAY_SIZE", COUNT_VAR],
    },
    Engine {
        name: "Google Cloud Batch",
        index_var: "BATCH_TASK_INDEX",
        count_vars: &["BATCH_TASK_COUNT"],
    },
    Engine {
        name: "HyperQueue",
        index_var: "HQ_TASK_ID",
        count_vars: &[COUNT_VAR],
    },
];

/// Parses a `--shard` value: `K/N` (1 ≤ K ≤ N), or `auto`, which reads the cluster engine's
/// variables through `env` (see [`from_env`]).
///
/// # Examples
///
/// ```text
/// use batchrun::shard::{parse_spec, Shard};
/// let none = |_: &str| None;
/// assert_eq!(parse_spec("2/4", none), Ok(Shard { index: 2, count: 4 }));
/// assert!(parse_spec("5/4", none).is_err());
/// assert!(parse_spec("auto", none).is_err()); // not in a job array
/// ```
pub fn parse_spec(s: &str, env: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
    if s == "auto" {
        return from_env(env).map_err(|m| format!("--shard auto: {m}"));
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

/// The shard of this task of a cluster job array, from the variables of the one engine in
/// [`ENGINES`] whose index variable is set. None set, or two engines' at once, is an error
/// naming the variables.
pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
    let seen: Vec<&Engine> = ENGINES
        .iter()
        .filter(|e| env(e.index_var).is_some())
        .collect();
    match seen.as_slice() {
        [] => Err(format!(
            "not inside a job array (none of {} is set); give K/N explicitly",
            ENGINES.map(|e| e.index_var).join(", ")
        )),
        [e] if e.name == "Slurm" => from_slurm(env),
        [e] => from_index(e, env),
        many => Err(format!(
            "the variables of {} engines are set ({}): expected those of one engine; unset the \
             others or give K/N explicitly",
            many.len(),
            many.iter()
                .map(|e| format!("{} for {}", e.index_var, e.name))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// A variable's value as a number, or why not.
fn number(env: &impl Fn(&str) -> Option<String>, name: &str) -> Result<u64, String> {
    let text = env(name).ok_or_else(|| format!("{name} is not set"))?;
    text.trim()
        .parse()
        .map_err(|_| format!("{name}={text} is not a number"))
}

/// The shard of a task with a 0-based index (every engine but Slurm): K = index + 1, N from the
/// first of the engine's count variables that is set.
fn from_index(e: &Engine, env: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
    let index = number(&env, e.index_var)?;
    let Some(count_var) = e.count_vars.iter().find(|v| env(v).is_some()) else {
        return Err(format!(
            "{} is set ({}) but {} is not: set it to the number of tasks",
            e.index_var,
            e.name,
            e.count_vars.join(" or ")
        ));
    };
    let count = number(&env, count_var)?;
    if count == 0 || count > u64::from(MAX_COUNT) {
        return Err(format!(
            "{count_var}={count}: expected 1 to {MAX_COUNT} shards"
        ));
    }
    if index >= count {
        return Err(format!(
            "{}={index} is not below {count_var}={count} (expected 0-based indexes 0 to {})",
            e.index_var,
            count - 1
        ));
    }
    Ok(Shard {
        index: index as u32 + 1,
        count: count as u32,
    })
}

/// The shard of this Slurm array task: K = (ID − MIN) / STEP + 1 and N = COUNT, from the
/// variables in [`SLURM_VARS`]. Only a regular range (MAX = MIN + (COUNT − 1) × STEP, as
/// `--array=1-8` or `--array=0-15:3` give) is a set of shards: an irregular array
/// (`--array=1,3,8`) is refused on every one of its tasks.
pub fn from_slurm(env: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
    let mut v = [0u64; 5];
    for (slot, name) in v.iter_mut().zip(SLURM_VARS) {
        *slot = number(&env, name)?;
    }
    let [id, min, step, count, max] = v;
    let irregular = || {
        format!(
            "task {id} of an array with min {min}, max {max}, step {step} and {count} tasks \
             does not give a shard (expected a regular range such as --array=1-{count} or \
             --array=0-{}:{}; a list such as --array=1,3,8 is not one)",
            count.saturating_sub(1) * step.max(1),
            step.max(1)
        )
    };
    let regular = step > 0
        && count > 0
        && (count - 1)
            .checked_mul(step)
            .and_then(|span| span.checked_add(min))
            == Some(max);
    if !regular || id < min || id > max || (id - min) % step != 0 {
        return Err(irregular());
    }
    if count > u64::from(MAX_COUNT) {
        return Err(format!(
            "{count} tasks: expected at most {MAX_COUNT} shards"
        ));
    }
    Ok(Shard {
        index: ((id - min) / step + 1) as u32,
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
        assert!(parse_spec("auto", none).is_err()); // not in a job array
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

    fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    fn slurm(vars: &[(&str, &str)]) -> Result<Shard, String> {
        let vars: Vec<(String, &str)> = vars
            .iter()
            .map(|(k, v)| (format!("SLURM_ARRAY_TASK_{k}"), *v))
            .collect();
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        from_env(env_of(&vars))
    }

    #[test]
    fn slurm_arrays() {
        let s = |id, min, step, count, max| {
            slurm(&[
                ("ID", id),
                ("MIN", min),
                ("STEP", step),
                ("COUNT", count),
                ("MAX", max),
            ])
        };
        assert_eq!(s("1", "1", "1", "4", "4").unwrap().to_string(), "1/4");
        assert_eq!(s("4", "1", "1", "4", "4").unwrap().to_string(), "4/4");
        assert_eq!(s("0", "0", "1", "3", "2").unwrap().to_string(), "1/3");
        assert_eq!(s("7", "1", "2", "4", "7").unwrap().to_string(), "4/4");
        // --array=1,3,8: MIN=1 STEP=1 COUNT=3 MAX=8, refused on every task.
        for id in ["1", "3", "8"] {
            let e = s(id, "1", "1", "3", "8").unwrap_err();
            assert!(e.contains("does not give a shard"), "{id}: {e}");
        }
        assert!(s("4", "1", "2", "4", "7").is_err());
        assert!(s("0", "1", "1", "4", "4").is_err());
        assert!(s("9", "1", "2", "4", "7").is_err());
        assert!(s("1", "1", "0", "4", "1").is_err());
        assert!(s("1", "1", "1", "0", "0").is_err());
        assert!(s("x", "1", "1", "4", "4").is_err());
        assert!(s("1", "1", "1", "4", "18446744073709551615").is_err());
        assert!(slurm(&[("ID", "1")])
            .unwrap_err()
            .contains("MIN is not set"));
        assert!(
            slurm(&[("ID", "1"), ("MIN", "1"), ("STEP", "1"), ("COUNT", "1")])
                .unwrap_err()
                .contains("SLURM_ARRAY_TASK_MAX is not set")
        );
        assert!(slurm(&[]).unwrap_err().contains("not inside a job array"));
    }

    #[test]
    fn zero_based_engines() {
        let ok = |vars: &[(&str, &str)]| from_env(env_of(vars)).map(|s| s.to_string());
        let n = COUNT_VAR;
        assert_eq!(
            ok(&[("JOB_COMPLETION_INDEX", "0"), (n, "4")]),
            Ok("1/4".into())
        );
        assert_eq!(
            ok(&[("JOB_COMPLETION_INDEX", "3"), (n, "4")]),
            Ok("4/4".into())
        );
        assert_eq!(
            ok(&[
                ("AWS_BATCH_JOB_ARRAY_INDEX", "2"),
                ("AWS_BATCH_JOB_ARRAY_SIZE", "3")
            ]),
            Ok("3/3".into())
        );
        assert_eq!(
            ok(&[("AWS_BATCH_JOB_ARRAY_INDEX", "2"), (n, "5")]),
            Ok("3/5".into())
        );
        assert_eq!(
            ok(&[("BATCH_TASK_INDEX", "1"), ("BATCH_TASK_COUNT", "2")]),
            Ok("2/2".into())
        );
        assert_eq!(ok(&[("HQ_TASK_ID", "5"), (n, "6")]), Ok("6/6".into()));
        // A missing count names the variable to set.
        let e = ok(&[("JOB_COMPLETION_INDEX", "0")]).unwrap_err();
        assert!(e.contains("BATCHRUN_SHARD_COUNT is not"), "{e}");
        let e = ok(&[("BATCH_TASK_INDEX", "0")]).unwrap_err();
        assert!(e.contains("BATCH_TASK_COUNT is not"), "{e}");
        let e = ok(&[("AWS_BATCH_JOB_ARRAY_INDEX", "0")]).unwrap_err();
        assert!(
            e.contains("AWS_BATCH_JOB_ARRAY_SIZE or BATCHRUN_SHARD_COUNT"),
            "{e}"
        );
        // Out of range, not numbers, zero.
        assert!(ok(&[("HQ_TASK_ID", "6"), (n, "6")]).is_err());
        assert!(ok(&[("HQ_TASK_ID", "-1"), (n, "6")]).is_err());
        assert!(ok(&[("HQ_TASK_ID", "0"), (n, "0")]).is_err());
        assert!(ok(&[("HQ_TASK_ID", "0"), (n, "x")]).is_err());
        assert!(ok(&[("HQ_TASK_ID", "0"), (n, "1000001")]).is_err());
        // Two engines at once: both variables named.
        let e = ok(&[("JOB_COMPLETION_INDEX", "0"), ("HQ_TASK_ID", "0"), (n, "2")]).unwrap_err();
        assert!(
            e.contains("JOB_COMPLETION_INDEX for Kubernetes")
                && e.contains("HQ_TASK_ID for HyperQueue"),
            "{e}"
        );
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
