//! `--shard K/N`, `--shard auto`, the shard report fields and `batchrun merge`.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use crate::sched::report_ids;
use crate::util::*;

/// The partition as README documents it, computed independently of batchrun: the shard of a
/// job with no `after` edges.
fn shard_of(id: &str, n: u64) -> u64 {
    let d = Sha256::digest(id.as_bytes());
    u64::from_be_bytes(d[..8].try_into().unwrap()) % n + 1
}

/// Ids `job-0`, `job-1`, … grouped by their shard of `n`, at least `per_shard` in each.
pub(crate) fn ids_by_shard(n: u64, per_shard: usize) -> Vec<Vec<String>> {
    let mut by: Vec<Vec<String>> = vec![Vec::new(); n as usize + 1];
    let mut i = 0;
    while by[1..].iter().any(|v| v.len() < per_shard) {
        let id = format!("job-{i}");
        let s = shard_of(&id, n) as usize;
        if by[s].len() < per_shard {
            by[s].push(id);
        }
        i += 1;
    }
    by
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The ids in the plan `check` prints (first column, up to the blank line).
fn check_ids(r: &Run) -> BTreeSet<String> {
    r.stdout
        .lines()
        .skip(1)
        .take_while(|l| !l.is_empty())
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect()
}

/// A manifest of 40 independent jobs and three `after` chains; every job appends
/// `ID SHARD` to ran.txt.
fn chains_manifest() -> String {
    let mut text = String::from("id,command,after\n");
    let cmd = "\"sh -c 'echo $BATCHRUN_JOB_ID $BATCHRUN_SHARD >> ran.txt'\"";
    for i in 0..40 {
        text.push_str(&format!("solo{i},{cmd},\n"));
    }
    for c in 0..3 {
        text.push_str(&format!("c{c}-0,{cmd},\n"));
        for k in 1..4 {
            text.push_str(&format!("c{c}-{k},{cmd},c{c}-{}\n", k - 1));
        }
    }
    text
}

#[test]
fn bad_specs_exit_2_and_run_nothing() {
    let t = TestEnv::new();
    t.write("m.csv", "id,command\na,touch ran\n");
    for spec in ["0/4", "5/4", "1/0", "x/2", "2", "1/x", ""] {
        let r = t.run(&["run", "--shard", spec, "m.csv"]);
        r.code(2).stderr_has("--shard");
        assert!(!t.path("ran").exists(), "--shard {spec:?} ran a job");
    }
    t.run(&["check", "--shard", "5/4", "m.csv"])
        .code(2)
        .stderr_has("K is out of range");
}

#[test]
fn every_job_runs_in_exactly_one_shard_and_sees_batchrun_shard() {
    let t = TestEnv::new();
    t.write("m.csv", chains_manifest());
    let n = 4;
    for k in 1..=n {
        let spec = format!("{k}/{n}");
        let rep = format!("s{k}.json");
        t.run(&["run", "--shard", &spec, "--report", &rep, "m.csv"])
            .code(0);
    }
    let mut shard_of_id: BTreeMap<String, String> = BTreeMap::new();
    for line in t.read("ran.txt").lines() {
        let (id, shard) = line.split_once(' ').unwrap();
        assert!(
            shard_of_id.insert(id.into(), shard.into()).is_none(),
            "{id} ran twice"
        );
    }
    assert_eq!(shard_of_id.len(), 52, "every job ran once");
    for c in 0..3 {
        let first = &shard_of_id[&format!("c{c}-0")];
        for k in 1..4 {
            assert_eq!(
                &shard_of_id[&format!("c{c}-{k}")],
                first,
                "chain c{c} split"
            );
        }
        // A chain is hashed by its smallest id.
        assert_eq!(*first, format!("{}/{n}", shard_of(&format!("c{c}-0"), n)));
    }
    for i in 0..40 {
        let id = format!("solo{i}");
        assert_eq!(shard_of_id[&id], format!("{}/{n}", shard_of(&id, n)));
    }
    // Each shard's report lists only its jobs, in manifest order.
    let manifest = chains_manifest();
    let order: Vec<&str> = manifest
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    for k in 1..=n {
        let rep = t.json(&format!("s{k}.json"));
        let want: Vec<&str> = order
            .iter()
            .copied()
            .filter(|id| shard_of_id[*id] == format!("{k}/{n}"))
            .collect();
        assert_eq!(report_ids(&rep), want);
        assert_eq!(rep["shard"], serde_json::json!({"index": k, "count": n}));
        assert_eq!(rep["manifest_sha256"], sha256_hex(manifest.as_bytes()));
        assert_eq!(rep["counts"]["total"], want.len());
    }
}

#[test]
fn a_report_without_shard_has_the_manifest_hash_and_no_shard() {
    let t = TestEnv::new();
    t.write("m.csv", "id,command\na,true\n");
    t.run(&["run", "--report", "r.json", "m.csv"]).code(0);
    let rep = t.json("r.json");
    assert_eq!(rep["manifest_sha256"], sha256_hex(b"id,command\na,true\n"));
    assert!(rep.get("shard").is_none(), "{rep}");
    t.run(&[
        "run", "--shard", "1/1", "--report", "r.md", "--report", "r.xml", "m.csv",
    ])
    .code(0);
    assert!(t.read("r.md").contains("(shard 1 of 1)"));
    assert!(t
        .read("r.xml")
        .contains("<property name=\"shard\" value=\"1/1\"/>"));
}

#[test]
fn partition_is_stable_under_reordering_and_new_rows() {
    let t = TestEnv::new();
    let rows: Vec<String> = (0..30).map(|i| format!("r{i},true,")).collect();
    let mut text = String::from("id,command,after\n") + &rows.join("\n") + "\nz,true,r3\n";
    t.write("a.csv", &text);
    let mut shuffled: Vec<String> = rows.iter().rev().cloned().collect();
    shuffled.insert(7, "x-new1,true,".into());
    // Joins r9's component without changing its smallest id, so r9 stays.
    shuffled.push("x-new2,true,r9".into());
    text = String::from("id,command,after\nz,true,r3\n") + &shuffled.join("\n") + "\n";
    t.write("b.csv", &text);
    let mut union = BTreeSet::new();
    for k in 1..=3 {
        let spec = format!("{k}/3");
        let a = check_ids(t.run(&["check", "--shard", &spec, "a.csv"]).code(0));
        let b = check_ids(t.run(&["check", "--shard", &spec, "b.csv"]).code(0));
        let b_old: BTreeSet<String> = b
            .iter()
            .filter(|id| !id.starts_with("x-new"))
            .cloned()
            .collect();
        assert_eq!(a, b_old, "shard {spec} changed");
        assert!(union.is_disjoint(&a));
        union.extend(a);
    }
    assert_eq!(union.len(), 31);
}

#[test]
fn the_whole_manifest_is_validated_before_the_shard_is_taken() {
    let t = TestEnv::new();
    // Whichever shard the bad row falls in, every shard refuses the manifest.
    t.write("m.csv", "id,command,timeout\na,touch ran,\nb,true,5x\n");
    for k in 1..=2 {
        let spec = format!("{k}/2");
        t.run(&["run", "--shard", &spec, "m.csv"])
            .code(2)
            .stderr_has("m.csv:3: column 'timeout'");
    }
    assert!(!t.path("ran").exists());
}

/// Every variable of every engine `--shard auto` reads, so a test starts from none.
const ENGINE_VARS: [&str; 12] = [
    "SLURM_ARRAY_TASK_ID",
    "SLURM_ARRAY_TASK_MIN",
    "SLURM_ARRAY_TASK_STEP",
    "SLURM_ARRAY_TASK_COUNT",
    "SLURM_ARRAY_TASK_MAX",
    "JOB_COMPLETION_INDEX",
    "BATCHRUN_SHARD_COUNT",
    "AWS_BATCH_JOB_ARRAY_INDEX",
    "AWS_BATCH_JOB_ARRAY_SIZE",
    "BATCH_TASK_INDEX",
    "BATCH_TASK_COUNT",
    "HQ_TASK_ID",
];

/// batchrun with `args`, only `vars` of the engines' variables set.
fn with_engine_vars(t: &TestEnv, args: &[&str], vars: &[(&str, &str)]) -> Run {
    let mut cmd = t.cmd(args);
    for k in ENGINE_VARS {
        cmd.env_remove(k);
    }
    for (k, v) in vars {
        cmd.env(k, v);
    }
    Live::start(cmd, args).finish()
}

/// Slurm's variables for task `id` of an array.
fn slurm_vars<'a>(
    id: &'a str,
    min: &'a str,
    step: &'a str,
    count: &'a str,
    max: &'a str,
) -> [(&'static str, &'a str); 5] {
    [
        ("SLURM_ARRAY_TASK_ID", id),
        ("SLURM_ARRAY_TASK_MIN", min),
        ("SLURM_ARRAY_TASK_STEP", step),
        ("SLURM_ARRAY_TASK_COUNT", count),
        ("SLURM_ARRAY_TASK_MAX", max),
    ]
}

/// A manifest of jobs spread over 4 shards, each writing `ID.shard` with its BATCHRUN_SHARD.
fn shard_file_manifest(t: &TestEnv) -> Vec<Vec<String>> {
    let by = ids_by_shard(4, 2);
    let text = String::from("id,command\n")
        + &by[1..]
            .concat()
            .iter()
            .map(|id| format!("{id},\"sh -c 'echo $BATCHRUN_SHARD > $BATCHRUN_JOB_ID.shard'\"\n"))
            .collect::<String>();
    t.write("m.csv", text);
    by
}

#[test]
fn auto_reads_the_slurm_array_variables() {
    let t = TestEnv::new();
    let by = shard_file_manifest(&t);
    // --array=10-16:2, task 14: shard 3 of 4.
    let args = ["run", "--shard", "auto", "--report", "r.json", "m.csv"];
    with_engine_vars(&t, &args, &slurm_vars("14", "10", "2", "4", "16")).code(0);
    let rep = t.json("r.json");
    assert_eq!(report_ids(&rep), by[3]);
    assert_eq!(rep["shard"], serde_json::json!({"index": 3, "count": 4}));
    assert_eq!(t.read(&format!("{}.shard", by[3][0])), "3/4\n");

    with_engine_vars(&t, &["run", "--shard", "auto", "m.csv"], &[])
        .code(2)
        .stderr_has("not inside a job array")
        .stderr_has("SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX");
    assert!(!t.path(&format!("{}.shard", by[1][0])).exists());
}

/// Issue 20, problem 1: with `--array=1,3,8` every task sees MIN=1 STEP=1 COUNT=3 MAX=8; tasks
/// 1 and 3 used to run shards 1/3 and 3/3 while shard 2 never ran. Every task is refused.
#[test]
fn an_irregular_slurm_array_is_refused_on_every_task() {
    let t = TestEnv::new();
    shard_file_manifest(&t);
    for id in ["1", "3", "8"] {
        for cmd in ["check", "run"] {
            with_engine_vars(
                &t,
                &[cmd, "--shard", "auto", "m.csv"],
                &slurm_vars(id, "1", "1", "3", "8"),
            )
            .code(2)
            .stderr_has(&format!(
                "task {id} of an array with min 1, max 8, step 1 and 3 tasks does not give a shard"
            ));
        }
    }
    assert!(t.read("m.csv").lines().skip(1).all(|l| {
        let id = l.split(',').next().unwrap();
        !t.path(&format!("{id}.shard")).exists()
    }));
}

/// Issue 20, problem 4: Kubernetes, AWS Batch, Google Cloud Batch and HyperQueue arrays, with
/// 0-based indexes, run shard index + 1.
#[test]
fn auto_reads_every_engine_with_a_zero_based_index() {
    let t = TestEnv::new();
    let by = shard_file_manifest(&t);
    let count = ("BATCHRUN_SHARD_COUNT", "4");
    let engines: [(&str, [(&str, &str); 2]); 4] = [
        ("k8s", [("JOB_COMPLETION_INDEX", "0"), count]),
        (
            "aws",
            [
                ("AWS_BATCH_JOB_ARRAY_INDEX", "1"),
                ("AWS_BATCH_JOB_ARRAY_SIZE", "4"),
            ],
        ),
        (
            "gcb",
            [("BATCH_TASK_INDEX", "2"), ("BATCH_TASK_COUNT", "4")],
        ),
        ("hq", [("HQ_TASK_ID", "3"), count]),
    ];
    for (k, (name, vars)) in engines.iter().enumerate() {
        let rep = format!("{name}.json");
        with_engine_vars(&t, &["check", "--shard", "auto", "m.csv"], vars)
            .code(0)
            .stdout_has(&format!("shard {}/4", k + 1));
        with_engine_vars(
            &t,
            &["run", "--shard", "auto", "--report", &rep, "m.csv"],
            vars,
        )
        .code(0);
        let r = t.json(&rep);
        assert_eq!(report_ids(&r), by[k + 1], "{name}");
        assert_eq!(r["shard"], serde_json::json!({"index": k + 1, "count": 4}));
        assert_eq!(
            t.read(&format!("{}.shard", by[k + 1][0])),
            format!("{}/4\n", k + 1)
        );
    }
    // The four shards together ran every job once: merge says so.
    t.run(&["merge", "k8s.json", "aws.json", "gcb.json", "hq.json"])
        .code(0);
}

#[test]
fn auto_names_what_is_missing_or_ambiguous() {
    let t = TestEnv::new();
    shard_file_manifest(&t);
    let args = ["run", "--shard", "auto", "m.csv"];
    with_engine_vars(&t, &args, &[("JOB_COMPLETION_INDEX", "1")])
        .code(2)
        .stderr_has("JOB_COMPLETION_INDEX is set (Kubernetes) but BATCHRUN_SHARD_COUNT is not");
    with_engine_vars(
        &t,
        &args,
        &[("HQ_TASK_ID", "4"), ("BATCHRUN_SHARD_COUNT", "4")],
    )
    .code(2)
    .stderr_has("HQ_TASK_ID=4 is not below BATCHRUN_SHARD_COUNT=4");
    let mut both = slurm_vars("1", "1", "1", "4", "4").to_vec();
    both.push(("BATCH_TASK_INDEX", "0"));
    both.push(("BATCH_TASK_COUNT", "4"));
    with_engine_vars(&t, &args, &both)
        .code(2)
        .stderr_has("SLURM_ARRAY_TASK_ID for Slurm, BATCH_TASK_INDEX for Google Cloud Batch");
    assert!(t.live_processes().is_empty());
}

/// Writes a manifest of jobs spread over `n` shards (two per shard) where `fail` (if any)
/// fails with a stderr line; returns the ids by shard.
fn spread_manifest(t: &TestEnv, n: u64, fail: Option<&str>) -> Vec<Vec<String>> {
    let by = ids_by_shard(n, 2);
    let mut text = String::from("id,command\n");
    for id in by[1..].concat() {
        if Some(id.as_str()) == fail {
            text.push_str(&format!("{id},\"sh -c 'echo oops >&2; exit 4'\"\n"));
        } else {
            text.push_str(&format!("{id},true\n"));
        }
    }
    t.write("m.csv", text);
    by
}

fn run_shards(t: &TestEnv, n: u64, shards: &[u64], expect: &[i32]) {
    for (&k, &code) in shards.iter().zip(expect) {
        let spec = format!("{k}/{n}");
        let rep = format!("s{k}.json");
        t.run(&["run", "--shard", &spec, "--report", &rep, "m.csv"])
            .code(code);
    }
}

/// The summary (from its first `batchrun: ` line; job output before it is left out) with the
/// wall time taken out (`12 jobs in 0.3s:` → `12 jobs in _:`).
fn without_time(stderr: &str) -> String {
    stderr
        .lines()
        .skip_while(|l| !l.starts_with("batchrun: "))
        .map(|l| match (l.find(" jobs in "), l.find("s: ")) {
            (Some(a), Some(b)) if b > a => format!("{} jobs in _{}", &l[..a], &l[b + 1..]),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn merge_of_complete_shards_is_the_whole_run() {
    let t = TestEnv::new();
    let by = spread_manifest(&t, 3, None);
    let failing = by[2][1].clone();
    spread_manifest(&t, 3, Some(&failing));
    run_shards(&t, 3, &[1, 2, 3], &[0, 1, 0]);
    let r = t.run(&[
        "merge", "--report", "all.json", "--report", "all.md", "--report", "all.xml", "s3.json",
        "s1.json", "s2.json",
    ]);
    r.code(1);
    let rep = t.json("all.json");
    let all: Vec<String> = by[1..].concat();
    assert_eq!(report_ids(&rep), all, "manifest order");
    assert!(rep.get("shard").is_none());
    assert_eq!(rep["manifest"], "m.csv");
    assert_eq!(
        rep["manifest_sha256"],
        sha256_hex(t.read("m.csv").as_bytes())
    );
    assert_eq!(rep["outcome"], "failed");
    assert_eq!(rep["exit_code"], 1);
    assert_eq!(rep["counts"]["total"], 6);
    assert_eq!(rep["counts"]["succeeded"], 5);
    assert_eq!(rep["counts"]["failed"], 1);
    let f = job(&rep, &failing);
    assert_eq!(f["exit_code"], 4);
    assert_eq!(f["error"], "exit status 4");
    assert_eq!(f["stderr_tail"], "oops\n");
    assert_eq!(f["attempts"], 1);
    assert!(t
        .read("all.md")
        .contains(&format!("### `{failing}` — failed")));
    assert!(t.read("all.xml").contains("tests=\"6\" failures=\"1\""));

    // The summary is the one a single run of the whole manifest prints.
    let whole = t.run(&["run", "m.csv"]);
    whole.code(1);
    assert_eq!(without_time(&r.stderr), without_time(&whole.stderr));

    // A merged job is the same JSON as in its shard's report.
    let s2 = t.json("s2.json");
    assert_eq!(job(&s2, &failing), f);
}

#[test]
fn merge_of_successful_shards_exits_0() {
    let t = TestEnv::new();
    spread_manifest(&t, 2, None);
    run_shards(&t, 2, &[1, 2], &[0, 0]);
    let r = t.run(&["merge", "--report", "all.json", "s1.json", "s2.json"]);
    r.code(0).stderr_has("4 jobs in");
    assert_eq!(t.json("all.json")["outcome"], "succeeded");
}

#[test]
fn missing_shards_are_not_started_and_named_as_ranges() {
    let t = TestEnv::new();
    let by = spread_manifest(&t, 6, None);
    run_shards(&t, 6, &[1, 2, 4], &[0, 0, 0]);
    let r = t.run(&[
        "merge", "--report", "all.json", "s1.json", "s2.json", "s4.json",
    ]);
    r.code(1)
        .stderr_has("no report for shard 3,5-6 of 6: its 6 jobs are not_started")
        .stderr_has("6 jobs not started");
    let rep = t.json("all.json");
    assert_eq!(rep["outcome"], "failed");
    assert_eq!(rep["exit_code"], 1);
    assert_eq!(rep["counts"]["not_started"], 6);
    assert_eq!(rep["counts"]["succeeded"], 6);
    for s in [3, 5, 6] {
        for id in &by[s] {
            let j = job(&rep, id);
            assert_eq!(j["status"], "not_started");
            assert_eq!(j["error"], format!("shard {s}/6 has no report"));
        }
    }
    assert_eq!(job_status(&rep, &by[4][0]), "succeeded");
}

#[test]
fn inconsistent_reports_exit_2_name_the_file_and_write_nothing() {
    let t = TestEnv::new();
    spread_manifest(&t, 3, None);
    run_shards(&t, 3, &[1, 2, 3], &[0, 0, 0]);
    t.run(&["run", "--shard", "1/2", "--report", "other-n.json", "m.csv"]);
    t.write("not-a-report.json", "{\"hello\": 1}");
    let mut moved = t.json("s1.json");
    moved["shard"]["index"] = 2.into();
    t.write("moved.json", moved.to_string());
    let mut strangers = t.json("s1.json");
    let one = strangers["jobs"][0].clone();
    strangers["jobs"] = (0..15)
        .map(|i| {
            let mut j = one.clone();
            j["id"] = format!("stranger-{i}").into();
            j
        })
        .collect();
    t.write("strangers.json", strangers.to_string());
    t.write("other.csv", "id,command\nx,true\n");
    t.run(&[
        "run",
        "--shard",
        "2/3",
        "--report",
        "other-manifest.json",
        "other.csv",
    ]);

    let cases: [(&[&str], &str); 7] = [
        (
            &["s1.json", "s2.json", "other-n.json"],
            "other-n.json: shard 1/2, but s1.json is of 3 shards",
        ),
        (
            &["s1.json", "s2.json", "s1.json"],
            "s1.json: shard 1/3 is also in s1.json",
        ),
        (
            &["s1.json", "not-a-report.json"],
            "not-a-report.json: not a batchrun JSON report",
        ),
        (&["moved.json", "s3.json"], "moved.json: job '"),
        (
            &["strangers.json"],
            "strangers.json: 5 more problems with its jobs",
        ),
        (
            &["not-a-report.json", "s1.json", "s1.json"],
            "s1.json: shard 1/3 is also in",
        ),
        (
            &["s1.json", "other-manifest.json"],
            "other-manifest.json: manifest_sha256",
        ),
    ];
    for (inputs, message) in cases {
        let mut args = vec!["merge", "--report", "all.json"];
        args.extend(inputs);
        t.run(&args)
            .code(2)
            .stderr_has(message)
            .stderr_has("nothing was written");
        assert!(!t.path("all.json").exists(), "{inputs:?} wrote a report");
    }
    // The manifest changed since the shards ran.
    t.write("m.csv", t.read("m.csv") + "late,true\n");
    t.run(&[
        "merge", "--report", "all.json", "s1.json", "s2.json", "s3.json",
    ])
    .code(2)
    .stderr_has("m.csv: SHA-256");
    assert!(!t.path("all.json").exists());
}

#[test]
fn merge_finds_the_manifest_with_the_manifest_flag_and_its_options() {
    let t = TestEnv::new();
    t.write("data/m.csv", "id,n\na,1\nb,2\nc,3\n");
    for k in 1..=2 {
        let spec = format!("{k}/2");
        let rep = format!("../s{k}.json");
        t.run(&[
            "-C",
            "data",
            "run",
            "--command",
            "test {n} -lt 3",
            "--shard",
            &spec,
            "--report",
            &rep,
            "m.csv",
        ]);
    }
    // The reports name m.csv, relative to data/: without --manifest merge cannot find it.
    t.run(&["merge", "s1.json", "s2.json"])
        .code(2)
        .stderr_has("cannot read manifest m.csv (named in s1.json")
        .stderr_has("--manifest");
    // Without --command the manifest has no command column.
    t.run(&["merge", "--manifest", "data/m.csv", "s1.json", "s2.json"])
        .code(2)
        .stderr_has("command");
    let r = t.run(&[
        "merge",
        "--manifest",
        "data/m.csv",
        "--command",
        "test {n} -lt 3",
        "--report",
        "all.json",
        "s1.json",
        "s2.json",
    ]);
    r.code(1).stderr_has("failed c: exit status 1");
    assert_eq!(report_ids(&t.json("all.json")), ["a", "b", "c"]);
}

#[test]
fn an_interrupted_shard_makes_the_merge_exit_130() {
    let t = TestEnv::new();
    let by = ids_by_shard(2, 1);
    let (waiter, other) = (&by[1][0], &by[2][0]);
    t.write(
        "m.csv",
        format!(
            "id,command,shell\n{waiter},\"touch started; while [ ! -e release ]; do sleep 0.02; done\",true\n{other},false,\n"
        ),
    );
    run_shards(&t, 2, &[2], &[1]);
    let args = ["run", "--shard", "1/2", "--report", "s1.json", "m.csv"];
    let mut live = Live::start(t.cmd(&args), &args);
    t.wait_for_file("started");
    kill(live.pid(), libc::SIGINT);
    live.wait_stderr("waiting for 1 running job");
    t.write("release", "");
    live.finish().code(130);
    let r = t.run(&["merge", "--report", "all.json", "s1.json", "s2.json"]);
    r.code(130);
    let rep = t.json("all.json");
    assert_eq!(rep["outcome"], "interrupted");
    assert_eq!(rep["exit_code"], 130);
    assert_eq!(job_status(&rep, waiter), "succeeded");
    assert_eq!(job_status(&rep, other), "failed");
    t.assert_nothing_left();
}

#[test]
fn a_shard_past_its_deadline_makes_the_merge_exit_124() {
    let t = TestEnv::new();
    let by = ids_by_shard(2, 1);
    let (slow, other) = (&by[1][0], &by[2][0]);
    t.write(
        "m.csv",
        format!("id,command\n{slow},sleep 30\n{other},false\n"),
    );
    run_shards(&t, 2, &[2], &[1]);
    t.run(&[
        "run",
        "--shard",
        "1/2",
        "--deadline",
        "200ms",
        "--grace",
        "1s",
        "--report",
        "s1.json",
        "m.csv",
    ])
    .code(124);
    let r = t.run(&["merge", "--report", "all.json", "s2.json", "s1.json"]);
    r.code(124);
    assert_eq!(t.json("all.json")["outcome"], "deadline_exceeded");
    t.assert_nothing_left();
}

#[test]
fn without_shard_jobs_do_not_inherit_batchrun_shard() {
    let t = TestEnv::new();
    t.write("m.csv", "id,command\na,\"sh -c 'env > env.txt'\"\n");
    let mut cmd = t.cmd(&["run", "m.csv"]);
    cmd.env("BATCHRUN_SHARD", "3/4");
    Live::start(cmd, &["run", "m.csv"]).finish().code(0);
    let env = t.read("env.txt");
    assert!(env.contains("BATCHRUN_JOB_ID=a"), "{env}");
    assert!(!env.contains("BATCHRUN_SHARD"), "{env}");
}

#[test]
fn one_component_holding_most_jobs_is_warned_about() {
    let t = TestEnv::new();
    let mut text = String::from("id,command,after\nj0,true,\n");
    for i in 1..6 {
        text.push_str(&format!("j{i},true,j{}\n", i - 1));
    }
    text.push_str("free,true,\n");
    t.write("m.csv", text);
    t.run(&["check", "--shard", "1/2", "m.csv"])
        .code(0)
        .stderr_has("6 of 7 jobs are connected through `after`")
        .stderr_has("sharding cannot spread them");
    t.write("even.csv", "id,command\na,true\nb,true\nc,true\n");
    let r = t.run(&["check", "--shard", "1/2", "even.csv"]);
    r.code(0);
    assert!(!r.stderr.contains("cannot spread"), "{}", r.stderr);
}
