//! Text for people: plurals, durations, sizes and times, with no crate type in them.

use std::time::{Duration, SystemTime};

/// `s` for one line of text: control characters escaped (`\n`), and when longer than `max`
/// characters, shortened in the middle with `…`.
pub fn shorten_middle(s: &str, max: usize) -> String {
    let escaped: Vec<char> = s
        .chars()
        .flat_map(|c| match c.is_control() {
            true => c.escape_debug().collect::<Vec<char>>(),
            false => vec![c],
        })
        .collect();
    if escaped.len() <= max {
        return escaped.into_iter().collect();
    }
    let head = (max - 1) / 2;
    let tail = max - 1 - head;
    let mut out: String = escaped[..head].iter().collect();
    out.push('…');
    out.extend(&escaped[escaped.len() - tail..]);
    out
}

/// `1 job`, `2 jobs`, `2 processes`: a count and a noun, in the plural unless the count is 1.
pub fn plural(n: usize, word: &str) -> String {
    match (n, word.ends_with('s')) {
        (1, _) => format!("{n} {word}"),
        (_, true) => format!("{n} {word}es"),
        (_, false) => format!("{n} {word}s"),
    }
}

/// A duration as people read it: `2.4s` under a minute, else `3m 12s`.
pub fn human(d: Duration) -> String {
    if d < Duration::from_secs(60) {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
    }
}

/// A size in KiB as people read it: `812 KiB`, `61.2 MiB`, `2.0 GiB`.
pub fn kib(k: u64) -> String {
    if k < 1024 {
        format!("{k} KiB")
    } else if k < 1024 * 1024 {
        format!("{:.1} MiB", k as f64 / 1024.0)
    } else {
        format!("{:.1} GiB", k as f64 / (1024.0 * 1024.0))
    }
}

/// Formats a time as RFC 3339 UTC with whole seconds: `2026-11-23T02:00:00Z`.
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Formats a time as RFC 3339 UTC with milliseconds: `2026-11-23T02:00:00.123Z`.
pub fn rfc3339_millis(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}
