//! `--ping URL`: health-check pings against a real HTTP server on 127.0.0.1 that the test
//! starts and that records every request: `/start` then the URL on success, `/fail` on a failing
//! run, an invalid manifest or bad flags, nothing on exit 75, retries on a 5xx, and a warning
//! that `-q` does not hide when nobody answers, with batchrun's exit code unchanged.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::util::*;

/// One request the server received.
#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    body: String,
}

/// An HTTP server on 127.0.0.1 that answers every request (the first `failures` with a 500,
/// the rest with 200) and records it. It stops when dropped, or after [`PATIENCE`].
struct Server {
    port: u16,
    requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(failures: usize) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (rec, stopped) = (Arc::clone(&requests), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            let t0 = Instant::now();
            let mut answered = 0;
            while !stopped.load(Ordering::SeqCst) && t0.elapsed() < PATIENCE {
                let Ok((stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                stream.set_nonblocking(false).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(10)))
                    .unwrap();
                let Some(req) = read_request(&stream) else {
                    continue;
                };
                rec.lock().unwrap().push(req);
                answered += 1;
                let status = if answered <= failures {
                    "500 Internal Server Error"
                } else {
                    "200 OK"
                };
                let mut s = &stream;
                let _ = write!(
                    s,
                    "HTTP/1.1 {status}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK"
                );
            }
        });
        Server {
            port,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    /// The URL of `path` on this server.
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// `METHOD PATH` of every request so far.
    fn lines(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// The body of the last request.
    fn last_body(&self) -> String {
        self.requests()
            .last()
            .map(|r| r.body.clone())
            .unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads one HTTP/1.1 request (headers and a `Content-Length` body).
fn read_request(stream: &std::net::TcpStream) -> Option<Request> {
    let mut r = BufReader::new(stream);
    let mut first = String::new();
    r.read_line(&mut first).ok()?;
    let mut parts = first.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut length = 0;
    loop {
        let mut line = String::new();
        r.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().ok()?;
            }
        }
    }
    let mut body = vec![0; length];
    r.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        path,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// Runs batchrun with no proxy from the environment (the pings must reach 127.0.0.1 directly).
fn run(t: &TestEnv, args: &[&str]) -> Run {
    let mut c = t.cmd(args);
    for v in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        c.env_remove(v);
    }
    let child = c
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    Run::wait(child, args)
}

#[test]
fn start_then_success_with_the_summary() {
    let t = TestEnv::new();
    let s = Server::start(0);
    t.write("m.csv", "id,command\na,true\nb,true\n");
    // A trailing slash is not doubled.
    let url = s.url("/ping/abc/");
    let r = run(&t, &["run", "-q", "--ping", &url, "m.csv"]);
    r.code(0);
    assert_eq!(r.stderr, "", "-q and a working ping: nothing on stderr");
    assert_eq!(s.lines(), ["POST /ping/abc/start", "POST /ping/abc"]);
    let body = s.last_body();
    assert!(body.starts_with("batchrun: 2 jobs in "), "{body}");
    assert!(
        body.contains(": 2 succeeded; succeeded\nexit code: 0\nmanifest: m.csv\n"),
        "{body}"
    );
}

#[test]
fn a_failing_run_pings_fail_with_the_failures_tails() {
    let t = TestEnv::new();
    let s = Server::start(0);
    t.write(
        "m.csv",
        "id,command\nok,true\nbad,sh -c 'echo first; echo boom >&2; exit 3'\n",
    );
    let r = run(&t, &["run", "--ping", &s.url("/p"), "m.csv"]);
    r.code(1);
    assert_eq!(s.lines(), ["POST /p/start", "POST /p/fail"]);
    let body = s.last_body();
    for part in [
        "1 succeeded, 1 failed; failed\n",
        "exit code: 1\n",
        "batchrun: failed bad: exit status 3\n    | boom\n",
    ] {
        assert!(body.contains(part), "{part:?} not in {body}");
    }
}

#[test]
fn an_invalid_manifest_or_bad_flags_ping_fail_without_start() {
    let t = TestEnv::new();
    let s = Server::start(0);
    t.write("m.csv", "id,command,timeout\na,true,5x\nb,true,\nb,true,\n");
    let url = s.url("/p");
    run(&t, &["run", "--ping", &url, "m.csv"]).code(2);
    assert_eq!(s.lines(), ["POST /p/fail"]);
    let body = s.last_body();
    for part in [
        "batchrun: 2 problems in m.csv; nothing was run\nexit code: 2\n",
        "m.csv:2: column 'timeout': '5x' is not a duration",
        "m.csv:4: column 'id': duplicate id 'b'",
    ] {
        assert!(body.contains(part), "{part:?} not in {body}");
    }
    // A manifest that cannot be read, and a bad flag, alert too.
    run(&t, &["run", "--ping", &url, "missing.csv"]).code(2);
    assert!(s.last_body().contains("cannot read manifest missing.csv"));
    run(&t, &["run", "--ping", &url, "--grace", "never", "m.csv"]).code(2);
    assert!(s.last_body().contains("--grace"), "{}", s.last_body());
    assert_eq!(s.lines(), ["POST /p/fail"; 3]);
    // A bad --ping URL is a usage error of its own (and nothing can be pinged).
    run(&t, &["run", "--ping", "hc-ping.com/x", "m.csv"])
        .code(2)
        .stderr_has("--ping 'hc-ping.com/x': not an http:// or https:// URL");
}

#[test]
fn a_held_lock_and_a_dry_run_ping_nothing() {
    let t = TestEnv::new();
    let s = Server::start(0);
    t.write("m.csv", "id,command\na,touch ran\n");
    let lock = std::fs::File::create(t.path("l")).unwrap();
    lock.try_lock().unwrap();
    let url = s.url("/p");
    run(&t, &["run", "--lock", "l", "--ping", &url, "m.csv"]).code(75);
    run(&t, &["run", "--dry-run", "--ping", &url, "m.csv"]).code(0);
    assert!(!t.path("ran").exists());
    assert_eq!(s.lines(), Vec::<String>::new());
    // Once the lock is free the run pings as usual.
    drop(lock);
    run(&t, &["run", "--lock", "l", "--ping", &url, "m.csv"]).code(0);
    assert_eq!(s.lines(), ["POST /p/start", "POST /p"]);
}

#[test]
fn a_server_error_is_retried() {
    let t = TestEnv::new();
    let s = Server::start(2);
    t.write("m.csv", "id,command\na,true\n");
    let r = run(&t, &["run", "-q", "--ping", &s.url("/p"), "m.csv"]);
    r.code(0);
    assert_eq!(r.stderr, "");
    assert_eq!(
        s.lines(),
        ["POST /p/start", "POST /p/start", "POST /p/start", "POST /p"]
    );
}

#[test]
fn nobody_answering_is_a_warning_under_quiet_and_changes_no_exit_code() {
    let t = TestEnv::new();
    // A port nobody listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/p");
    t.write("ok.csv", "id,command\na,true\n");
    let r = run(&t, &["run", "-q", "--ping", &url, "ok.csv"]);
    r.code(0)
        .stderr_has(&format!(" warn: --ping: {url}/start: "))
        .stderr_has(&format!(" warn: --ping: {url}: "))
        .stderr_has("(tried 3 times within 10s) (the run's exit code is unchanged)");
    t.write("bad.csv", "id,command\na,false\n");
    run(&t, &["run", "-q", "--ping", &url, "bad.csv"])
        .code(1)
        .stderr_has(&format!(" warn: --ping: {url}/fail: "));
}

#[test]
fn merge_pings_without_start() {
    let t = TestEnv::new();
    let s = Server::start(0);
    t.write("m.csv", "id,command\na,true\nb,false\nc,true\nd,true\n");
    for k in ["1", "2"] {
        let shard = format!("{k}/2");
        let report = format!("s{k}.json");
        run(
            &t,
            &["run", "--shard", &shard, "--report", &report, "m.csv"],
        );
    }
    let r = run(&t, &["merge", "--ping", &s.url("/p"), "s1.json", "s2.json"]);
    r.code(1);
    assert_eq!(s.lines(), ["POST /p/fail"]);
    let body = s.last_body();
    assert!(body.contains("batchrun: 4 jobs in "), "{body}");
    assert!(body.contains("exit code: 1\n"), "{body}");
    assert!(body.contains("batchrun: failed b: exit status 1"), "{body}");
}
