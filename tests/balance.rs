//! `--shard K/N --balance-from REPORT.json`: shards balanced by recorded durations (issue 20,
//! problem 5): whole `after` components, greedily, deterministic; the balance report's SHA-256
//! in every shard report; `merge` needs the same file.

use std::collections::BTreeSet;

use sha2::{Digest, Sha256};

use crate::sched::report_ids;
use crate::util::*;

/// 40 jobs, every tenth 20 times slower (2000 ms against 100 ms in the history), `s0 → s1` a
/// chain; `history.json` holds their durations (`u39` has none: the median).
fn skewed(t: &TestEnv) {
    let mut m = String::from("id,command,after\ns0,true,\ns1,true,s0\n");
    let mut jobs = vec![
        serde_json::json!({"id": "s0", "duration_ms": 100}),
        serde_json::json!({"id": "s1", "duration_ms": 100}),
    ];
    for i in 0..38 {
        let id = format!("u{i}");
        m.push_str(&format!("{id},true,\n"));
        let ms = if i % 10 == 9 { 2000 } else { 100 };
        if i != 37 {
            jobs.push(serde_json::json!({"id": id, "duration_ms": ms}));
        }
    }
    t.write("m.csv", m);
    let history = serde_json::json!({"schema": 1, "jobs": jobs});
    t.write("history.json", serde_json::to_vec_pretty(&history).unwrap());
}

/// Each shard's expected time in ms, from `check --shard K/N --balance-from`'s lines.
fn expected_ms(out: &str) -> Vec<(usize, String)> {
    out.lines()
        .filter(|l| l.starts_with("shard "))
        .map(|l| {
            let (_, rest) = l.split_once(": ").unwrap();
            let (jobs, time) = rest.split_once(", ").unwrap();
            let jobs = jobs.split_whitespace().next().unwrap().parse().unwrap();
            (jobs, time.trim_end_matches("  <- this shard").to_string())
        })
        .collect()
}

#[test]
fn balanced_shards_split_the_slow_jobs_and_merge_needs_the_same_file() {
    let t = TestEnv::new();
    skewed(&t);
    let n = 3;
    let check = |k: u32| {
        t.run(&[
            "check",
            "--shard",
            &format!("{k}/{n}"),
            "--balance-from",
            "history.json",
            "m.csv",
        ])
    };
    let first = check(1);
    first.code(0).stdout_has("<- this shard");
    let loads = expected_ms(&first.stdout);
    assert_eq!(loads.len(), 3, "{}", first.stdout);
    assert_eq!(loads.iter().map(|l| l.0).sum::<usize>(), 40);
    // 3 slow jobs (6 s) + 37 of 100 ms (3.7 s): the greedy split puts one slow job per shard.
    for (_, time) in &loads {
        assert!(time.starts_with("3s"), "{loads:?}");
    }
    // Deterministic: the same inputs print the same plan and loads.
    assert_eq!(check(1).stdout, first.stdout);

    let mut all = BTreeSet::new();
    for k in 1..=n {
        let rep = format!("s{k}.json");
        t.run(&[
            "run",
            "--shard",
            &format!("{k}/{n}"),
            "--balance-from",
            "history.json",
            "--report",
            &rep,
            "m.csv",
        ])
        .code(0);
        let r = t.json(&rep);
        let sha: String = Sha256::digest(t.read("history.json").as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(r["balance_sha256"], sha);
        let ids = report_ids(&r);
        assert_eq!(ids.len(), loads[k as usize - 1].0);
        // The chain stays together.
        assert_eq!(
            ids.contains(&"s0".to_string()),
            ids.contains(&"s1".to_string())
        );
        assert!(
            check(k)
                .stdout
                .lines()
                .skip(1)
                .take_while(|l| !l.is_empty())
                .count()
                == ids.len()
        );
        all.extend(ids);
    }
    assert_eq!(all.len(), 40, "every job in exactly one shard");

    t.run(&[
        "merge", "--report", "all.json", "s1.json", "s2.json", "s3.json",
    ])
    .code(2)
    .stderr_has("give that report with --balance-from");
    assert!(!t.path("all.json").exists());
    t.write("other.json", "{\"schema\": 1, \"jobs\": []}");
    t.run(&[
        "merge",
        "--balance-from",
        "other.json",
        "s1.json",
        "s2.json",
        "s3.json",
    ])
    .code(2)
    .stderr_has("differs from the balance_sha256");
    t.run(&[
        "merge",
        "--report",
        "all.json",
        "--balance-from",
        "history.json",
        "s1.json",
        "s2.json",
        "s3.json",
    ])
    .code(0);
    assert_eq!(t.json("all.json")["counts"]["succeeded"], 40);
    // Count-based shards merged with --balance-from: refused.
    t.run(&["run", "--shard", "1/1", "--report", "plain.json", "m.csv"])
        .code(0);
    t.run(&["merge", "--balance-from", "history.json", "plain.json"])
        .code(2)
        .stderr_has("the shards were not balanced");
    // --balance-from without --shard is a usage error.
    t.run(&["run", "--balance-from", "history.json", "m.csv"])
        .code(2);
}
