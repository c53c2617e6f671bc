/*!
`--on-finish CMD`: one shell command run after the reports are written, whatever the outcome
(also after an interruption or the deadline), so cron jobs can ping a health check or send mail
without wrapping batchrun.

The command runs as `/bin/sh -c CMD` in its own process group, with stdin from `/dev/null`,
its stdout and stderr on batchrun's stderr (stdout carries only job output), and the run's
result in its environment ([`environment`]). It may run for the `--on-finish-timeout` (60 s by
default); then its process group is killed. When it ends, whatever it left in its process
group is killed too. Its failure is an error line on stderr, shown also under `-q`; it never
changes batchrun's exit code.
*/

use std::os::fd::AsFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::event::summary::RunSummary;
use crate::model::config::ReportFormat;
use crate::process::group::{sweep_group, terminate_leader_group};
use crate::util::sys;

/// The environment the hook gets, besides batchrun's own: `BATCHRUN_EXIT_CODE`,
/// `BATCHRUN_OUTCOME`, `BATCHRUN_TOTAL`, one count per status (`BATCHRUN_SUCCEEDED`,
/// `BATCHRUN_FAILED`, `BATCHRUN_TIMED_OUT`, …), `BATCHRUN_DURATION_MS`, and `BATCHRUN_REPORT`
/// (the absolute path of the first JSON report) when there is one.
pub fn environment(s: &RunSummary, report: Option<&Path>) -> Vec<(String, String)> {
    let mut env = vec![
        ("BATCHRUN_EXIT_CODE".to_string(), s.exit_code.to_string()),
        (
            "BATCHRUN_OUTCOME".to_string(),
            s.outcome.as_str().to_string(),
        ),
        ("BATCHRUN_TOTAL".to_string(), s.results.len().to_string()),
        (
            "BATCHRUN_DURATION_MS".to_string(),
            s.duration.as_millis().to_string(),
        ),
    ];
    for (status, n) in s.counts() {
        env.push((
            format!("BATCHRUN_{}", status.as_str().to_ascii_uppercase()),
            n.to_string(),
        ));
    }
    if let Some(p) = report {
        env.push((
            "BATCHRUN_REPORT".to_string(),
            p.to_string_lossy().into_owned(),
        ));
    }
    env
}

/// The absolute path of the first JSON report among `reports`, if any.
pub fn first_json_report(reports: &[(PathBuf, ReportFormat)]) -> Option<PathBuf> {
    let (p, _) = reports.iter().find(|(_, f)| *f == ReportFormat::Json)?;
    Some(std::path::absolute(p).unwrap_or_else(|_| p.clone()))
}

/// Runs the `--on-finish` command for a finished run; any failure is logged as an error, so
/// that `-q` (which keeps only errors) still shows it: a broken notifier must not go unseen in
/// the cron runs it is for. It never changes the exit code.
pub fn on_finish(cmd: &str, limits: (Duration, Duration), s: &RunSummary, report: Option<&Path>) {
    match run(cmd, limits, &environment(s, report)) {
        Ok(None) => {}
        Ok(Some(problem)) => log::error!("--on-finish: {problem} (the exit code is unchanged)"),
        Err(e) => {
            log::error!("--on-finish: cannot run the command: {e} (the exit code is unchanged)")
        }
    }
}

/// Runs `cmd` with `env` to its end or its timeout. Returns a description of what went wrong,
/// if anything did.
fn run(
    cmd: &str,
    (timeout, grace): (Duration, Duration),
    env: &[(String, String)],
) -> std::io::Result<Option<String>> {
    // The hook's stdout goes to our stderr; without a stderr (closed), to nowhere.
    let stdout = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map_or_else(|_| Stdio::null(), Stdio::from);
    let child = Command::new("/bin/sh")
        .arg("-c")
        .arg(cmd)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(stdout)
        .process_group(0)
        .spawn()?;
    let pid = child.id() as libc::pid_t;
    let pidfd = match sys::pidfd_open(pid) {
        Ok(fd) => fd,
        Err(e) => {
            let _ = sys::kill_group(pid, libc::SIGKILL);
            let _ = sys::wait4(pid);
            return Err(e);
        }
    };
    let exited = sys::wait_readable(&[pidfd.as_fd()], Some(timeout))?[0];
    if !exited {
        // As a job at its timeout: SIGTERM to the group, SIGKILL after the grace time (the
        // leader is unreaped, so the group id is still this hook's).
        terminate_leader_group(pid, &pidfd, grace)?;
    }
    let (status, _) = sys::wait4(pid)?;
    sweep_group(pid, grace)?;
    Ok(if !exited {
        Some(format!(
            "the command did not finish within {} and was killed",
            humantime::format_duration(timeout)
        ))
    } else if let Some(c) = status.code().filter(|&c| c != 0) {
        Some(format!("the command exited with status {c}"))
    } else {
        status.signal().map(|sig| {
            format!(
                "the command was killed by signal {sig} ({})",
                sys::signal_name(sig)
            )
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::outcome::{JobResult, RunOutcome, Status};
    use std::time::SystemTime;

    fn summary() -> RunSummary {
        RunSummary {
            manifest: "m.csv".into(),
            manifest_sha256: String::new(),
            shard: None,
            balance_sha256: None,
            merged: None,
            started_at: SystemTime::UNIX_EPOCH,
            finished_at: SystemTime::UNIX_EPOCH,
            duration: Duration::from_millis(1500),
            workers: 2,
            outcome: RunOutcome::Failed,
            exit_code: 1,
            jobs: crate::store::jobs::for_tests(&[("a", "true"), ("b", "false")]),
            results: [
                JobResult::without_attempt(Status::Skipped, "x"),
                JobResult::without_attempt(Status::Failed, "y"),
            ]
            .into_iter()
            .collect(),
            max_attempts: vec![1, 1],
            internal_errors: vec![],
        }
    }

    #[test]
    fn environment_has_outcome_counts_and_report() {
        let env = environment(&summary(), Some(Path::new("/tmp/r.json")));
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("BATCHRUN_EXIT_CODE"), Some("1"));
        assert_eq!(get("BATCHRUN_OUTCOME"), Some("failed"));
        assert_eq!(get("BATCHRUN_TOTAL"), Some("2"));
        assert_eq!(get("BATCHRUN_FAILED"), Some("1"));
        assert_eq!(get("BATCHRUN_SKIPPED"), Some("1"));
        assert_eq!(get("BATCHRUN_SUCCEEDED"), Some("0"));
        assert_eq!(get("BATCHRUN_NOT_STARTED"), Some("0"));
        assert_eq!(get("BATCHRUN_REPORT"), Some("/tmp/r.json"));
        assert_eq!(get("BATCHRUN_DURATION_MS"), Some("1500"));
        assert!(environment(&summary(), None)
            .iter()
            .all(|(k, _)| k != "BATCHRUN_REPORT"));
    }

    #[test]
    fn failures_and_timeouts_are_described() {
        let t = Duration::from_secs(30);
        assert_eq!(run("exit 0", (t, t), &[]).unwrap(), None);
        assert_eq!(
            run("exit 4", (t, t), &[]).unwrap().unwrap(),
            "the command exited with status 4"
        );
        let hung = run("sleep 30", (Duration::from_millis(50), t), &[])
            .unwrap()
            .unwrap();
        assert!(hung.contains("did not finish within 50ms"), "{hung}");
    }

    #[test]
    fn a_hook_past_its_timeout_gets_sigterm_before_sigkill() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("term");
        let cmd = format!(
            "trap 'touch {}; exit 0' TERM; sleep 30 & wait",
            marker.display()
        );
        let t = Duration::from_secs(30);
        let hung = run(&cmd, (Duration::from_millis(200), t), &[])
            .unwrap()
            .unwrap();
        assert!(hung.contains("did not finish within 200ms"), "{hung}");
        assert!(marker.exists(), "the hook was not sent SIGTERM first");
    }

    #[test]
    fn first_json_report_is_absolute() {
        let reports = vec![
            (PathBuf::from("r.md"), ReportFormat::Markdown),
            (PathBuf::from("out/r.json"), ReportFormat::Json),
        ];
        let p = first_json_report(&reports).unwrap();
        assert!(p.is_absolute() && p.ends_with("out/r.json"), "{p:?}");
        assert_eq!(first_json_report(&reports[..1]), None);
    }
}
