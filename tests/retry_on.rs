//! Retries by exit code: the `retry_on` column and `--retry-on` (exit codes, ranges, `timeout`,
//! signal names), the column over the flag, the report's reason for a retry not made, and the
//! validation of both.

use crate::util::*;

/// Runs `m.csv` with a short retry delay and `extra` flags; returns the JSON report.
fn run_report(t: &TestEnv, extra: &[&str], code: i32) -> serde_json::Value {
    let mut args = vec!["run", "--retry-delay", "10ms", "--report", "r.json"];
    args.extend_from_slice(extra);
    args.push("m.csv");
    t.run(&args).code(code);
    t.json("r.json")
}

/// `(status, attempts, error)` of job `id`.
fn outcome(rep: &serde_json::Value, id: &str) -> (String, u64, String) {
    let j = job(rep, id);
    (
        j["status"].as_str().unwrap().to_string(),
        j["attempts"].as_u64().unwrap(),
        j["error"].as_str().unwrap_or("").to_string(),
    )
}

#[test]
fn exit_code_matrix() {
    let t = TestEnv::new();
    // Each job fails with CODE on its first attempt and succeeds on its second, so a job that
    // is retried ends `succeeded` after 2 attempts, and one that is not ends `failed` after 1.
    let fail_once = |code: &str| format!("[ $BATCHRUN_ATTEMPT -ge 2 ] || exit {code}");
    let mut m = String::from("id,shell,retries,retry_on,command\n");
    for (id, code, retry_on) in [
        ("listed", "75", "75"),
        ("unlisted", "3", "75"),
        ("range-low", "100", "75,100-110"),
        ("range-high", "110", "75,100-110"),
        ("past-range", "111", "75,100-110"),
        ("empty-is-any", "3", ""),
        ("any", "4", "any"),
    ] {
        m.push_str(&format!("{id},true,3,{retry_on:?},{}\n", fail_once(code)));
    }
    t.write("m.csv", &m);
    let rep = run_report(&t, &[], 1);
    for id in ["listed", "range-low", "range-high", "empty-is-any", "any"] {
        assert_eq!(
            outcome(&rep, id),
            ("succeeded".into(), 2, String::new()),
            "{id}"
        );
    }
    assert_eq!(
        outcome(&rep, "unlisted"),
        (
            "failed".into(),
            1,
            "exit status 3 (not retried: 3 is not in retry_on 75)".into()
        )
    );
    assert_eq!(
        outcome(&rep, "past-range"),
        (
            "failed".into(),
            1,
            "exit status 111 (not retried: 111 is not in retry_on 75,100-110)".into()
        )
    );
    // A listed code is retried until the retries run out; the error then has no note.
    t.write(
        "m.csv",
        "id,shell,retries,retry_on,command\nalways,true,2,75,exit 75\nnone-left,true,0,75,exit 3\n",
    );
    let rep = run_report(&t, &[], 1);
    assert_eq!(
        outcome(&rep, "always"),
        ("failed".into(), 3, "exit status 75".into())
    );
    // Without retries left nothing would have been retried anyway: no note.
    assert_eq!(
        outcome(&rep, "none-left"),
        ("failed".into(), 1, "exit status 3".into())
    );
    t.assert_nothing_left();
}

#[test]
fn timeouts_and_signals() {
    let t = TestEnv::new();
    t.write(
        "m.csv",
        "id,shell,retries,timeout,retry_on,command\n\
         slow-listed,true,1,300ms,\"timeout,75\",[ $BATCHRUN_ATTEMPT -ge 2 ] || exec sleep 30\n\
         slow-unlisted,true,1,300ms,75,exec sleep 30\n\
         killed-listed,true,1,,SIGKILL,[ $BATCHRUN_ATTEMPT -ge 2 ] || kill -KILL $$\n\
         killed-bare-name,true,1,,kill,[ $BATCHRUN_ATTEMPT -ge 2 ] || kill -KILL $$\n\
         killed-unlisted,true,1,,\"TERM,75\",kill -KILL $$\n\
         exit-not-signal,true,1,,SIGKILL,exit 9\n",
    );
    let rep = run_report(&t, &[], 1);
    for id in ["slow-listed", "killed-listed", "killed-bare-name"] {
        assert_eq!(
            outcome(&rep, id),
            ("succeeded".into(), 2, String::new()),
            "{id}"
        );
    }
    assert_eq!(
        outcome(&rep, "slow-unlisted"),
        (
            "timed_out".into(),
            1,
            "timed out after 300ms (not retried: a timeout is not in retry_on 75)".into()
        )
    );
    assert_eq!(
        outcome(&rep, "killed-unlisted"),
        (
            "failed".into(),
            1,
            "killed by signal 9 (SIGKILL) (not retried: SIGKILL is not in retry_on SIGTERM,75)"
                .into()
        )
    );
    // Exit code 9 is not signal 9.
    assert_eq!(
        outcome(&rep, "exit-not-signal"),
        (
            "failed".into(),
            1,
            "exit status 9 (not retried: 9 is not in retry_on SIGKILL)".into()
        )
    );
    t.assert_nothing_left();
}

#[test]
fn the_column_overrides_the_flag() {
    let t = TestEnv::new();
    let fail_once = |code: u8| format!("[ $BATCHRUN_ATTEMPT -ge 2 ] || exit {code}");
    t.write(
        "m.csv",
        format!(
            "id,shell,retry_on,command\n\
             column-wins,true,75,{}\n\
             flag-applies,true,,{}\n\
             flag-refuses,true,,{}\n\
             any-overrides,true,any,{}\n",
            fail_once(3),
            fail_once(3),
            fail_once(4),
            fail_once(4),
        ),
    );
    let rep = run_report(&t, &["--retries", "1", "--retry-on", "3,timeout"], 1);
    assert_eq!(
        outcome(&rep, "column-wins"),
        (
            "failed".into(),
            1,
            "exit status 3 (not retried: 3 is not in retry_on 75)".into()
        )
    );
    assert_eq!(
        outcome(&rep, "flag-applies"),
        ("succeeded".into(), 2, String::new())
    );
    assert_eq!(
        outcome(&rep, "flag-refuses"),
        (
            "failed".into(),
            1,
            "exit status 4 (not retried: 4 is not in --retry-on 3,timeout)".into()
        )
    );
    assert_eq!(
        outcome(&rep, "any-overrides"),
        ("succeeded".into(), 2, String::new())
    );
    // Plain lists have no columns: the flag applies to every item.
    t.write("l.txt", "exit 5\n[ $BATCHRUN_ATTEMPT -ge 2 ] || exit 6\n");
    let args = [
        "run",
        "--lines",
        "--retries",
        "1",
        "--retry-delay",
        "10ms",
        "--retry-on",
        "6",
        "--report",
        "l.json",
        "l.txt",
    ];
    t.run(&args).code(1);
    let rep = t.json("l.json");
    assert_eq!(outcome(&rep, "1").1, 1);
    assert_eq!(outcome(&rep, "2"), ("succeeded".into(), 2, String::new()));
}

#[test]
fn every_bad_retry_on_is_a_problem_with_its_line() {
    let t = TestEnv::new();
    t.write(
        "bad.csv",
        "id,command,retries,retry_on\n\
         a,true,1,75\n\
         b,true,1,\"0,300\"\n\
         c,true,1,110-100\n\
         d,true,1,SIGNOPE\n\
         e,true,1,\"75,,timeout\"\n",
    );
    let r = t.run(&["run", "bad.csv"]);
    r.code(2);
    let expected = "(expected exit codes 1-255, ranges such as 100-110, timeout, or signal names such as SIGKILL, separated by commas)";
    for line in [
        format!("bad.csv:3: column 'retry_on': exit code 0 in '0' is a success, never retried {expected}"),
        format!("bad.csv:3: column 'retry_on': exit code 300 in '300' is above 255 {expected}"),
        "bad.csv:4: column 'retry_on': '110-100' is an empty range (expected exit codes 1-255, ranges such as 100-110, timeout, or signal names such as SIGKILL, separated by commas; a range runs from low to high)".to_string(),
        format!("bad.csv:5: column 'retry_on': 'SIGNOPE' is not an exit code, a range, timeout or a signal name {expected}"),
        format!("bad.csv:6: column 'retry_on': an empty entry {expected}"),
    ] {
        r.stderr_has(&line);
    }
    r.stderr_has("batchrun: 5 problems in bad.csv; nothing was run");
    // `check` says the same.
    t.run(&["check", "bad.csv"])
        .code(2)
        .stderr_has("5 problems in bad.csv");
    // The flag: every bad entry, each once, and nothing runs.
    t.write("m.csv", "id,command\na,touch ran\n");
    let r = t.run(&["run", "--retry-on", "75,x,0", "m.csv"]);
    r.code(2)
        .stderr_has(&format!(
            "--retry-on: 'x' is not an exit code, a range, timeout or a signal name {expected}"
        ))
        .stderr_has("--retry-on: exit code 0 in '0' is a success");
    assert!(!t.path("ran").exists());
    // Valid lists are accepted by check, with any spacing or case.
    t.write(
        "ok.csv",
        "id,command,retry_on\na,true,\" 75 , 100-110,Timeout,sigkill \"\nb,true,ANY\n",
    );
    t.run(&["check", "--retry-on", "1-255", "ok.csv"]).code(0);
}
