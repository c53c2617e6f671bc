/*!
The words of the progress display, as pure functions the console calls: an ETA from the
observed completion rate, the message with failures and pending retries, and the line that
says where the reports were written.
*/

use std::path::PathBuf;
use std::time::Duration;

use crate::model::config::ReportFormat;

/// No ETA before this many jobs have finished: the rate of the first one or two says little.
pub const ETA_MIN_DONE: u64 = 3;
/// No ETA before the run has gone on this long.
pub const ETA_MIN_ELAPSED: Duration = Duration::from_secs(5);

/// The time left, from the completion rate so far (`done` of `total` jobs in `elapsed`);
/// `None` until at least [`ETA_MIN_DONE`] jobs have finished and [`ETA_MIN_ELAPSED`] has
/// passed, and when nothing is left. Rounded up to whole seconds.
///
/// # Examples
///
/// ```text
/// use std::time::Duration;
/// use batchrun::progress::eta;
/// assert_eq!(eta(0, 2, Duration::from_secs(30)), None);
/// assert_eq!(eta(10, 40, Duration::from_secs(20)), Some(Duration::from_secs(60)));
/// ```
pub fn eta(done: u64, total: u64, elapsed: Duration) -> Option<Duration> {
    if done < ETA_MIN_DONE || elapsed < ETA_MIN_ELAPSED || done >= total {
        return None;
    }
    let secs = elapsed.as_secs_f64() * (total - done) as f64 / done as f64;
    Some(Duration::from_secs(secs.ceil() as u64))
}

/// An ETA as shown: `ETA 45s`, `ETA 3m 20s`, `ETA 2h 5m` (seconds dropped past an hour).
pub fn eta_text(eta: Duration) -> String {
    let secs = eta.as_secs();
    let shown = if secs >= 3600 { secs - secs % 60 } else { secs };
    format!(
        "ETA {}",
        humantime::format_duration(Duration::from_secs(shown))
    )
}

/// The progress message after the counts: failures, pending retries and the ETA, e.g.
/// `2 failed, 1 retrying, ETA 3m 20s`.
pub fn message(failed: u64, retrying: u64, eta: Option<Duration>) -> String {
    let mut parts = vec![format!("{failed} failed")];
    if retrying > 0 {
        parts.push(format!("{retrying} retrying"));
    }
    if let Some(e) = eta {
        parts.push(eta_text(e));
    }
    parts.join(", ")
}

/// The line after the run that says where the reports went, e.g.
/// `report written: out/nightly.json, out/nightly.md`; `None` when no report was written.
pub fn reports_written(reports: &[(PathBuf, ReportFormat)]) -> Option<String> {
    if reports.is_empty() {
        return None;
    }
    let paths: Vec<String> = reports
        .iter()
        .map(|(p, _)| p.display().to_string())
        .collect();
    Some(format!(
        "report{} written: {}",
        if paths.len() == 1 { "" } else { "s" },
        paths.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eta_doc_example() {
        assert_eq!(eta(0, 2, Duration::from_secs(30)), None);
        assert_eq!(
            eta(10, 40, Duration::from_secs(20)),
            Some(Duration::from_secs(60))
        );
    }

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn no_eta_until_it_means_something() {
        assert_eq!(eta(0, 2, S(0)), None);
        assert_eq!(eta(2, 100, S(60)), None, "too few done");
        assert_eq!(eta(50, 100, S(1)), None, "too early");
        assert_eq!(eta(100, 100, S(60)), None, "nothing left");
        assert_eq!(eta(3, 6, S(30)), Some(S(30)));
        // 30 s jobs on 8 workers: 8 done after 30 s, 32 left.
        assert_eq!(eta(8, 40, S(30)), Some(S(120)));
        assert_eq!(eta(3, 4, Duration::from_millis(5001)), Some(S(2)));
    }

    #[test]
    fn texts() {
        assert_eq!(eta_text(S(45)), "ETA 45s");
        assert_eq!(eta_text(S(200)), "ETA 3m 20s");
        assert_eq!(eta_text(S(7530)), "ETA 2h 5m");
        assert_eq!(message(0, 0, None), "0 failed");
        assert_eq!(
            message(2, 1, Some(S(200))),
            "2 failed, 1 retrying, ETA 3m 20s"
        );
        assert_eq!(reports_written(&[]), None);
        assert_eq!(
            reports_written(&[
                (PathBuf::from("out/r.json"), ReportFormat::Json),
                (PathBuf::from("r.md"), ReportFormat::Markdown)
            ])
            .unwrap(),
            "reports written: out/r.json, r.md"
        );
    }
}
