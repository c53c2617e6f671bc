//! Snapshots of what people read, printed by the real binary: the summary after a run, the
//! Markdown report, the `check` plan table, the list of a bad manifest's problems, and the help
//! texts. The snapshots live in `tests/snapshots/`; a change to any of these texts shows up
//! there as a diff to review.
//!
//! Everything that changes from run to run goes through insta filters before the comparison:
//! wall times and job durations become `[DURATION]`, timestamps `[TIMESTAMP]`, the test's
//! temporary directory `[TMP]`. The Markdown report's rankings (slowest jobs, most CPU, most
//! memory) order jobs by measured values, so their rows become placeholders and the tests check
//! separately that each ranking names the jobs that ran.

use std::process::Stdio;

use crate::util::{Run, TestEnv};

/// A human duration as batchrun prints one: `0.3s`, `312ms`, `0.301s`, `1m 4s`, `2h 5m 1s`.
const DURATION: &str =
    r"\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h)(?: \d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))*";

/// An RFC 3339 time as batchrun writes one: `2026-11-23T02:00:01Z`.
const TIMESTAMP: &str = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})";

/// The run every summary and report snapshot shows: one job of each outcome a small nightly
/// batch meets. `later` is skipped because `boom` fails; `slow` is killed at its timeout.
const MIXED: &str = "id,command,timeout,after\n\
                     ok,echo hello,,\n\
                     boom,sh -c 'echo boom >&2; exit 3',,\n\
                     slow,sleep 30,300ms,\n\
                     later,echo never,,boom\n";

/// Escapes `s` for use as a literal in a regex.
fn regex_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The test directory as it may appear in messages, as written and with links resolved.
fn tmp_patterns(t: &TestEnv) -> Vec<String> {
    let dir = t.dir.path();
    let mut pats = vec![regex_literal(&dir.display().to_string())];
    if let Ok(real) = std::fs::canonicalize(dir) {
        if real != dir {
            pats.push(regex_literal(&real.display().to_string()));
        }
    }
    pats
}

/// Runs batchrun in `t` with `env` set and collects what it did.
fn run_with_env(t: &TestEnv, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = t.cmd(args);
    cmd.envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    Run::wait(cmd.spawn().unwrap(), args)
}

/// Snapshots `text` as `name`, with the volatile parts of `t`'s runs filtered out; `extra`
/// filters go first.
fn snapshot(t: &TestEnv, name: &str, what: &str, text: &str, extra: &[(&str, &str)]) {
    let tmp = tmp_patterns(t);
    let mut filters: Vec<(&str, &str)> = extra.to_vec();
    filters.extend(tmp.iter().map(|p| (p.as_str(), "[TMP]")));
    filters.push((TIMESTAMP, "[TIMESTAMP]"));
    insta::with_settings!({
        filters => filters,
        description => what,
        prepend_module_to_snapshot => false,
    }, {
        insta::assert_snapshot!(name, text);
    });
}

/// The rows of a Markdown table headed `## {heading}` (empty if there is no such table).
fn table_rows<'a>(md: &'a str, heading: &str) -> Vec<&'a str> {
    let Some(start) = md.find(&format!("## {heading}\n")) else {
        return Vec::new();
    };
    md[start..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .collect()
}

/// The job ids named in the rows of a ranking table, sorted.
fn ranked_ids(md: &str, heading: &str) -> Vec<String> {
    let mut ids: Vec<String> = table_rows(md, heading)
        .iter()
        .map(|row| row.split('`').nth(1).unwrap_or(row).to_string())
        .collect();
    ids.sort();
    ids
}

#[test]
fn summary_and_markdown_report_of_a_run_with_every_kind_of_failure() {
    let t = TestEnv::new();
    t.write("m.csv", MIXED);
    let args = ["run", "-j", "4", "--report", "r.md", "m.csv"];
    let started = std::time::Instant::now();
    let r = t.run(&args);
    r.code(1);
    // The `sleep 30` job was killed at its timeout, not waited for.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "the run took {:?}: the timed-out job was not killed",
        started.elapsed()
    );
    t.assert_nothing_left();
    assert_eq!(r.stdout, "hello\n");

    let summary_duration = format!(r"(\d+ jobs? in ){DURATION}");
    snapshot(
        &t,
        "run_summary_stderr",
        "stderr of `batchrun run -j 4 --report r.md m.csv`: a success, a failure, a timeout and a skipped job",
        &r.stderr,
        &[(&summary_duration, "${1}[DURATION]")],
    );

    let md = t.read("r.md");
    for ranking in ["Slowest jobs", "Most CPU", "Most memory"] {
        assert_eq!(
            ranked_ids(&md, ranking),
            ["boom", "ok", "slow"],
            "the {ranking} table ranks every job that ran, and only those:\n{md}"
        );
    }
    let took = format!(r"(took ){DURATION}");
    let slowest_row = format!(r"(?m)^\| `[^`]+` \| [a-z_]+ \| {DURATION} \|$");
    let cpu_row = format!(r"(?m)^\| `[^`]+` \| {DURATION} \| {DURATION} \| {DURATION} \|$");
    let memory_row = r"(?m)^\| `[^`]+` \| \d+(?:\.\d+)? [KMGT]iB \|$";
    snapshot(
        &t,
        "run_report_markdown",
        "r.md written by `batchrun run -j 4 --report r.md m.csv` (the run of run_summary_stderr)",
        &md,
        &[
            (&took, "${1}[DURATION]"),
            (&slowest_row, "| [job] | [status] | [DURATION] |"),
            (&cpu_row, "| [job] | [DURATION] | [DURATION] | [DURATION] |"),
            (memory_row, "| [job] | [SIZE] |"),
        ],
    );
}

#[test]
fn check_prints_the_plan_table() {
    let t = TestEnv::new();
    t.write(
        "plan.csv",
        "id,command,after,group,timeout,retries\n\
         publish,echo publish {id},report,,,\n\
         fetch-eu,echo fetch eu,,net,30s,2\n\
         fetch-us,echo fetch us,,net,,\n\
         transform,echo transform,fetch-eu fetch-us,cpu,,\n\
         report,sh -c 'echo report > out.txt',transform,,5m,\n\
         cleanup,true,,,,\n",
    );
    let r = t.run(&["check", "--limit", "net=1", "plan.csv"]);
    r.code(0);
    assert_eq!(r.stderr, "", "check prints the plan on stdout only");
    snapshot(
        &t,
        "check_plan",
        "stdout of `batchrun check --limit net=1 plan.csv`: `after` chains, groups, a limit",
        &r.stdout,
        &[],
    );
    assert!(!t.path("out.txt").exists(), "check ran a job");
}

#[test]
fn every_problem_of_a_bad_manifest_is_listed_once() {
    let t = TestEnv::new();
    t.write(
        "bad.csv",
        "id,command,timeout,after,shell\n\
         a,echo a,soon,,\n\
         a,echo again,,,\n\
         b,echo b,,nosuch,\n\
         c,echo c,,d,\n\
         d,echo d,,c,\n\
         e,,,,\n\
         f,echo f,,,maybe\n\
         h,echo 'it,,,\n\
         g,\"touch ran,,,\n",
    );
    let r = t.run(&["run", "bad.csv"]);
    r.code(2);
    assert_eq!(r.stdout, "");
    snapshot(
        &t,
        "bad_manifest_problems",
        "stderr of `batchrun run bad.csv`: a bad duration, a duplicate id, an unknown `after` id, \
         an `after` cycle, an empty command, a bad boolean, an unclosed shell quote, an unbalanced \
         CSV quote",
        &r.stderr,
        &[],
    );
    assert!(!t.path("ran").exists(), "a job ran");
}

/// Help is wrapped to `COLUMNS` when none of stdin, stdout and stderr is a terminal (clap's
/// `wrap_help`, 100 columns without `COLUMNS`); the tests pin it so the snapshot does not depend
/// on the shell that runs them.
const HELP_ENV: &[(&str, &str)] = &[("COLUMNS", "100"), ("LINES", "50")];

/// Filters for help texts: clap indents the blank line before a `[default: …]` paragraph, and
/// the snapshot files keep no trailing whitespace for an editor to strip.
const HELP_FILTERS: &[(&str, &str)] = &[(r"(?m)[ \t]+$", "")];

/// Asserts that `help` fits in the 100 columns it was asked for.
fn assert_fits_100_columns(help: &str) {
    for line in help.lines() {
        assert!(line.chars().count() <= 100, "line wider than 100: {line:?}");
    }
}

#[test]
fn top_level_help() {
    let t = TestEnv::new();
    let r = run_with_env(&t, &["--help"], HELP_ENV);
    r.code(0);
    assert_eq!(r.stderr, "");
    snapshot(
        &t,
        "help",
        "stdout of `batchrun --help` with COLUMNS=100 and no terminal",
        &r.stdout,
        HELP_FILTERS,
    );
    assert_fits_100_columns(&r.stdout);
}

#[test]
fn run_help() {
    let t = TestEnv::new();
    let r = run_with_env(&t, &["run", "--help"], HELP_ENV);
    r.code(0);
    assert_eq!(r.stderr, "");
    snapshot(
        &t,
        "run_help",
        "stdout of `batchrun run --help` with COLUMNS=100 and no terminal",
        &r.stdout,
        HELP_FILTERS,
    );
    assert_fits_100_columns(&r.stdout);
}
