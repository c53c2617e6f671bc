//! Plain lists (`--lines`, a file of commands, stdin), `--shell`, `--id`, resume by command and
//! make-like resume (jobs after a job that runs run too), bare-number durations and `--keep-order`;
//! and the manifest's own defences: absurd durations, exact templates, long cycles, the size cap,
//! `--vars-only` and the warnings of `check`. A comment quoting an old complaint marks a test that
//! failed before the behaviour it checks was fixed.

use std::io::Write;
use std::process::Stdio;

use crate::util::{job_status, Run, TestEnv};

/// Runs batchrun with `input` on its standard input.
fn run_with_stdin(t: &TestEnv, args: &[&str], input: &[u8]) -> Run {
    let mut child = t
        .cmd(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    Run::wait(child, args)
}

// Regression: "`ls *.csv | batchrun run …`: there is no header-less input; the first file name
// becomes the header".
#[test]
fn a_plain_list_on_stdin_runs_one_job_per_item() {
    let t = TestEnv::new();
    t.write("a b.csv", "1\n2\n");
    t.write("c.csv", "1\n");
    let r = run_with_stdin(
        &t,
        &["run", "--lines", "-", "--command", "wc -l {}"],
        b"a b.csv\n\nc.csv\n",
    );
    r.code(0);
    r.stdout_has("2 a b.csv").stdout_has("1 c.csv");
    // NUL-separated, as from find -print0: an item may hold a newline.
    t.write("x\ny", "XY\n");
    let r = run_with_stdin(
        &t,
        &["run", "-0", "-", "--command", "cat {}"],
        b"x\ny\0c.csv\0",
    );
    r.code(0);
    r.stdout_has("XY\n").stdout_has("1\n");
    t.assert_nothing_left();
}

// Regression: "or a file of commands" (`parallel < cmds.txt`).
#[test]
fn a_file_of_commands_runs_each_line_through_the_shell() {
    let t = TestEnv::new();
    t.write(
        "cmds.txt",
        "echo one > one.txt\n\n   \necho two | tr a-z A-Z\n",
    );
    let r = t.run(&["run", "--lines", "cmds.txt"]);
    r.code(0);
    r.stdout_has("TWO");
    assert_eq!(t.read("one.txt"), "one\n");
}

// "Every other feature works in this mode": timeouts, retries, reports, joblog.
#[test]
fn plain_lists_get_timeouts_retries_reports_and_the_joblog() {
    let t = TestEnv::new();
    t.write(
        "cmds.txt",
        "true\nsleep 30\necho try >> tries.txt; exit 3\n",
    );
    let r = t.run(&[
        "run",
        "--lines",
        "cmds.txt",
        "--timeout",
        "1",
        "--retries",
        "1",
        "--retry-delay",
        "0.1",
        "--grace",
        "0.5",
        "--report",
        "r.json",
        "--joblog",
        "j.csv",
    ]);
    r.code(1);
    let rep = t.json("r.json");
    assert_eq!(job_status(&rep, "1"), "succeeded");
    assert_eq!(job_status(&rep, "2"), "timed_out");
    assert_eq!(job_status(&rep, "3"), "failed");
    assert_eq!(t.read("tries.txt"), "try\ntry\n");
    assert_eq!(t.read("j.csv").lines().count(), 4);
    t.assert_nothing_left();
}

// Regression: "`--command 'wc -l {path} > {path}.count'` passes `>` as a literal argument".
#[test]
fn shell_option_runs_commands_through_the_shell_with_quoted_values() {
    let t = TestEnv::new();
    t.write("in put.csv", "1\n2\n3\n");
    t.write("m.csv", "path,shell\nin put.csv,\n$(touch pwned),no\n");
    let r = t.run(&[
        "run",
        "--shell",
        "--command",
        "wc -l < {path} > {path}.count",
        "m.csv",
    ]);
    // The second row's own `shell` column says no: `<` would then be a literal argument of
    // wc, so the row is refused (issue 18) and nothing runs.
    r.code(2);
    r.stderr_has("m.csv:3: column 'command': shell syntax '<', '>'");
    assert!(!t.path("in put.csv.count").exists());
    t.write("m.csv", "path,shell\nin put.csv,\n$(touch pwned),\n");
    let r = t.run(&[
        "run",
        "--shell",
        "--command",
        "wc -l < {path} > {path}.count",
        "m.csv",
    ]);
    r.code(1);
    assert_eq!(t.read("in put.csv.count").trim(), "3");
    assert!(!t.path("pwned").exists());
}

// Regression: "Resume without an `id` column re-runs everything: adding one file at the top of
// a list gave `5000 succeeded, 1 resumed`".
#[test]
fn resume_without_ids_matches_rows_by_command() {
    let t = TestEnv::new();
    // Only options the old code had, so this fails there for the resume bug alone.
    let rows: String = (0..20).map(|i| format!("f{i},yes\n")).collect();
    t.write("m.csv", format!("file,shell\n{rows}"));
    let args = [
        "run",
        "--command",
        "echo {file} >> ran.log",
        "--joblog",
        "j.csv",
        "--resume",
        "--report",
        "r.json",
        "m.csv",
    ];
    t.run(&args).code(0);
    t.write("m.csv", format!("file,shell\nnew,yes\n{rows}"));
    t.run(&args).code(0);
    let rep = t.json("r.json");
    assert_eq!(rep["counts"]["succeeded"], 1);
    assert_eq!(rep["counts"]["resumed"], 20);
    assert_eq!(t.read("ran.log").lines().last(), Some("new"));
    assert_eq!(t.read("ran.log").lines().count(), 21);

    // The same with a plain list, and a row removed and two swapped.
    t.write("list.txt", "a\nb\nc\n");
    let list_args = [
        "run",
        "--lines",
        "--command",
        "touch {}.done",
        "--joblog",
        "l.csv",
        "--resume",
        "--report",
        "r.json",
        "list.txt",
    ];
    t.run(&list_args).code(0);
    t.write("list.txt", "c\nd\na\n");
    t.run(&list_args).code(0);
    let rep = t.json("r.json");
    assert_eq!(rep["counts"]["succeeded"], 1);
    assert_eq!(rep["counts"]["resumed"], 2);
    assert_eq!(job_status(&rep, "2"), "succeeded");
}

// Regression: "Resume keeps stale results: `extract` → `report` (`after`); change `extract`'s
// command and `--resume`: `extract` re-runs, `report` is `resumed`".
#[test]
fn resume_reruns_every_job_after_a_job_that_runs() {
    let t = TestEnv::new();
    let manifest = |v: &str| {
        format!(
            "id,command,after,shell\n\
             extract,echo {v} > data.txt,,yes\n\
             report,cp data.txt report.txt,extract,yes\n\
             publish,cp report.txt published.txt,report,yes\n\
             other,echo other >> other.txt,,yes\n"
        )
    };
    let args = [
        "run", "--joblog", "j.csv", "--resume", "--report", "r.json", "m.csv",
    ];
    t.write("m.csv", manifest("v1"));
    t.run(&args).code(0);
    t.write("m.csv", manifest("v2"));
    t.run(&args).code(0);
    let rep = t.json("r.json");
    for id in ["extract", "report", "publish"] {
        assert_eq!(job_status(&rep, id), "succeeded", "{id}");
    }
    assert_eq!(job_status(&rep, "other"), "resumed");
    assert_eq!(t.read("published.txt"), "v2\n");
    assert_eq!(t.read("other.txt"), "other\n");
}

// Regression: "`--dry-run --joblog j --resume` lists every job, including those resume would
// skip".
#[test]
fn dry_run_with_resume_prints_only_what_would_run() {
    let t = TestEnv::new();
    t.write(
        "m.csv",
        "id,command,after\na,echo a,\nb,echo b,\nc,echo c,b\n",
    );
    t.run(&["run", "--joblog", "j.csv", "m.csv"]).code(0);
    t.write(
        "m.csv",
        "id,command,after\na,echo a,\nb,echo B,\nc,echo c,b\n",
    );
    let r = t.run(&["run", "--dry-run", "--joblog", "j.csv", "--resume", "m.csv"]);
    r.code(0);
    assert_eq!(r.stdout, "echo B\necho c\n");
    r.stderr_has("1 of 3 jobs would be resumed");
    // Nothing ran and the joblog is untouched.
    assert_eq!(t.read("j.csv").lines().count(), 4);
}

// Regression: "`--timeout 5` is rejected (timeout(1) and GNU parallel take bare seconds)".
#[test]
fn bare_numbers_are_seconds() {
    let t = TestEnv::new();
    t.write(
        "m.csv",
        "id,command,timeout\nquick,sleep 30,0.5\nslow,sleep 30,\nok,true,5\n",
    );
    let r = t.run(&[
        "run",
        "--timeout",
        "1",
        "--grace",
        "1",
        "--retry-delay",
        "1",
        "--deadline",
        "600",
        "--report",
        "r.json",
        "m.csv",
    ]);
    r.code(1);
    let rep = t.json("r.json");
    assert_eq!(job_status(&rep, "quick"), "timed_out");
    assert_eq!(job_status(&rep, "slow"), "timed_out");
    assert_eq!(job_status(&rep, "ok"), "succeeded");
    t.assert_nothing_left();
}

/// A manifest whose jobs finish in reverse order: `a` waits for a flag that `c` writes, and
/// `c` starts only once `b` has finished.
fn reverse_finishers(t: &TestEnv) {
    t.write(
        "m.csv",
        "id,command,after,shell\n\
         a,while [ ! -e flag ]; do sleep 0.01; done; echo A1; echo A2; echo Aerr >&2,,yes\n\
         b,echo B1; printf B2,,yes\n\
         c,touch flag,b,yes\n",
    );
}

// Regression: "Output comes in finish order; there is no way to get it in manifest order."
#[test]
fn keep_order_prints_in_manifest_order() {
    let t = TestEnv::new();
    reverse_finishers(&t);
    let r = t.run(&["run", "-j", "2", "--keep-order", "m.csv"]);
    r.code(0);
    assert_eq!(r.stdout, "A1\nA2\nB1\nB2");
    r.stderr_has("Aerr");
    let r = t.run(&["run", "-j", "2", "-k", "--output", "tag", "m.csv"]);
    r.code(0);
    assert_eq!(r.stdout, "[a] A1\n[a] A2\n[b] B1\n[b] B2\n");
    // With --output-dir the held output is a copy of the named files.
    std::fs::remove_file(t.path("flag")).unwrap();
    let r = t.run(&["run", "-j", "2", "-k", "--output-dir", "out", "m.csv"]);
    r.code(0);
    assert_eq!(r.stdout, "A1\nA2\nB1\nB2");
    assert_eq!(t.read("out/b.out"), "B1\nB2");
    // Without --keep-order, finish order (what the old code always did).
    std::fs::remove_file(t.path("flag")).unwrap();
    let r = t.run(&["run", "-j", "2", "--output", "tag", "m.csv"]);
    assert_eq!(r.stdout, "[b] B1\n[b] B2\n[a] A1\n[a] A2\n");
}

#[test]
fn built_ids_are_validated_and_check_and_dry_run_take_them() {
    let t = TestEnv::new();
    t.write(
        "m.csv",
        "table,day,command\nsales,1,true\nsales,1,true\n,,true\nst ock,2,true\n",
    );
    let r = t.run(&["check", "--id", "{table}{day}", "m.csv"]);
    r.code(2);
    r.stderr_has("m.csv:3: column 'id': --id: duplicate id 'sales1'")
        .stderr_has("m.csv:4: column 'id': --id: empty id")
        .stderr_has("m.csv:5: column 'id': --id: id 'st ock2' contains ' '")
        .stderr_has("3 problems in m.csv");
    let r = t.run(&["check", "--id", "{nope}", "m.csv"]);
    r.code(2);
    r.stderr_has("--id: placeholder {nope} names no column");
    t.write(
        "m.csv",
        "table,day,command\nsales,1,echo {id}\nstock,2,true\n",
    );
    let r = t.run(&["check", "--id", "{table}-{day}", "m.csv"]);
    r.code(0);
    r.stdout_has("sales-1").stdout_has("stock-2");
    let r = t.run(&["run", "--dry-run", "--id", "{table}-{day}", "m.csv"]);
    r.code(0);
    assert_eq!(r.stdout, "echo sales-1\ntrue\n");
    // A plain list with --id.
    t.write("l.txt", "x\ny\n");
    let r = t.run(&[
        "check",
        "--lines",
        "--id",
        "f-{}",
        "--command",
        "echo {}",
        "l.txt",
    ]);
    r.code(0);
    r.stdout_has("f-y");
    let r = t.run(&[
        "run",
        "--dry-run",
        "--lines",
        "--command",
        "echo {} {id}",
        "l.txt",
    ]);
    r.code(0);
    assert_eq!(r.stdout, "echo x 1\necho y 2\n");
}

// Absurd durations are validation errors, every one reported.
#[test]
fn absurd_durations_are_rejected_not_a_panic() {
    let t = TestEnv::new();
    t.write(
        "m.csv",
        "id,command,timeout\na,touch ran,300000000000y\nb,touch ran,11y\n",
    );
    let r = t.run(&[
        "run",
        "--timeout",
        "18446744073709551615",
        "--grace",
        "18446744073709551615s",
        "--retry-delay",
        "300000000000y",
        "--deadline",
        "584942417355y",
        "m.csv",
    ]);
    r.code(2);
    for flag in ["--timeout", "--grace", "--retry-delay", "--deadline"] {
        r.stderr_has(&format!("{flag}: '"));
    }
    let r = t.run(&["run", "m.csv"]);
    r.code(2);
    r.stderr_has("m.csv:2: column 'timeout': '300000000000y' is too long (expected at most 10y")
        .stderr_has("m.csv:3: column 'timeout': '11y' is too long");
    assert!(!t.path("ran").exists());
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}

// Regression: private-use characters were the placeholder markers.
#[test]
fn templates_are_exact_for_private_use_characters() {
    let t = TestEnv::new();
    t.write("m.csv", "x\nVALUE\n");
    let r = t.run(&["run", "--command", "echo \u{E000} 1 \u{E001} {x}", "m.csv"]);
    r.code(0);
    assert_eq!(r.stdout, "\u{E000} 1 \u{E001} VALUE\n");
}

// The manifest size is capped.
#[test]
fn an_endless_manifest_is_refused() {
    let t = TestEnv::new();
    let r = t.run(&["check", "/dev/zero"]);
    r.code(2);
    r.stderr_has("cannot read manifest /dev/zero: larger than 256 MiB");
}

// Settings from columns: --vars-only, and the warnings of check.
#[test]
fn vars_only_leaves_settings_to_the_command_line() {
    let t = TestEnv::new();
    t.write("m.csv", "name,env,cwd\nx,MARK=pwned,/\n");
    let args = |vars_only: bool| {
        let mut a = vec![
            "run",
            "--shell",
            "--command",
            "echo \"M=$MARK\" {name} {cwd}",
        ];
        if vars_only {
            a.push("--vars-only");
        }
        a.push("m.csv");
        a
    };
    t.run(&args(false)).code(0).stdout_has("M=pwned x /");
    let r = t.run(&args(true));
    r.code(0);
    assert_eq!(r.stdout, "M= x /\n");
}

#[test]
fn check_warns_when_a_shell_reparses_a_value() {
    let t = TestEnv::new();
    t.write("m.csv", "x\n$(touch pwned)\n");
    let r = t.run(&["check", "--command", "sh -c 'echo {x}'", "m.csv"]);
    r.code(0);
    r.stderr_has("warn: --command: a shell run with -c and a placeholder");
    let r = t.run(&["check", "--shell", "--command", "echo \"{x}\"", "m.csv"]);
    r.code(0);
    r.stderr_has("warn: --command: a placeholder inside quotes");
    // -q: a run that succeeds prints nothing, warnings included.
    let r = t.run(&[
        "run",
        "-q",
        "--shell",
        "--command",
        "echo \"{x}\" >/dev/null",
        "m.csv",
    ]);
    r.code(0);
    assert_eq!(r.stderr, "");
    // What the warning is about: the value was run.
    assert!(t.path("pwned").exists());
    let r = t.run(&["check", "--shell", "--command", "echo {x}", "m.csv"]);
    assert!(!r.stderr.contains("warn"), "{}", r.stderr);
}
