/*!
`--ping URL`: health-check pings in the healthchecks.io / runitor convention. `URL/start` when
the run begins (the manifest is valid and the lock is taken); at the end `URL` after exit 0,
`URL/fail` after any other exit (an invalid manifest included), and nothing after exit 75 (the
lock is held by another run, which pings). The final ping's body is the run's summary: the
counts line, the exit code, every job that went wrong with its stderr tail, at most
[`MAX_BODY`] bytes.

A ping never changes batchrun's exit code. Each is a `POST` over `http://` or `https://`
(rustls, Mozilla's roots as `webpki-roots` ships them, `HTTPS_PROXY` and friends honoured),
tried up to [`TRIES`] times within [`BUDGET`]; one that fails is a warning that `-q` does not
hide (a broken notifier must not be silent in the cron runs it is for). `/start` is sent from
a thread of its own, so the jobs do not wait for it; the final ping waits for it first, so the
two always arrive in order.
*/

use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::event::summary::RunSummary;
use crate::model::error::Error;
use crate::model::exit::Exit;

/// The most a ping's body holds (healthchecks.io keeps up to 100 kB of it).
pub const MAX_BODY: usize = 100_000;

/// How long one ping may take, its retries included.
pub const BUDGET: Duration = Duration::from_secs(10);

/// How often a ping is tried.
pub const TRIES: u32 = 3;

/// Checks a `--ping` URL: `http://` or `https://` with a host. Returns it without a trailing
/// `/` (the suffixes `/start` and `/fail` are appended to it).
pub fn check_url(url: &str) -> Result<String, String> {
    let bad = |why: &str| {
        Err(format!(
            "--ping '{url}': {why} (expected an http:// or https:// URL, e.g. https://hc-ping.com/UUID)"
        ))
    };
    let lower = url.to_ascii_lowercase();
    let Some(rest) = ["http://", "https://"]
        .iter()
        .find_map(|s| lower.strip_prefix(s))
    else {
        return bad("not an http:// or https:// URL");
    };
    if rest.is_empty() || rest.starts_with(['/', '?', '#']) {
        return bad("no host");
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("it holds a space or a control character");
    }
    if url.contains(['?', '#']) {
        return bad("a query or fragment cannot take /start or /fail after it");
    }
    match ureq::http::Uri::try_from(url) {
        Ok(u) if u.host().is_some_and(|h| !h.is_empty()) => {
            Ok(url.trim_end_matches('/').to_string())
        }
        Ok(_) => bad("no host"),
        Err(e) => bad(&e.to_string()),
    }
}

/// The pings of one run or merge.
#[derive(Debug)]
pub struct Pinger {
    url: String,
    /// `/start`, being sent.
    start: Option<JoinHandle<()>>,
}

impl Pinger {
    /// Pings for `url` (checked by [`check_url`]).
    pub fn new(url: &str) -> Pinger {
        Pinger {
            url: url.to_string(),
            start: None,
        }
    }

    /// Sends `URL/start`, on a thread of its own (once; a thread that cannot be started sends
    /// it here).
    pub fn start(&mut self) {
        if self.start.is_some() {
            return;
        }
        let url = format!("{}/start", self.url);
        let send = move || warn_on_failure(&url, send(&url, String::new()));
        match std::thread::Builder::new()
            .name("ping".into())
            .spawn(send.clone())
        {
            Ok(h) => self.start = Some(h),
            Err(_) => send(),
        }
    }

    /// The final ping of a run that ended with `exit`: `URL` or `URL/fail` with `body`,
    /// nothing for exit 75. Waits for `/start` first.
    pub fn finish(mut self, exit: Exit, body: String) {
        if let Some(h) = self.start.take() {
            let _ = h.join();
        }
        let url = match exit {
            Exit::Locked => return,
            Exit::Success => self.url.clone(),
            _ => format!("{}/fail", self.url),
        };
        warn_on_failure(&url, send(&url, body));
    }
}

/// Says on stderr, whatever `-q` says, that a ping failed.
fn warn_on_failure(url: &str, result: Result<(), String>) {
    if let Err(e) = result {
        crate::output::console::warn_always(&format!(
            "--ping: {url}: {e} (the run's exit code is unchanged)"
        ));
    }
}

/// `POST`s `body` to `url`: up to [`TRIES`] times within [`BUDGET`], again only after an error
/// that may pass (no answer, a 5xx or 429).
fn send(url: &str, body: String) -> Result<(), String> {
    let t0 = Instant::now();
    let mut last = String::new();
    for attempt in 1..=TRIES {
        let left = BUDGET.saturating_sub(t0.elapsed());
        if left.is_zero() {
            break;
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(left))
            .http_status_as_error(false)
            .user_agent(concat!("batchrun/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        let result = agent
            .post(url)
            .header("Content-Type", "text/plain; charset=utf-8")
            .send(body.as_bytes());
        let again = match result {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => {
                let status = r.status();
                last = format!("HTTP {status}");
                status.is_server_error() || status.as_u16() == 429
            }
            Err(e) => {
                last = e.to_string();
                !matches!(e, ureq::Error::BadUri(_) | ureq::Error::Http(_))
            }
        };
        if !again || attempt == TRIES {
            break;
        }
        let pause = Duration::from_millis(500 * u64::from(attempt));
        std::thread::sleep(pause.min(BUDGET.saturating_sub(t0.elapsed())));
    }
    let tries = if last.starts_with("HTTP 4") {
        String::new()
    } else {
        format!(
            " (tried {TRIES} times within {})",
            humantime::format_duration(BUDGET)
        )
    };
    Err(format!("{last}{tries}"))
}

/// A body that stops at [`MAX_BODY`] bytes.
struct Body {
    text: String,
    full: bool,
}

impl Body {
    /// Room kept for the closing note.
    const ROOM: usize = 200;

    fn new() -> Body {
        Body {
            text: String::new(),
            full: false,
        }
    }

    /// Adds `line` (and a newline) if it fits, leaving room for the closing note; once one
    /// does not, no more are added.
    fn line(&mut self, line: &str) -> bool {
        if self.full || self.text.len() + line.len() + 1 > MAX_BODY - Self::ROOM {
            self.full = true;
            return false;
        }
        self.text.push_str(line);
        self.text.push('\n');
        true
    }

    /// The text, with `note` when something was left out (at most [`Body::ROOM`] bytes).
    fn done(mut self, note: impl FnOnce() -> String) -> String {
        if self.full {
            self.text.push_str(&note());
            self.text.push('\n');
        }
        self.text
    }
}

/// The final ping's body for a run (or merge) that has a summary: the counts line and the
/// exit code first, then every job that went wrong, with the last lines of its stderr, as long
/// as they fit in [`MAX_BODY`] bytes.
pub fn run_body(s: &RunSummary, exit: Exit) -> String {
    let mut b = Body::new();
    b.line(&format!(
        "batchrun: {}",
        crate::output::text::counts_line(s)
    ));
    b.line(&format!("exit code: {}", exit.code()));
    b.line(&format!("manifest: {}", s.manifest));
    for e in &s.internal_errors {
        b.line(&format!("batchrun: error: {e}"));
    }
    let mut wrong = (0..s.results.len()).filter(|&i| s.results.went_wrong(i));
    let mut left_out = 0;
    for i in wrong.by_ref() {
        let r = s.results.job(i);
        let mut fits = b.line(&format!(
            "batchrun: {} {}: {}",
            crate::output::text::label(s, i, &r),
            s.jobs.id(i),
            r.error.as_deref().unwrap_or("")
        ));
        for line in r.stderr_tail.iter().flat_map(|t| t.lines()) {
            fits = fits && b.line(&format!("    | {line}"));
        }
        if !fits {
            left_out = 1;
            break;
        }
    }
    left_out += wrong.count();
    b.done(|| {
        format!(
            "… {} not sent in full (a ping holds at most {MAX_BODY} bytes): every job is in the reports",
            crate::util::text::plural(left_out, "more job")
        )
    })
}

/// The final ping's body when batchrun ended with an error before or around the run (an invalid
/// manifest: every problem, as long as they fit).
pub fn error_body(e: &Error) -> String {
    let mut b = Body::new();
    b.line(&format!("batchrun: {e}"));
    b.line(&format!("exit code: {}", e.exit().code()));
    let lines: Vec<String> = match e {
        Error::Invalid { problems, .. } => problems.iter().map(|p| p.to_string()).collect(),
        Error::Usage(messages) if messages.len() > 1 => {
            messages.iter().map(|m| format!("batchrun: {m}")).collect()
        }
        _ => Vec::new(),
    };
    let sent = lines.iter().take_while(|l| b.line(l)).count();
    b.done(|| {
        format!(
            "… {} more not sent (a ping holds at most {MAX_BODY} bytes)",
            lines.len() - sent
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            check_url("https://hc-ping.com/abc/").unwrap(),
            "https://hc-ping.com/abc"
        );
        assert_eq!(
            check_url("HTTP://127.0.0.1:8000/p").unwrap(),
            "HTTP://127.0.0.1:8000/p"
        );
        for bad in [
            "hc-ping.com/abc",
            "ftp://x/y",
            "https://",
            "https:///x",
            "https://a b/",
            "https://x/y?z=1",
        ] {
            let e = check_url(bad).unwrap_err();
            assert!(e.starts_with(&format!("--ping '{bad}': ")), "{e}");
        }
    }

    #[test]
    fn bodies_are_bounded() {
        let mut b = Body::new();
        let line = "x".repeat(999);
        let fitted = (0..1000).take_while(|_| b.line(&line)).count();
        assert_eq!(fitted, 99);
        assert!(
            !b.line("short"),
            "nothing is added once one line did not fit"
        );
        let text = b.done(|| "… and more".into());
        assert!(text.len() <= MAX_BODY, "{}", text.len());
        assert!(text.ends_with("x\n… and more\n"));
    }

    #[test]
    fn https_is_built_in() {
        // A port nobody listens on: the error is the connection's, not a missing TLS.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let e = send(&format!("https://127.0.0.1:{port}/x"), String::new()).unwrap_err();
        assert!(e.contains("refused") || e.contains("connect"), "{e}");
        assert!(!e.to_lowercase().contains("tls"), "{e}");
    }
}
