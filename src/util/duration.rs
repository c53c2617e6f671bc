//! Durations and booleans as people write them in manifests and flags.

use std::time::Duration;

/// Longest duration accepted anywhere (a `timeout` column, `--timeout`, `--grace`,
/// `--retry-delay`, `--deadline`): 10 years (`10y`, 315,576,000 seconds).
pub const MAX_DURATION: Duration = Duration::from_secs(315_576_000);

/// Why a text is not an accepted duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadDuration {
    /// Not a duration at all.
    NotADuration,
    /// Zero.
    Zero,
    /// Above [`MAX_DURATION`] (or too large to represent).
    TooLong,
}

impl BadDuration {
    /// The message for `s`: what is wrong, then what was expected.
    pub fn message(self, s: &str) -> String {
        match self {
            BadDuration::NotADuration => format!(
                "'{s}' is not a duration (expected a duration such as 250ms, 30s, 5m or 1h30m)"
            ),
            BadDuration::Zero => {
                format!("'{s}' is zero (expected a duration such as 250ms, 30s, 5m or 1h30m)")
            }
            BadDuration::TooLong => {
                format!("'{s}' is too long (expected at most 10y, 315576000 seconds)")
            }
        }
    }
}

/// Reads a duration: `250ms`, `30s`, `5m`, `1h30m`, or a bare number of seconds (`5`, `0.5`).
/// It must be more than zero and at most [`MAX_DURATION`].
pub fn duration(s: &str) -> Result<Duration, BadDuration> {
    let t = s.trim();
    let bare = t.chars().all(|c| c.is_ascii_digit() || c == '.')
        && t.chars().filter(|&c| c == '.').count() <= 1
        && t.chars().any(|c| c.is_ascii_digit());
    let d = if bare {
        let secs: f64 = t.parse().map_err(|_| BadDuration::NotADuration)?;
        Duration::try_from_secs_f64(secs).map_err(|_| BadDuration::TooLong)?
    } else {
        humantime::parse_duration(t).map_err(|e| match e {
            humantime::DurationError::NumberOverflow => BadDuration::TooLong,
            _ => BadDuration::NotADuration,
        })?
    };
    if d > MAX_DURATION {
        Err(BadDuration::TooLong)
    } else if d.is_zero() {
        Err(BadDuration::Zero)
    } else {
        Ok(d)
    }
}

/// [`duration`], with the message of what is wrong.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    // Most rows of a manifest share their time limit: the last text read is remembered per
    // thread (a comparison, where parsing costs a few hundred instructions).
    thread_local! {
        static LAST: std::cell::RefCell<(String, Option<Duration>)> =
            const { std::cell::RefCell::new((String::new(), None)) };
    }
    LAST.with_borrow_mut(|(text, d)| match d {
        Some(d) if text == s => Ok(*d),
        _ => {
            let parsed = duration(s).map_err(|b| b.message(s))?;
            text.clear();
            text.push_str(s);
            *d = Some(parsed);
            Ok(parsed)
        }
    })
}

/// Parses `true/false`, `yes/no`, `1/0` (any case); empty is false.
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "" | "false" | "no" | "0" => Ok(false),
        "true" | "yes" | "1" => Ok(true),
        _ => Err(format!(
            "'{s}' is not a boolean (expected true/false, yes/no, 1/0 or empty)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_and_absurd_durations() {
        assert_eq!(parse_duration("5").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration(" 0.5 ").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("10y").unwrap(), MAX_DURATION);
        assert_eq!(duration("0"), Err(BadDuration::Zero));
        assert_eq!(duration("."), Err(BadDuration::NotADuration));
        assert_eq!(duration("-1"), Err(BadDuration::NotADuration));
        assert_eq!(duration("1e3"), Err(BadDuration::NotADuration));
        for absurd in [
            "300000000000y",
            "18446744073709551615",
            "18446744073709551615s",
            "1e400",
            "99999999999999999999999999999999999999",
            "11y",
        ] {
            assert_ne!(duration(absurd), Ok(Duration::ZERO), "{absurd}");
            assert!(duration(absurd).is_err(), "{absurd}");
        }
        assert_eq!(duration("300000000000y"), Err(BadDuration::TooLong));
        assert_eq!(duration("18446744073709551615"), Err(BadDuration::TooLong));
    }
}
