//! `--deadline`: a duration from now, `HH:MM[:SS]` (the next such local time, with the rules
//! for a daylight-saving gap or repeated hour), or an RFC 3339 timestamp.

use std::time::SystemTime;

use crate::util::duration::{duration, BadDuration};

/// Parses a `--deadline`: a duration from now, `HH:MM[:SS]` (the next such local time), or an
/// RFC 3339 timestamp (which must be in the future). With the time, a note for the user when
/// the local time does not exist that day or exists twice ([`resolve_local`]).
pub fn parse_deadline(s: &str, now: SystemTime) -> Result<(SystemTime, Option<String>), String> {
    let s = s.trim();
    match duration(s) {
        Ok(d) => return Ok((now + d, None)),
        Err(BadDuration::NotADuration) => {}
        Err(bad) => return Err(format!("--deadline: {}", bad.message(s))),
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        let t: SystemTime = t.with_timezone(&chrono::Utc).into();
        if t <= now {
            return Err(format!(
                "--deadline {s} is in the past (expected a future time)"
            ));
        }
        if t.duration_since(now)
            .is_ok_and(|d| d > crate::util::duration::MAX_DURATION)
        {
            return Err(format!(
                "--deadline {s} is more than 10 years away (expected at most 10y from now)"
            ));
        }
        return Ok((t, None));
    }
    let time = chrono::NaiveTime::parse_from_str(s, "%H:%M")
        .or_else(|_| chrono::NaiveTime::parse_from_str(s, "%H:%M:%S"));
    if let Ok(time) = time {
        let local_now: chrono::DateTime<chrono::Local> = now.into();
        let mut day = local_now.date_naive();
        loop {
            let (c, note) = resolve_local(&chrono::Local, day.and_time(time));
            let c: SystemTime = c.into();
            if c > now {
                return Ok((c, note.map(|n| format!("--deadline {s}: {n}"))));
            }
            day = day.succ_opt().ok_or("date out of range")?;
        }
    }
    Err(format!(
        "--deadline '{s}' is not a duration, a time or an RFC 3339 timestamp (expected e.g. 2h, 06:00 or 2026-11-23T06:00:00Z)"
    ))
}

/// The instant of the local time `naive` in `tz`. A time in a gap (the clocks go forward) is
/// the first instant after the gap; a time that occurs twice (the clocks go back) is its first
/// occurrence; both with a note saying so.
pub fn resolve_local<Tz: chrono::TimeZone>(
    tz: &Tz,
    naive: chrono::NaiveDateTime,
) -> (chrono::DateTime<Tz>, Option<String>) {
    use chrono::{LocalResult, Offset};
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => (t, None),
        LocalResult::Ambiguous(a, b) => {
            // The earlier instant (not every time zone source gives it first).
            let first = if a <= b { a } else { b };
            let note = format!(
                "{naive} occurs twice that day (the clocks go back): using its first occurrence, {}",
                first.fixed_offset()
            );
            (first, Some(note))
        }
        LocalResult::None => {
            // In a gap: the offset before it, then the first second with another offset (a
            // gap is at most a day long; a bisection on whole seconds finds its end).
            let at = |secs: i64| {
                chrono::DateTime::from_timestamp(secs, 0)
                    .unwrap_or_default()
                    .naive_utc()
            };
            let offset_at = |secs: i64| tz.offset_from_utc_datetime(&at(secs)).fix();
            let before = tz
                .offset_from_utc_datetime(&(naive - chrono::TimeDelta::days(1)))
                .fix();
            let mut hi = (naive - before).and_utc().timestamp();
            let mut lo = hi - 86_400;
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if offset_at(mid) == before {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            let hi = at(hi);
            let after = tz.from_utc_datetime(&hi);
            let note = format!(
                "{naive} does not exist that day (the clocks go forward): using the first time after the gap, {}",
                after.fixed_offset()
            );
            (after, Some(note))
        }
    }
}
