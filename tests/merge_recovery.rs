//! `merge` never loses a result: `--joblog` recovers what a killed shard finished (issue 20,
//! problem 2), `merge DIR` and `--reports-from` find the reports, and a merged report is marked
//! so it is told apart from a shard's.

use std::process::Stdio;

use crate::shard::ids_by_shard;
use crate::util::*;

/// Shard 1 of 2: independent `true` jobs. Shard 2: `ok` succeeds, `flaky` fails until
/// `release` exists, and `slow` (last, `after` both) blocks until `release` exists, writing its
/// pid to `slow.pid` first.
fn killed_shard_manifest(t: &TestEnv) -> (Vec<String>, [String; 3]) {
    let by = ids_by_shard(2, 3);
    let mut text = String::from("id,command,after\n");
    for id in &by[1] {
        text.push_str(&format!("{id},true,\n"));
    }
    let [ok, flaky, slow] = [by[2][0].clone(), by[2][1].clone(), by[2][2].clone()];
    // `after` puts the three in one component: of the shard of the smallest id among them.
    text.push_str(&format!("{ok},true,\n"));
    text.push_str(&format!("{flaky},\"sh -c '[ -e release ]'\",{ok}\n"));
    text.push_str(&format!(
        "{slow},\"sh -c 'if [ -e release ]; then exit 0; fi; echo $$ > slow.tmp; mv slow.tmp slow.pid; exec sleep 60'\",{ok}\n"
    ));
    t.write("m.csv", text);
    (by[1].clone(), [ok, flaky, slow])
}

/// The shard the component of `ok`, `flaky` and `slow` is in (that of its smallest id).
fn shard_of_chain(t: &TestEnv, ids: &[String; 3]) -> u32 {
    let r = t.run(&["check", "--shard", "1/2", "m.csv"]);
    r.code(0);
    if r.stdout.contains(&ids[0]) {
        1
    } else {
        2
    }
}

#[test]
fn a_killed_shard_is_recovered_from_its_joblog_then_resumed() {
    let t = TestEnv::new();
    let (_, chain) = killed_shard_manifest(&t);
    let k = shard_of_chain(&t, &chain);
    let other = 3 - k;
    let spec = format!("{k}/2");
    let other_spec = format!("{other}/2");
    t.run(&[
        "run",
        "--shard",
        &other_spec,
        "--report",
        &format!("s{other}.json"),
        "m.csv",
    ]);
    let joblog = format!("s{k}.joblog");
    let report = format!("s{k}.json");
    let args = [
        "run", "-j", "1", "--shard", &spec, "--joblog", &joblog, "--report", &report, "m.csv",
    ];
    let live = Live::start(t.cmd(&args), &args);
    t.wait_for_file("slow.pid");
    let slow: u32 = t.read("slow.pid").trim().parse().unwrap();
    // The node dies: batchrun and its job, without a word.
    kill(live.pid(), libc::SIGKILL);
    kill(slow, libc::SIGKILL);
    live.finish();
    assert!(!t.path(&report).exists());

    let r = t.run(&[
        "merge",
        "--report",
        "all.json",
        "--joblog",
        &joblog,
        &format!("s{other}.json"),
    ]);
    r.code(1).stderr_has(&format!(
        "shard {k} of 2 recovered from its joblog {joblog} (it left no report): 2 of its 3 jobs have a result there, 1 not_started"
    ));
    let rep = t.json("all.json");
    assert_eq!(job_status(&rep, &chain[0]), "succeeded");
    let flaky = job(&rep, &chain[1]);
    assert_eq!(flaky["status"], "failed");
    assert_eq!(flaky["exit_code"], 1);
    assert_eq!(flaky["error"], "exit status 1 (from the joblog)");
    assert_eq!(job_status(&rep, &chain[2]), "not_started");
    assert_eq!(
        rep["merged"]["recovered_from_joblogs"],
        serde_json::json!([k])
    );
    assert_eq!(rep["exit_code"], 1);

    // --resume of the killed shard, then the same merge: the complete result.
    t.write("release", "");
    t.run(&[
        "run", "--shard", &spec, "--joblog", &joblog, "--resume", "--report", &report, "m.csv",
    ])
    .code(0);
    let r = t.run(&[
        "merge",
        "--report",
        "all.json",
        "--joblog",
        &joblog,
        &format!("s{other}.json"),
        &report,
    ]);
    r.code(0);
    assert!(!r.stderr.contains("recovered"), "{}", r.stderr);
    let rep = t.json("all.json");
    assert_eq!(job_status(&rep, &chain[0]), "resumed");
    assert_eq!(job_status(&rep, &chain[1]), "succeeded");
    assert_eq!(job_status(&rep, &chain[2]), "succeeded");
    assert_eq!(
        rep["merged"]["recovered_from_joblogs"],
        serde_json::json!([])
    );
    t.assert_nothing_left();
}

#[test]
fn a_report_older_than_its_joblog_gives_way_to_it() {
    let t = TestEnv::new();
    let (_, chain) = killed_shard_manifest(&t);
    let k = shard_of_chain(&t, &chain);
    let spec = format!("{k}/2");
    t.write("release", "");
    t.run(&[
        "run", "--shard", &spec, "--joblog", "j.csv", "--report", "s.json", "m.csv",
    ])
    .code(0);
    // The shard ran again after this report (resumed, then killed): the joblog is newer.
    let old = std::process::Command::new("touch")
        .args(["-d", "2000-01-01", "s.json"])
        .current_dir(t.path(""))
        .status()
        .unwrap();
    assert!(old.success());
    t.run(&["merge", "--joblog", "j.csv", "s.json"])
        .code(1)
        .stderr_has(&format!(
            "shard {k} of 2 recovered from its joblog j.csv (its report s.json is older than the joblog): 3 of its 3 jobs have a result there, 0 not_started"
        ))
        .stderr_has(&format!("no report for shard {} of 2", 3 - k));
    // A joblog no newer than its shard's report is not used.
    t.run(&["run", "--shard", &spec, "--report", "s.json", "m.csv"])
        .code(0);
    let r = t.run(&["merge", "--joblog", "j.csv", "s.json"]);
    r.code(1);
    assert!(!r.stderr.contains("recovered"), "{}", r.stderr);
    // A file that is not a joblog: exit 2, nothing written.
    t.write("bad.joblog", "hello\n");
    t.run(&[
        "merge",
        "--report",
        "x.json",
        "--joblog",
        "bad.joblog",
        "s.json",
    ])
    .code(2)
    .stderr_has("bad.joblog: not a batchrun joblog");
    assert!(!t.path("x.json").exists());
}

#[test]
fn merge_reads_a_directory_or_a_list_and_skips_merged_reports() {
    let t = TestEnv::new();
    let by = ids_by_shard(2, 2);
    let text = String::from("id,command\n")
        + &by[1..]
            .concat()
            .iter()
            .map(|id| format!("{id},true\n"))
            .collect::<String>();
    t.write("m.csv", text);
    std::fs::create_dir(t.path("reports")).unwrap();
    for k in [1, 2] {
        t.run(&[
            "run",
            "--shard",
            &format!("{k}/2"),
            "--report",
            &format!("reports/s{k}.json"),
            "m.csv",
        ])
        .code(0);
    }
    // The merged report goes into the same directory; a second merge skips it.
    for _ in 0..2 {
        t.run(&["merge", "--report", "reports/all.json", "reports"])
            .code(0)
            .stderr_has("4 jobs in");
        let rep = t.json("reports/all.json");
        assert_eq!(rep["merged"]["shards"], 2);
        assert_eq!(rep["counts"]["succeeded"], 4);
    }
    t.run(&["merge", "reports/s1.json", "reports/all.json"])
        .code(2)
        .stderr_has("reports/all.json: a merged report");
    std::fs::create_dir(t.path("empty")).unwrap();
    t.run(&["merge", "empty"])
        .code(2)
        .stderr_has("no shard report");

    t.write("list.txt", "reports/s1.json\n\nreports/s2.json\n");
    t.run(&["merge", "--report", "l.json", "--reports-from", "list.txt"])
        .code(0);
    assert_eq!(t.json("l.json")["counts"]["succeeded"], 4);
    let mut child = t
        .cmd(&["merge", "--report", "stdin.json", "--reports-from", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"reports/s2.json\nreports/s1.json\n")
        .unwrap();
    Run::wait(child, &["merge", "--reports-from", "-"]).code(0);
    assert_eq!(t.json("stdin.json")["counts"]["succeeded"], 4);
}
