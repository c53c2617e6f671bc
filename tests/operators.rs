//! What a cron operator's machines read (issue 22): the `--events` stream checked against the
//! JSON report, the `--metrics` file through a Prometheus parser, `--max-listed`, and what `-q`
//! still shows (a failing hook) and no longer shows twice (a failing job's stderr tail).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use crate::util::*;

/// The statuses, in the report's order.
const STATUSES: [&str; 8] = [
    "succeeded",
    "failed",
    "timed_out",
    "start_failed",
    "skipped",
    "cancelled",
    "not_started",
    "resumed",
];

/// Every line of an event stream, parsed, with the checks every line must pass.
fn read_events(text: &str) -> Vec<serde_json::Value> {
    let names = [
        "run_started",
        "attempt_started",
        "attempt_finished",
        "retry_scheduled",
        "job_finished",
        "stopping",
        "run_finished",
    ];
    assert!(text.ends_with('\n'), "a torn last line: {text:?}");
    text.lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
            assert_eq!(v["schema"], 1, "{line}");
            let time = v["time"]
                .as_str()
                .unwrap_or_else(|| panic!("no time: {line}"));
            // RFC 3339, UTC, milliseconds: 2026-11-23T02:00:01.123Z
            assert_eq!(time.len(), 24, "{line}");
            assert!(time.ends_with('Z') && &time[19..20] == ".", "{line}");
            assert!(
                chrono::DateTime::parse_from_rfc3339(time).is_ok(),
                "{time} is not RFC 3339"
            );
            let event = v["event"].as_str().unwrap();
            assert!(names.contains(&event), "unknown event {event}: {line}");
            v
        })
        .collect()
}

/// The lines of one kind.
fn of<'a>(events: &'a [serde_json::Value], kind: &str) -> Vec<&'a serde_json::Value> {
    events.iter().filter(|e| e["event"] == kind).collect()
}

/// Checks a whole stream against the JSON report of the same run: one `run_started` first,
/// one `run_finished` last with the report's outcome, exit code and counts, exactly one
/// `job_finished` per job with the report's status and attempts, and per job as many
/// `attempt_finished` as attempts, each after its `attempt_started` when it spawned.
fn check_stream_against_report(events: &[serde_json::Value], report: &serde_json::Value) {
    assert_eq!(events.first().unwrap()["event"], "run_started");
    assert_eq!(events.last().unwrap()["event"], "run_finished");
    assert_eq!(of(events, "run_started").len(), 1);
    assert_eq!(of(events, "run_finished").len(), 1);
    let start = &events[0];
    assert_eq!(start["manifest"], report["manifest"]);
    assert_eq!(start["manifest_sha256"], report["manifest_sha256"]);
    assert_eq!(start["workers"], report["workers"]);
    assert_eq!(start["counts"]["total"], report["counts"]["total"]);
    assert_eq!(
        start["counts"]["resumed"], report["counts"]["resumed"],
        "{start}"
    );
    let end = events.last().unwrap();
    assert_eq!(end["outcome"], report["outcome"]);
    assert_eq!(end["exit_code"], report["exit_code"]);
    assert_eq!(end["counts"], report["counts"]);
    assert_eq!(end["dropped"], 0);

    let jobs = report["jobs"].as_array().unwrap();
    let finished = of(events, "job_finished");
    assert_eq!(finished.len(), jobs.len(), "one job_finished per job");
    let by_id: HashMap<&str, &serde_json::Value> = finished
        .iter()
        .map(|e| (e["id"].as_str().unwrap(), *e))
        .collect();
    assert_eq!(by_id.len(), jobs.len(), "a job finished twice");
    for j in jobs {
        let id = j["id"].as_str().unwrap();
        let e = by_id[id];
        if j.get("command").is_none() {
            // The report's compact entry of a job not started for the run's own reason: the
            // stream says the same, with that reason.
            assert_eq!(e["status"], j["status"], "job {id}: {e} / {j}");
            assert_eq!(e["attempts"], j["attempts"], "job {id}: {e} / {j}");
            assert!(
                e["error"].as_str().unwrap().starts_with("not started: "),
                "job {id}: {e}"
            );
            continue;
        }
        for field in [
            "status",
            "attempts",
            "exit_code",
            "signal",
            "duration_ms",
            "error",
            "stderr_tail",
            "leaked_processes",
            "max_rss_kib",
            "user_ms",
            "system_ms",
        ] {
            assert_eq!(e[field], j[field], "job {id}: {field} differs: {e} / {j}");
        }
        let attempts = j["attempts"].as_u64().unwrap() as usize;
        let positions = |kind: &str| -> Vec<usize> {
            (0..events.len())
                .filter(|&k| events[k]["event"] == kind && events[k]["id"] == id)
                .collect()
        };
        let (started, ended) = (positions("attempt_started"), positions("attempt_finished"));
        assert_eq!(ended.len(), attempts, "job {id}: attempts");
        if j["status"] != "start_failed" {
            assert_eq!(started.len(), attempts, "job {id}: attempt_started");
            for (n, (s, f)) in started.iter().zip(&ended).enumerate() {
                assert!(
                    s < f,
                    "job {id}: attempt {} finished before it started",
                    n + 1
                );
                assert_eq!(events[*s]["attempt"], n as u64 + 1);
                assert!(events[*s]["pid"].as_u64().unwrap() > 1);
            }
        }
        let job_line = positions("job_finished")[0];
        assert!(ended.iter().all(|&f| f < job_line), "job {id}: ended late");
        let retries = positions("retry_scheduled");
        assert_eq!(
            retries.len(),
            attempts.saturating_sub(1),
            "job {id}: retries"
        );
    }
}

#[test]
fn the_event_stream_tells_what_the_report_says() {
    let t = TestEnv::new();
    t.write(
        "m.csv",
        "id,command,retries,timeout,after\n\
         ok,true,,,\n\
         flaky,\"sh -c 'echo x >> flaky.n; [ $(wc -l < flaky.n) -ge 2 ]'\",2,,\n\
         bad,\"sh -c 'echo why >&2; exit 4'\",1,,\n\
         slow,sleep 30,,300ms,\n\
         nope,./does-not-exist,,,\n\
         dep,true,,,bad\n\
         killed,\"sh -c 'kill -9 $$'\",,,\n",
    );
    let r = t.run(&[
        "run",
        "-j",
        "3",
        "--retry-delay",
        "10ms",
        "--events",
        "ev.jsonl",
        "--report",
        "r.json",
        "--joblog",
        "log.csv",
        "m.csv",
    ]);
    r.code(1);
    let report = t.json("r.json");
    let events = read_events(&t.read("ev.jsonl"));
    check_stream_against_report(&events, &report);
    let status = |id: &str| {
        of(&events, "job_finished")
            .into_iter()
            .find(|e| e["id"] == id)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status("flaky"), "succeeded");
    assert_eq!(status("slow"), "timed_out");
    assert_eq!(status("nope"), "start_failed");
    assert_eq!(status("dep"), "skipped");
    assert_eq!(status("killed"), "failed");
    let retry = of(&events, "retry_scheduled");
    assert!(retry
        .iter()
        .all(|e| e["delay_ms"].as_u64().unwrap() <= 10 && e["max_attempts"].as_u64().is_some()));
    let bad_end = of(&events, "attempt_finished")
        .into_iter()
        .find(|e| e["id"] == "bad")
        .unwrap();
    assert_eq!(bad_end["status"], "failed");
    assert_eq!(bad_end["exit_code"], 4);
    assert!(bad_end["max_rss_kib"].as_u64().unwrap() > 0, "{bad_end}");

    // A second run resumes what succeeded, appends to the same file, and still accounts for
    // every job exactly once: the resumed ones as `resumed`.
    let r = t.run(&[
        "run", "--events", "ev.jsonl", "--report", "r2.json", "--joblog", "log.csv", "--resume",
        "m.csv",
    ]);
    r.code(1);
    let all = read_events(&t.read("ev.jsonl"));
    let second_start = all
        .iter()
        .rposition(|e| e["event"] == "run_started")
        .unwrap();
    assert!(second_start > 0, "the file is appended to");
    let second = &all[second_start..];
    let report = t.json("r2.json");
    // ok and flaky succeeded; the others run again (dep after bad, which runs).
    assert_eq!(report["counts"]["resumed"], 2);
    check_stream_against_report(second, &report);
    t.assert_nothing_left();
}

#[test]
fn events_on_stdout_need_output_none() {
    let t = TestEnv::new();
    t.write("m.csv", "id,command\na,echo hi\n");
    for extra in [
        &[][..],
        &["--output", "tag"][..],
        &["--output-dir", "out"][..],
    ] {
        let mut args = vec!["run", "--events", "-"];
        args.extend_from_slice(extra);
        args.push("m.csv");
        let r = t.run(&args);
        r.code(2)
            .stderr_has("--events - writes the events to stdout");
        assert!(r.stdout.is_empty());
    }
    assert!(!t.path("out").exists(), "nothing ran");
    let r = t.run(&[
        "run", "--events", "-", "--output", "none", "--report", "r.json", "m.csv",
    ]);
    r.code(0);
    let events = read_events(&r.stdout);
    check_stream_against_report(&events, &t.json("r.json"));
}

/// Makes a FIFO at `path`.
fn mkfifo(path: &std::path::Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: plain system call on a valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

/// `N of M lines could not be written` in the warning: (N, M).
fn dropped_on_stderr(stderr: &str) -> (u64, u64) {
    let line = stderr
        .lines()
        .find(|l| l.contains("lines could not be written"))
        .unwrap_or_else(|| panic!("no drop warning in\n{stderr}"));
    let after = &line[line.find("--events").unwrap()..];
    let words: Vec<&str> = after.split_whitespace().collect();
    let n = words.iter().position(|w| *w == "of").unwrap();
    (words[n - 1].parse().unwrap(), words[n + 1].parse().unwrap())
}

#[test]
fn a_fifo_nobody_reads_never_stops_the_run() {
    let t = TestEnv::new();
    t.write(
        "m.csv",
        "id,command\na,true\nb,\"sh -c 'exit 3'\"\nc,sleep 0.2\n",
    );
    mkfifo(&t.path("ev.fifo"));
    let t0 = Instant::now();
    let r = t.run(&["run", "--events", "ev.fifo", "--report", "r.json", "m.csv"]);
    r.code(1);
    assert!(t0.elapsed() < Duration::from_secs(20), "{:?}", t0.elapsed());
    let (dropped, lines) = dropped_on_stderr(&r.stderr);
    assert_eq!(dropped, lines, "nobody read any line");
    // run_started, 3 × (attempt_started, attempt_finished, job_finished), run_finished.
    assert_eq!(lines, 11);
    assert_eq!(t.json("r.json")["exit_code"], 1);
    // The warning comes before the summary.
    let warned = r.stderr.find("lines could not be written").unwrap();
    assert!(
        warned < r.stderr.find("batchrun: 3 jobs in").unwrap(),
        "{}",
        r.stderr
    );
    t.assert_nothing_left();
}

#[test]
fn a_stalled_reader_loses_lines_that_are_counted_in_run_finished() {
    let t = TestEnv::new();
    // Enough lines to fill the pipe and the backlog of 4,096 before the last job starts,
    // which releases the reader.
    let mut m = String::from("id,command\n");
    for i in 0..1700 {
        m.push_str(&format!("j{i},true\n"));
    }
    m.push_str("last,\"sh -c 'touch release; sleep 0.3'\"\n");
    t.write("m.csv", m);
    let fifo = t.path("ev.fifo");
    mkfifo(&fifo);
    let release = t.path("release");
    // The reader opens the FIFO at once but reads nothing until `release` exists.
    let reader = std::thread::spawn(move || {
        let mut f = std::fs::File::open(&fifo).unwrap();
        let end = Instant::now() + PATIENCE;
        while !release.exists() {
            assert!(Instant::now() < end, "release never appeared");
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut text = String::new();
        std::io::Read::read_to_string(&mut f, &mut text).unwrap();
        text
    });
    let r = t.run(&[
        "run", "-j", "4", "--output", "none", "--events", "ev.fifo", "m.csv",
    ]);
    r.code(0);
    let text = reader.join().unwrap();
    let events = read_events(&text);
    let (dropped, lines) = dropped_on_stderr(&r.stderr);
    assert!(dropped > 0);
    assert_eq!(
        events.len() as u64 + dropped,
        lines,
        "every line is written or counted"
    );
    let end = events.last().unwrap();
    assert_eq!(end["event"], "run_finished", "{end}");
    assert_eq!(end["dropped"], dropped, "{end}");
    assert_eq!(end["exit_code"], 0);
    assert_eq!(events[0]["event"], "run_started");
}

#[test]
fn a_signal_stop_is_in_the_stream() {
    let t = TestEnv::new();
    t.write(
        "m.csv",
        "id,command\nw,\"sh -c 'touch started; sleep 30'\"\nq,true\n",
    );
    let args = [
        "run", "-j", "1", "--grace", "5s", "--events", "ev.jsonl", "--report", "r.json", "m.csv",
    ];
    let mut live = Live::start(t.cmd(&args), &args);
    t.wait_for_file("started");
    kill(live.pid(), libc::SIGTERM);
    live.wait_stderr("interrupted");
    kill(live.pid(), libc::SIGTERM);
    let r = live.finish();
    r.code(130);
    let events = read_events(&t.read("ev.jsonl"));
    check_stream_against_report(&events, &t.json("r.json"));
    let stops = of(&events, "stopping");
    assert_eq!(stops.len(), 2, "{stops:?}");
    assert_eq!(stops[0]["reason"], "signal");
    assert_eq!(stops[0]["action"], "drain");
    assert_eq!(stops[0]["signal"], 15);
    assert_eq!(stops[0]["running"], 1);
    assert_eq!(stops[1]["reason"], "second_signal");
    assert_eq!(stops[1]["action"], "terminate");
    assert_eq!(stops[1]["grace_ms"], 5000);
    let end = events.last().unwrap();
    assert_eq!(end["outcome"], "interrupted");
    assert_eq!(end["exit_code"], 130);
    t.assert_nothing_left();
}

#[test]
fn fail_fast_and_the_deadline_say_why_the_run_stops() {
    let t = TestEnv::new();
    t.write("m.csv", "id,command\nf,false\nw,sleep 30\n");
    t.run(&[
        "run",
        "-j",
        "1",
        "--fail-fast",
        "--events",
        "a.jsonl",
        "m.csv",
    ])
    .code(1);
    let stops = read_events(&t.read("a.jsonl"));
    let stop = of(&stops, "stopping");
    assert_eq!(stop.len(), 1);
    assert_eq!(stop[0]["reason"], "fail_fast");
    assert_eq!(stop[0]["limit"], 1);

    t.write("d.csv", "id,command\nw,sleep 30\n");
    t.run(&["run", "--deadline", "500ms", "--events", "d.jsonl", "d.csv"])
        .code(124);
    let events = read_events(&t.read("d.jsonl"));
    let stop = of(&events, "stopping");
    assert_eq!(stop[0]["reason"], "deadline");
    assert_eq!(stop[0]["running"], 1);
    assert_eq!(events.last().unwrap()["outcome"], "deadline_exceeded");
    t.assert_nothing_left();
}

/// The metrics file, parsed by a Prometheus text-format parser: each sample by name and labels
/// (sorted), after checking that every line is a HELP, a TYPE or a sample, that every metric
/// has HELP and TYPE gauge, and that every sample carries the `run` label.
fn parse_metrics(text: &str, run: &str) -> BTreeMap<String, f64> {
    use prometheus_parse::{LineInfo, Scrape, Value};
    let mut typed = HashMap::new();
    for line in text.lines() {
        match LineInfo::parse(line) {
            LineInfo::Type {
                metric_name,
                sample_type,
                ..
            } => {
                assert!(matches!(sample_type, prometheus_parse::SampleType::Gauge));
                typed.insert(metric_name, ());
            }
            LineInfo::Doc { .. } | LineInfo::Sample { .. } => {}
            other => panic!("not a line of the text format: {line:?} ({other:?})"),
        }
    }
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    let mut out = BTreeMap::new();
    for s in scrape.samples {
        assert!(
            scrape.docs.contains_key(&s.metric),
            "no HELP for {}",
            s.metric
        );
        assert!(typed.contains_key(&s.metric), "no TYPE for {}", s.metric);
        assert!(s.metric.starts_with("batchrun_"), "{}", s.metric);
        assert_eq!(s.labels.get("run"), Some(run), "{}", s.metric);
        let v = match s.value {
            Value::Gauge(v) => v,
            other => panic!("{}: not a gauge: {other:?}", s.metric),
        };
        let key = match s.labels.get("status") {
            Some(st) => format!("{}{{status={st}}}", s.metric),
            None => s.metric.clone(),
        };
        assert!(out.insert(key, v).is_none(), "a sample twice in\n{text}");
    }
    out
}

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// This process's umask, from `/proc/self/status`.
fn umask() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("Umask:")).unwrap();
    u32::from_str_radix(line.split_whitespace().nth(1).unwrap(), 8).unwrap()
}

#[test]
fn metrics_follow_the_textfile_collector_convention() {
    use std::os::unix::fs::PermissionsExt;
    let t = TestEnv::new();
    t.write(
        "nightly.csv",
        "id,command,retries\nok,true,\nbad,false,2\ndep,true,\n",
    );
    let run = |args: &[&str]| {
        let mut all = vec!["run", "--retry-delay", "10ms", "--metrics", "m.prom"];
        all.extend_from_slice(args);
        t.run(&all)
    };
    let before = now_secs();
    run(&["nightly.csv"]).code(1);
    let m = parse_metrics(&t.read("m.prom"), "nightly");
    for st in STATUSES {
        assert!(
            m.contains_key(&format!("batchrun_jobs{{status={st}}}")),
            "{m:?}"
        );
    }
    assert_eq!(m["batchrun_jobs{status=succeeded}"], 2.0);
    assert_eq!(m["batchrun_jobs{status=failed}"], 1.0);
    assert_eq!(m["batchrun_jobs{status=timed_out}"], 0.0);
    assert_eq!(m["batchrun_last_run_exit_code"], 1.0);
    assert_eq!(m["batchrun_last_run_attempts"], 5.0);
    assert_eq!(m["batchrun_last_run_retries"], 2.0);
    assert_eq!(m["batchrun_run_in_progress"], 0.0);
    let ended = m["batchrun_last_run_timestamp_seconds"];
    assert!(
        ended >= before - 1.0 && ended <= now_secs() + 1.0,
        "{ended}"
    );
    assert!(m["batchrun_last_run_duration_seconds"] >= 0.01);
    assert!(
        !m.contains_key("batchrun_last_success_timestamp_seconds"),
        "no run succeeded yet"
    );
    let mode = std::fs::metadata(t.path("m.prom"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(
        mode,
        0o666 & !umask(),
        "the collector must be able to read it"
    );

    // A run that succeeds sets the last success; one that fails after it keeps it.
    t.write("nightly.csv", "id,command\nok,true\n");
    run(&["nightly.csv"]).code(0);
    let m = parse_metrics(&t.read("m.prom"), "nightly");
    let success = m["batchrun_last_success_timestamp_seconds"];
    assert_eq!(success, m["batchrun_last_run_timestamp_seconds"]);
    assert_eq!(m["batchrun_last_run_exit_code"], 0.0);
    std::thread::sleep(Duration::from_millis(20));
    t.write("nightly.csv", "id,command\nbad,false\n");
    run(&["nightly.csv"]).code(1);
    let m = parse_metrics(&t.read("m.prom"), "nightly");
    assert_eq!(m["batchrun_last_success_timestamp_seconds"], success);
    assert!(m["batchrun_last_run_timestamp_seconds"] > success);
    assert_eq!(m["batchrun_last_run_exit_code"], 1.0);

    // --metrics-label names the run (quotes in it are escaped: see the unit test).
    run(&["--metrics-label", "eu night", "nightly.csv"]).code(1);
    let m = parse_metrics(&t.read("m.prom"), "eu night");
    assert_eq!(m["batchrun_jobs{status=failed}"], 1.0);
    assert!(
        !m.contains_key("batchrun_last_success_timestamp_seconds"),
        "another label's success is not this one's"
    );
    t.assert_nothing_left();
}

#[test]
fn metrics_are_refreshed_on_every_heartbeat_during_the_run() {
    let t = TestEnv::new();
    t.write("m.csv", "id,command\nok,true\n");
    t.run(&["run", "--metrics", "m.prom", "m.csv"]).code(0);
    let first = parse_metrics(&t.read("m.prom"), "m");
    t.write(
        "m.csv",
        "id,command\nbad,false\nw,\"sh -c 'while [ ! -e release ]; do sleep 0.02; done'\"\n",
    );
    let args = [
        "run",
        "--heartbeat",
        "100ms",
        "--metrics",
        "m.prom",
        "m.csv",
    ];
    let child = t.spawn(&args);
    let end = Instant::now() + PATIENCE;
    let during = loop {
        let m = parse_metrics(&t.read("m.prom"), "m");
        let get = |k: &str| m.get(k).copied().unwrap_or(-1.0);
        if get("batchrun_run_in_progress") == 1.0 && get("batchrun_jobs{status=failed}") == 1.0 {
            break m;
        }
        assert!(Instant::now() < end, "never refreshed: {m:?}");
        std::thread::sleep(Duration::from_millis(20));
    };
    // The last run's figures stay as they were until this one ends.
    for name in [
        "batchrun_last_run_exit_code",
        "batchrun_last_run_timestamp_seconds",
        "batchrun_last_success_timestamp_seconds",
        "batchrun_last_run_attempts",
    ] {
        assert_eq!(during[name], first[name], "{name}");
    }
    assert_eq!(during["batchrun_jobs{status=succeeded}"], 0.0);
    t.write("release", "");
    Run::wait(child, &args).code(1);
    let last = parse_metrics(&t.read("m.prom"), "m");
    assert_eq!(last["batchrun_run_in_progress"], 0.0);
    assert_eq!(last["batchrun_last_run_exit_code"], 1.0);
    assert_eq!(
        last["batchrun_last_success_timestamp_seconds"],
        first["batchrun_last_success_timestamp_seconds"]
    );
}

#[test]
fn a_metrics_file_that_cannot_be_written_stops_the_run_before_any_job() {
    let t = TestEnv::new();
    t.write("m.csv", "id,command\na,touch ran\n");
    t.run(&["run", "--metrics", "no/such/dir/m.prom", "m.csv"])
        .code(3)
        .stderr_has("metrics file");
    assert!(!t.path("ran").exists());
    t.run(&["run", "--metrics", "m.csv", "m.csv"])
        .code(2)
        .stderr_has("--metrics m.csv is the manifest itself");
    t.run(&["run", "--metrics-label", "x", "m.csv"]).code(2);
    assert!(!t.path("ran").exists());
}

#[test]
fn merge_writes_the_metrics_of_the_whole_run() {
    let t = TestEnv::new();
    let mut m = String::from("id,command\n");
    for i in 0..12 {
        let cmd = if i == 5 { "false" } else { "true" };
        m.push_str(&format!("j{i},{cmd}\n"));
    }
    t.write("nightly.csv", m);
    for k in 1..=3 {
        let shard = format!("{k}/3");
        let report = format!("s{k}.json");
        let r = t.run(&["run", "--shard", &shard, "--report", &report, "nightly.csv"]);
        assert!(matches!(r.code, Some(0 | 1)), "{}", r.stderr);
    }
    let r = t.run(&[
        "merge",
        "--metrics",
        "merged.prom",
        "--max-listed",
        "0",
        "s1.json",
        "s2.json",
        "s3.json",
    ]);
    r.code(1).stderr_has("batchrun: and 1 more");
    let m = parse_metrics(&t.read("merged.prom"), "nightly");
    assert_eq!(m["batchrun_jobs{status=succeeded}"], 11.0);
    assert_eq!(m["batchrun_jobs{status=failed}"], 1.0);
    assert_eq!(m["batchrun_last_run_exit_code"], 1.0);
    assert_eq!(m["batchrun_last_run_attempts"], 12.0);
}

/// A manifest of `n` jobs that fail, each saying why on stderr.
fn failures(n: usize) -> String {
    let mut m = String::from("id,shell,command\n");
    for i in 0..n {
        m.push_str(&format!("f{i},yes,echo why-{i} >&2; exit 1\n"));
    }
    m
}

#[test]
fn many_failures_are_listed_up_to_max_listed() {
    let t = TestEnv::new();
    t.write("m.csv", failures(328));
    let r = t.run(&[
        "run", "-j", "4", "--output", "none", "--report", "r.json", "--report", "r.md", "--joblog",
        "log.csv", "m.csv",
    ]);
    r.code(1);
    let listed = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("batchrun: failed "))
        .count();
    assert_eq!(listed, 20, "{}", r.stderr);
    r.stderr_has("batchrun: and 308 more: see r.json\n");
    assert!(r.stderr.lines().count() < 70, "{}", r.stderr);
    let md = t.read("r.md");
    assert_eq!(md.matches("\n### `").count(), 20);
    assert!(md.contains("and 308 more: see r.json"), "{md}");
    assert_eq!(t.json("r.json")["jobs"].as_array().unwrap().len(), 328);
    assert_eq!(t.json("r.json")["counts"]["failed"], 328);
    assert_eq!(t.read("log.csv").lines().count(), 329);

    // Without a JSON report the joblog is named; --max-listed changes the bound.
    let r = t.run(&[
        "run",
        "-j",
        "4",
        "--output",
        "none",
        "--max-listed",
        "3",
        "--joblog",
        "log2.csv",
        "m.csv",
    ]);
    r.code(1)
        .stderr_has("batchrun: and 325 more: see log2.csv\n");
    // With neither, the flag is named.
    let r = t.run(&[
        "run",
        "-j",
        "4",
        "--output",
        "none",
        "--max-listed",
        "2",
        "m.csv",
    ]);
    r.code(1)
        .stderr_has("batchrun: and 326 more (not listed: --max-listed 2)\n");
}

#[test]
fn quiet_prints_a_failing_jobs_tail_once_and_the_output_of_max_listed_jobs() {
    let t = TestEnv::new();
    t.write(
        "m.csv",
        "id,shell,command\nok,yes,echo fine >&2\nbad,yes,echo why-bad >&2; exit 5\n",
    );
    let r = t.run(&["run", "-q", "m.csv"]);
    r.code(1)
        .stderr_has("batchrun: failed bad: exit status 5\n");
    assert_eq!(r.stderr.matches("why-bad").count(), 1, "{}", r.stderr);
    assert!(!r.stderr.contains("fine"));
    // Without the job's output printed (--output none) the summary keeps the tail.
    let r = t.run(&["run", "-q", "--output", "none", "m.csv"]);
    r.code(1)
        .stderr_has("batchrun: failed bad: exit status 5\n    | why-bad\n");
    assert_eq!(r.stderr.matches("why-bad").count(), 1, "{}", r.stderr);

    // Many failures under -q: the output of the first --max-listed only, and each tail once.
    t.write("many.csv", failures(30));
    let r = t.run(&[
        "run",
        "-q",
        "-j",
        "2",
        "--max-listed",
        "5",
        "--report",
        "r.json",
        "many.csv",
    ]);
    r.code(1)
        .stderr_has("(-q, --max-listed 5): see r.json\n")
        .stderr_has("batchrun: and 25 more: see r.json\n");
    let whys = r.stderr.lines().filter(|l| l.contains("why-")).count();
    // Five printed as output, and the listed ones whose output was not printed with their
    // tails: never more than 10 lines, never one tail twice.
    assert!((5..=10).contains(&whys), "{}", r.stderr);
    for i in 0..30 {
        assert!(
            r.stderr.matches(&format!("why-{i}\n")).count() <= 1,
            "{}",
            r.stderr
        );
    }
    assert!(r.stderr.lines().count() < 20, "{}", r.stderr);
}

#[test]
fn quiet_still_shows_a_failing_on_finish_hook() {
    let t = TestEnv::new();
    t.write("m.csv", "id,command\nok,true\n");
    let r = t.run(&["run", "-q", "--on-finish", "exit 7", "m.csv"]);
    r.code(0).stderr_has(
        "error: --on-finish: the command exited with status 7 (the exit code is unchanged)",
    );
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    let r = t.run(&[
        "run",
        "-q",
        "--on-finish",
        "sleep 30",
        "--on-finish-timeout",
        "200ms",
        "m.csv",
    ]);
    r.code(0)
        .stderr_has("--on-finish: the command did not finish within 200ms");
    let r = t.run(&["run", "-q", "--on-finish", "true", "m.csv"]);
    r.code(0);
    assert_eq!(r.stderr, "");
    t.assert_nothing_left();
}

#[test]
fn a_run_longer_than_a_chunk_of_results_reports_every_job_as_its_stream_did() {
    // Past 4,096 plain results a run keeps them in a temporary file (issue 19: a long run's
    // memory stays flat) and reads them back for the report: every job's figures there are
    // the ones its `job_finished` event gave as it ended.
    const N: usize = 6_000;
    let t = TestEnv::new();
    let mut m = String::from("id,command\n");
    for k in 0..N {
        let cmd = if k % 9 == 4 {
            "/bin/false"
        } else {
            "/bin/true"
        };
        m.push_str(&format!("j{k},{cmd}\n"));
    }
    t.write("m.csv", m);
    let r = t.run(&[
        "run", "-q", "-j", "4", "--events", "ev.jsonl", "--report", "r.json", "m.csv",
    ]);
    r.code(1);
    let report = t.json("r.json");
    let events = read_events(&t.read("ev.jsonl"));
    let finished: HashMap<&str, &serde_json::Value> = of(&events, "job_finished")
        .into_iter()
        .map(|e| (e["id"].as_str().unwrap(), e))
        .collect();
    let jobs = report["jobs"].as_array().unwrap();
    assert_eq!((jobs.len(), finished.len()), (N, N));
    for (k, j) in jobs.iter().enumerate() {
        assert_eq!(j["id"], format!("j{k}"));
        let want = if k % 9 == 4 { "failed" } else { "succeeded" };
        assert_eq!(j["status"], want, "job {k}");
        let e = finished[format!("j{k}").as_str()];
        for field in [
            "status",
            "attempts",
            "exit_code",
            "duration_ms",
            "error",
            "max_rss_kib",
            "user_ms",
            "system_ms",
        ] {
            assert_eq!(e[field], j[field], "job {k}: {field} differs: {e} / {j}");
        }
        assert!(j["max_rss_kib"].as_u64().unwrap() > 0, "job {k}: {j}");
    }
    assert_eq!(
        report["counts"]["failed"],
        (0..N).filter(|k| k % 9 == 4).count()
    );
}
