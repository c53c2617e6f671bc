//! Large manifests: 100,000 rows with `after` chains validate, dry-run and run (resumed) with the
//! same report content as a small run: every job, in manifest order.

use crate::util::TestEnv;

/// Rows of the big manifest.
const N: usize = 100_000;
/// Jobs per `after` chain: `j{k}` is `after` `j{k-1}` unless `k` starts a chain.
const CHAIN: usize = 1_000;
/// The job left out of the joblog: it and the rest of its chain run again.
const RERUN: usize = 50_500;

/// `id,command,after` with 100 chains of 1,000 jobs.
fn big_manifest() -> String {
    let mut m = String::from("id,command,after\n");
    for k in 0..N {
        let after = if k % CHAIN == 0 {
            String::new()
        } else {
            format!("j{}", k - 1)
        };
        m.push_str(&format!("j{k},/bin/true,{after}\n"));
    }
    m
}

#[test]
fn hundred_thousand_rows_with_after_chains_check_and_dry_run() {
    let t = TestEnv::new();
    t.write("m.csv", big_manifest());
    let check = t.run(&["check", "m.csv"]);
    check.code(0);
    let lines: Vec<&str> = check.stdout.lines().collect();
    assert_eq!(lines.len(), N + 3, "header, one line a job, blank, summary");
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["ID", "COMMAND", "TIMEOUT", "RETRIES", "GROUP", "AFTER"]
    );
    // The chains are in manifest order, so that is the start order too.
    for (k, line) in lines[1..=N].iter().enumerate() {
        let cells: Vec<&str> = line.split_whitespace().collect();
        let after = if k % CHAIN == 0 {
            "-".to_string()
        } else {
            format!("j{}", k - 1)
        };
        assert_eq!(
            cells,
            [&format!("j{k}"), "/bin/true", "-", "0", "-", &after]
        );
    }
    assert_eq!(
        lines[N + 2],
        "100000 jobs in m.csv; start order shown (manifest order, as far as `after` allows)"
    );
    let dry = t.run(&["run", "--dry-run", "m.csv"]);
    dry.code(0);
    assert_eq!(dry.stdout, "/bin/true\n".repeat(N));
}

#[test]
fn hundred_thousand_rows_resumed_report_lists_every_job_in_order() {
    let t = TestEnv::new();
    // The command hash of `/bin/true` (with no cwd or env), from a one-job run's joblog.
    t.write("one.csv", "id,command\nj0,/bin/true\n");
    t.run(&["run", "--joblog", "one.log", "one.csv"]).code(0);
    let one = t.read("one.log");
    let line = one.lines().nth(1).expect("a joblog line");
    let hash = line.rsplit(',').next().unwrap().to_string();
    let fields: Vec<&str> = line.split(',').collect();
    let mut log = format!("{}\n", one.lines().next().unwrap());
    for k in (0..N).filter(|&k| k != RERUN) {
        log.push_str(&format!(
            "j{k},succeeded,1,0,,{},1,{hash}\n",
            fields[5] // a started_at of the right format
        ));
    }
    t.write("log.csv", log);
    t.write("m.csv", big_manifest());
    let rerun = CHAIN - RERUN % CHAIN; // RERUN and the rest of its chain
    t.run(&[
        "run", "-q", "--resume", "--joblog", "log.csv", "--report", "r.json", "--report", "r.md",
        "--report", "r.xml", "m.csv",
    ])
    .code(0);
    let r = t.json("r.json");
    assert_eq!(r["schema"], 1);
    assert_eq!(r["outcome"], "succeeded");
    assert_eq!(r["counts"]["total"], N);
    assert_eq!(r["counts"]["succeeded"], rerun);
    assert_eq!(r["counts"]["resumed"], N - rerun);
    let jobs = r["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), N);
    let first_rerun = RERUN;
    let last_rerun = RERUN + rerun - 1;
    for (k, j) in jobs.iter().enumerate() {
        assert_eq!(j["id"], format!("j{k}"));
        let ran = (first_rerun..=last_rerun).contains(&k);
        let obj = j.as_object().unwrap();
        for key in [
            "id",
            "status",
            "attempts",
            "exit_code",
            "signal",
            "started_at",
            "duration_ms",
            "error",
            "stderr_tail",
            "leaked_processes",
        ] {
            assert!(obj.contains_key(key), "job {k} lacks {key}");
        }
        if ran {
            assert_eq!(j["status"], "succeeded", "job {k}");
            assert_eq!(j["attempts"], 1);
            assert_eq!(j["exit_code"], 0);
            assert!(j["started_at"].is_string());
        } else {
            assert_eq!(j["status"], "resumed", "job {k}");
            assert_eq!(j["attempts"], 0);
            assert!(j["exit_code"].is_null() && j["started_at"].is_null());
        }
        assert!(j["signal"].is_null() && j["stderr_tail"].is_null());
        assert_eq!(j["leaked_processes"], 0);
    }
    let md = t.read("r.md");
    assert!(
        md.contains(&format!("| resumed | {} |", N - rerun)),
        "{md:.500}"
    );
    let slowest = md
        .split("## Slowest jobs")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("a slowest-jobs section");
    assert_eq!(slowest.matches("\n| `j").count(), 10, "the 10 slowest jobs");
    let xml = t.read("r.xml");
    assert_eq!(xml.matches("<testcase ").count(), N);
    assert!(xml.contains(&format!("<testcase name=\"j{RERUN}\" ")));
    assert!(xml.ends_with("  </testsuite>\n</testsuites>\n"));
}

#[test]
fn reused_capture_files_never_mix_jobs_output() {
    let t = TestEnv::new();
    // One worker, so every job reuses the files of the one before.
    t.write(
        "m.csv",
        "id,shell,command\n\
         a,yes,echo a-out; echo a-err >&2\n\
         quiet,yes,true\n\
         b,yes,echo b-err >&2; exit 3\n\
         c,yes,echo c-out\n\
         d,yes,exit 4\n",
    );
    for mode in ["none", "group"] {
        let report = format!("r-{mode}.json");
        let run = t.run(&["run", "-j1", "--output", mode, "--report", &report, "m.csv"]);
        run.code(1);
        let r = t.json(&report);
        assert_eq!(
            crate::util::job(&r, "b")["stderr_tail"],
            "b-err\n",
            "{mode}"
        );
        assert!(crate::util::job(&r, "d")["stderr_tail"].is_null(), "{mode}");
        if mode == "group" {
            let out: Vec<&str> = run.stdout.lines().collect();
            assert_eq!(out, ["a-out", "c-out"], "{mode}");
        } else {
            assert_eq!(run.stdout, "");
        }
    }
}

/// A stopped run's jobs that never started cost a short line each in the report (their id,
/// status and attempts; the reason is the run's outcome), and `merge` and `--resume` read
/// such a report back.
#[test]
fn jobs_not_started_are_compact_in_the_report_and_read_back() {
    let t = TestEnv::new();
    let items: String = (0..3000).map(|i| format!("item-{i}\n")).collect();
    t.write("list.txt", &items);
    // The first job fails, --fail-fast stops the run before any other starts (-j 1).
    t.write(
        "run.sh",
        "case \"$1\" in item-0) exit 3;; esac\ntouch \"ran.$1\"\n",
    );
    t.run(&[
        "run",
        "--lines",
        "--command",
        "sh run.sh {}",
        "--id",
        "{}",
        "-j",
        "1",
        "--fail-fast",
        "--report",
        "r.json",
        "--joblog",
        "j.csv",
        "list.txt",
    ])
    .code(1);
    let text = t.read("r.json");
    let compact: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_start().starts_with("{\"id\":"))
        .collect();
    assert_eq!(compact.len(), 2999, "{}", &text[..2000.min(text.len())]);
    for (k, line) in compact.iter().enumerate() {
        let id = format!("item-{}", k + 1);
        let entry = line.trim().trim_end_matches(',');
        assert_eq!(
            entry,
            format!("{{\"id\":\"{id}\",\"status\":\"not_started\",\"attempts\":0}}")
        );
        assert!(entry.len() <= 45 + id.len(), "{entry}");
    }
    let rep = t.json("r.json");
    assert_eq!(rep["outcome"], "failed");
    assert_eq!(rep["jobs"].as_array().unwrap().len(), 3000);
    assert_eq!(rep["jobs"][0]["status"], "failed");
    // --resume reads the joblog; merge reads the report.
    t.run(&[
        "run",
        "--lines",
        "--command",
        "sh run.sh {}",
        "--id",
        "{}",
        "--joblog",
        "j.csv",
        "--resume",
        "--dry-run",
        "list.txt",
    ])
    .code(0);
    t.run(&[
        "merge",
        "--lines",
        "--command",
        "sh run.sh {}",
        "--id",
        "{}",
        "--report",
        "m.json",
        "r.json",
    ])
    .code(1);
    let merged = t.json("m.json");
    assert_eq!(merged["counts"]["not_started"], 2999);
}

/// `check` and `--dry-run` map a manifest file and give its pages back as they read it
/// (issue 19); from standard input they read it. Both print the same, byte for byte, over
/// enough rows to cross many batches (2,048 rows checked, 16,384 table lines) and with rows of
/// every kind the table builds in its short way or whole; and the problems of a bad manifest
/// are the same.
#[test]
fn a_mapped_manifest_prints_what_a_read_one_prints() {
    let t = TestEnv::new();
    let mut m = String::from("id,command,timeout,retries,group,after,shell\n");
    for k in 0..40_000 {
        let row = match k % 8 {
            0 => format!("r{k},/bin/echo {k},30s,,,,"),
            1 => format!("r{k},echo 'a b' {k},,2,g,r{},", k - 1),
            2 => format!("r{k},  echo   {k}  x=y ,1m 30s,,,,"),
            3 => format!("r{k},echo {{id}},,,g2,,"),
            4 => format!("r{k},echo $HOME | wc -c,5,,,,yes"),
            5 => format!("r{k},\"echo \"\"q\"\" {k}\",,,,,no"),
            6 => format!("r{k},true,250ms,12,,r{} r{},", k - 1, k - 2),
            _ => format!("r{k},/usr/bin/env X=1 true,,,,,"),
        };
        m.push_str(&row);
        m.push('\n');
    }
    t.write("m.csv", &m);
    let from_stdin = |args: &[&str]| {
        let mut c = t.cmd(args);
        c.stdin(std::fs::File::open(t.path("m.csv")).unwrap())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        crate::util::Run::wait(c.spawn().unwrap(), args)
    };
    for (mapped, read) in [
        (vec!["check", "m.csv"], vec!["check", "-"]),
        (
            vec!["run", "--dry-run", "m.csv"],
            vec!["run", "--dry-run", "-"],
        ),
    ] {
        let (a, b) = (t.run(&mapped), from_stdin(&read));
        a.code(0);
        b.code(0);
        assert_eq!(a.stderr, b.stderr);
        assert_eq!(
            a.stdout.replace("in m.csv;", "in <stdin>;"),
            b.stdout,
            "{mapped:?}"
        );
        assert!(a.stdout.lines().count() >= 40_000, "{mapped:?}");
    }
    // A bad manifest: the same problems, in the same order, from a file as from stdin.
    m.push_str("r7,dup,0s,x,,nope,maybe\nr-last,\"never closed\n");
    t.write("m.csv", &m);
    let (a, b) = (t.run(&["check", "m.csv"]), from_stdin(&["check", "-"]));
    a.code(2);
    b.code(2);
    assert_eq!(a.stderr.replace("m.csv", "<stdin>"), b.stderr);
    assert!(a.stderr.contains("unbalanced quote"), "{}", a.stderr);
}
