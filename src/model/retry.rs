/*!
`retry_on` / `--retry-on`: which failed attempts are retried ([`RetryOn`]). A list of exit codes
(`75`), ranges of them (`100-110`), `timeout` and signal names (`SIGKILL` or `KILL`), as
`75,100-110,timeout,SIGKILL`. Empty, absent or `any`: every failure, as without it.
*/

use crate::model::outcome::{AttemptEnd, KillReason};
use crate::util::sys::{signal_name, signal_number};

/// Which failed attempts may be retried; a job without one retries after any failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryOn {
    /// Exit codes, as inclusive ranges.
    codes: Vec<(u8, u8)>,
    /// A timeout is retried.
    timeout: bool,
    /// Signals that killed the job (not sent by batchrun), as bits: bit `n` is signal `n`.
    signals: u64,
    /// The list as written, normalized (`75,100-110,timeout,SIGKILL`), for messages.
    text: Box<str>,
    /// Where it came from: the `retry_on` column or `--retry-on`, for messages.
    from_flag: bool,
}

/// What every message about a bad entry expects.
const EXPECTED: &str = "expected exit codes 1-255, ranges such as 100-110, timeout, or signal names such as SIGKILL, separated by commas";

impl RetryOn {
    /// Parses a list; `Ok(None)` means any failure (empty or `any`). Every bad entry is one
    /// message, in order. `from_flag`: it is `--retry-on`, not the column.
    pub fn parse(text: &str, from_flag: bool) -> Result<Option<RetryOn>, Vec<String>> {
        let text = text.trim();
        if text.is_empty() || text.eq_ignore_ascii_case("any") {
            return Ok(None);
        }
        let mut r = RetryOn {
            codes: Vec::new(),
            timeout: false,
            signals: 0,
            text: Box::default(),
            from_flag,
        };
        let mut normalized = Vec::new();
        let mut problems = Vec::new();
        for entry in text.split(',').map(str::trim) {
            match r.add(entry) {
                Ok(n) => normalized.push(n),
                Err(m) => problems.push(m),
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        r.text = normalized.join(",").into();
        Ok(Some(r))
    }

    /// Adds one entry; returns it normalized.
    fn add(&mut self, entry: &str) -> Result<String, String> {
        let code = |s: &str| -> Result<u8, String> {
            match s.trim().parse::<u32>() {
                Ok(c @ 1..=255) => Ok(c as u8),
                Ok(0) => Err(format!(
                    "exit code 0 in '{entry}' is a success, never retried ({EXPECTED})"
                )),
                Ok(c) => Err(format!(
                    "exit code {c} in '{entry}' is above 255 ({EXPECTED})"
                )),
                Err(_) => Err(format!("'{entry}' is not an exit code ({EXPECTED})")),
            }
        };
        let numeric = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || c == ' ');
        if entry.is_empty() {
            return Err(format!("an empty entry ({EXPECTED})"));
        }
        if entry.eq_ignore_ascii_case("timeout") {
            self.timeout = true;
            return Ok("timeout".to_string());
        }
        if numeric(entry) {
            let c = code(entry)?;
            self.codes.push((c, c));
            return Ok(c.to_string());
        }
        if let Some((lo, hi)) = entry
            .split_once('-')
            .filter(|(l, h)| numeric(l) && numeric(h))
        {
            let (lo, hi) = (code(lo)?, code(hi)?);
            if lo > hi {
                return Err(format!(
                    "'{entry}' is an empty range ({EXPECTED}; a range runs from low to high)"
                ));
            }
            self.codes.push((lo, hi));
            return Ok(format!("{lo}-{hi}"));
        }
        match signal_number(entry) {
            Some(s) if (1..64).contains(&s) => {
                self.signals |= 1 << s;
                Ok(signal_name(s))
            }
            _ => Err(format!(
                "'{entry}' is not an exit code, a range, timeout or a signal name ({EXPECTED})"
            )),
        }
    }

    /// The list, normalized (`75,100-110,timeout,SIGKILL`).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Why an attempt that ended so is not retried, or `None` when the list allows a retry.
    /// An attempt that could not start is not judged here: its command never ran, so it has
    /// no exit code to match (a transient start failure is retried as without a list).
    pub fn refuses(&self, end: &AttemptEnd) -> Option<String> {
        let what = match end {
            AttemptEnd::StartFailed { .. } => return None,
            AttemptEnd::Ended {
                killed: Some(KillReason::Timeout(_)),
                ..
            } if self.timeout => return None,
            AttemptEnd::Ended {
                killed: Some(KillReason::Timeout(_)),
                ..
            } => "a timeout".to_string(),
            AttemptEnd::Ended {
                killed: Some(KillReason::Cancel),
                ..
            } => "a cancellation".to_string(),
            AttemptEnd::Ended {
                exit_code: Some(c), ..
            } => {
                if self
                    .codes
                    .iter()
                    .any(|(lo, hi)| (*lo as i32..=*hi as i32).contains(c))
                {
                    return None;
                }
                c.to_string()
            }
            AttemptEnd::Ended {
                signal: Some(s), ..
            } => {
                if (1..64).contains(s) && self.signals & (1 << s) != 0 {
                    return None;
                }
                signal_name(*s)
            }
            AttemptEnd::Ended { .. } => "an end without a status".to_string(),
        };
        let source = if self.from_flag {
            "--retry-on"
        } else {
            "retry_on"
        };
        Some(format!(
            "not retried: {what} is not in {source} {}",
            self.text
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ended(
        exit_code: Option<i32>,
        signal: Option<i32>,
        killed: Option<KillReason>,
    ) -> AttemptEnd {
        AttemptEnd::Ended {
            exit_code,
            signal,
            killed,
        }
    }

    #[test]
    fn parses_and_normalizes() {
        let r = RetryOn::parse(" 75, 100 - 110 ,Timeout,kill,SIGTERM ", false)
            .unwrap()
            .unwrap();
        assert_eq!(r.as_str(), "75,100-110,timeout,SIGKILL,SIGTERM");
        for any in ["", "  ", "any", "ANY"] {
            assert_eq!(RetryOn::parse(any, true), Ok(None));
        }
    }

    #[test]
    fn every_bad_entry_is_a_problem() {
        let e = RetryOn::parse("0,256,7-3,,SIGNOPE,x-1,1.5", false).unwrap_err();
        assert_eq!(e.len(), 7, "{e:?}");
        assert!(
            e[0].starts_with("exit code 0 in '0' is a success"),
            "{}",
            e[0]
        );
        assert!(
            e[1].starts_with("exit code 256 in '256' is above 255"),
            "{}",
            e[1]
        );
        assert!(e[2].starts_with("'7-3' is an empty range"), "{}", e[2]);
        assert!(e[3].starts_with("an empty entry"), "{}", e[3]);
        assert!(
            e[4].starts_with("'SIGNOPE' is not an exit code"),
            "{}",
            e[4]
        );
        assert!(e[5].starts_with("'x-1' is not"), "{}", e[5]);
        assert!(e[6].starts_with("'1.5' is not"), "{}", e[6]);
        assert!(e.iter().all(|m| m.contains("(expected exit codes 1-255")));
    }

    #[test]
    fn what_is_retried() {
        let r = RetryOn::parse("75,100-110,SIGKILL", false)
            .unwrap()
            .unwrap();
        let timeout = Some(KillReason::Timeout(std::time::Duration::from_secs(1)));
        for ok in [
            ended(Some(75), None, None),
            ended(Some(100), None, None),
            ended(Some(110), None, None),
            ended(None, Some(libc::SIGKILL), None),
        ] {
            assert_eq!(r.refuses(&ok), None, "{ok:?}");
        }
        assert_eq!(
            r.refuses(&ended(Some(3), None, None)).unwrap(),
            "not retried: 3 is not in retry_on 75,100-110,SIGKILL"
        );
        assert_eq!(
            r.refuses(&ended(Some(111), None, None)).unwrap(),
            "not retried: 111 is not in retry_on 75,100-110,SIGKILL"
        );
        assert_eq!(
            r.refuses(&ended(None, Some(libc::SIGTERM), None)).unwrap(),
            "not retried: SIGTERM is not in retry_on 75,100-110,SIGKILL"
        );
        assert_eq!(
            r.refuses(&ended(None, Some(15), timeout)).unwrap(),
            "not retried: a timeout is not in retry_on 75,100-110,SIGKILL"
        );
        let t = RetryOn::parse("timeout", true).unwrap().unwrap();
        assert_eq!(t.refuses(&ended(None, Some(15), timeout)), None);
        assert_eq!(
            t.refuses(&ended(Some(1), None, None)).unwrap(),
            "not retried: 1 is not in --retry-on timeout"
        );
        let start = AttemptEnd::StartFailed {
            message: "x".into(),
            transient: true,
        };
        assert_eq!(t.refuses(&start), None);
    }
}
