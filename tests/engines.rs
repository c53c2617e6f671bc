//! The example files for each cluster engine under `scripts/`: they parse, and they use
//! `--shard auto` with a count that matches the engine's number of tasks. (A real Kubernetes,
//! AWS Batch or Google Cloud Batch cannot be started offline; `--shard auto`'s reading of their
//! variables is tested in `shard.rs`.)

use std::path::Path;

fn read(rel: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn json(rel: &str) -> serde_json::Value {
    serde_json::from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel}: not JSON: {e}"))
}

/// The value of `key: VALUE` on the first line that has it (a small YAML check, enough for
/// the flat keys the examples use).
fn yaml_value<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(key)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {key}:"))
        .trim()
}

#[test]
fn kubernetes_sets_the_count_to_completions() {
    let y = read("scripts/kubernetes/shards-job.yaml");
    assert!(!y.contains('\t'), "YAML has no tabs");
    assert_eq!(yaml_value(&y, "completionMode"), "Indexed");
    let n = yaml_value(&y, "completions");
    assert!(
        y.contains(&format!("{{name: BATCHRUN_SHARD_COUNT, value: \"{n}\"}}")),
        "BATCHRUN_SHARD_COUNT is completions ({n})"
    );
    assert!(y.contains("--shard auto"));
}

#[test]
fn aws_batch_sets_the_size_and_merges() {
    let job = json("scripts/aws-batch/array-job.json");
    let size = job["arrayProperties"]["size"].as_u64().unwrap();
    let env = &job["containerOverrides"]["environment"];
    assert_eq!(env[0]["name"], "AWS_BATCH_JOB_ARRAY_SIZE");
    assert_eq!(env[0]["value"], size.to_string());
    let cmd = job["containerOverrides"]["command"][2].as_str().unwrap();
    assert!(
        cmd.contains("--shard auto") && cmd.contains("--joblog"),
        "{cmd}"
    );
    let merge = json("scripts/aws-batch/merge-job.json");
    let cmd = merge["containerOverrides"]["command"][2].as_str().unwrap();
    assert!(
        cmd.contains("batchrun merge") && cmd.contains("--joblog"),
        "{cmd}"
    );
}

#[test]
fn google_batch_runs_one_shard_per_task() {
    let job = json("scripts/google-batch/job.json");
    let group = &job["taskGroups"][0];
    assert!(group["taskCount"].as_u64().unwrap() >= 1);
    let commands = &group["taskSpec"]["runnables"][0]["container"]["commands"];
    assert!(commands[1].as_str().unwrap().contains("--shard auto"));
}

#[test]
fn hyperqueue_array_is_zero_based_with_the_count() {
    let s = read("scripts/hyperqueue/submit.sh");
    assert!(s.contains("--array \"0-$((n - 1))\""));
    assert!(s.contains("--env \"BATCHRUN_SHARD_COUNT=$n\""));
    assert!(s.contains("--shard auto"));
    let ok = std::process::Command::new("sh")
        .args(["-n", "scripts/hyperqueue/submit.sh"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap();
    assert!(ok.success(), "sh -n");
}
