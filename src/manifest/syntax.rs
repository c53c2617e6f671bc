//! Shell syntax in a direct-mode template ([`scan`]): words a shell would treat as operators
//! or redirections (an error: without a shell they would be passed on as arguments), and
//! globs, `~` and `$VAR` (a warning: passed on literally).

use crate::manifest::template::{marked, Piece};

/// What [`scan`] found in a template's own text (values are never looked at).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Found {
    /// Unquoted words that are, start with or hold a shell operator or redirection.
    pub(crate) operators: Vec<String>,
    /// An unquoted `*`, `?` or `[`.
    pub(crate) glob: bool,
    /// An unquoted `~` starting a word.
    pub(crate) tilde: bool,
    /// `$NAME`, `${…}`, `$(…)` or a backquote, unquoted or in double quotes.
    pub(crate) expansion: bool,
}

/// One character of a word and whether it was quoted (or escaped, or part of a value).
type Ch = (char, bool);

/// Splits the template's text into words as a shell would, keeping which characters were
/// quoted; a placeholder counts as quoted text.
fn words(pieces: &[Piece]) -> (Vec<Vec<Ch>>, bool) {
    let text = marked(pieces);
    let mut words = Vec::new();
    let mut word: Vec<Ch> = Vec::new();
    let (mut single, mut double, mut marker) = (false, false, false);
    let mut expansion = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\0' {
            marker = !marker;
            word.push((c, true));
            continue;
        }
        if marker || single {
            single &= c != '\'';
            if !(single || marker) && c == '\'' {
                continue;
            }
            word.push((c, true));
            continue;
        }
        let next_expands = |n: Option<&char>| {
            n.is_some_and(|n| n.is_ascii_alphabetic() || matches!(n, '_' | '{' | '('))
        };
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    word.push((n, true));
                }
            }
            '\'' if !double => single = true,
            '"' => double = !double,
            '$' if next_expands(chars.peek()) => {
                expansion = true;
                word.push((c, double));
            }
            '`' => {
                expansion = true;
                word.push((c, double));
            }
            c if c.is_whitespace() && !double => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push((c, double)),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    (words, expansion)
}

/// Whether a word (its unquoted characters) is or holds shell syntax a direct command would
/// pass on literally: starts with `|`, `&`, `;`, `<`, `>` (or `2>`, `2<`: a file descriptor's
/// redirection), holds `|`, `;`, `<` or `>`, or ends with `&`.
fn is_operator(word: &[Ch]) -> bool {
    let unquoted = |i: usize, set: &str| word.get(i).is_some_and(|&(c, q)| !q && set.contains(c));
    let digits = word
        .iter()
        .take_while(|&&(c, q)| !q && c.is_ascii_digit())
        .count();
    unquoted(0, "|&;<>")
        || (digits > 0 && unquoted(digits, "<>"))
        || (0..word.len()).any(|i| unquoted(i, "|;<>"))
        || unquoted(word.len() - 1, "&")
}

/// Scans a direct-mode template's own text for shell syntax.
pub(crate) fn scan(pieces: &[Piece]) -> Found {
    // Most commands hold none of these: no words to split then (a scan runs on every row).
    let special = |s: &str| s.contains(['|', '&', ';', '<', '>', '*', '?', '[', '~', '$', '`']);
    if !pieces
        .iter()
        .any(|p| matches!(p, Piece::Lit(s) if special(s)))
    {
        return Found::default();
    }
    let (words, expansion) = words(pieces);
    let mut found = Found {
        expansion,
        ..Found::default()
    };
    for w in &words {
        if is_operator(w) {
            let text: String = w
                .iter()
                .map(|&(c, _)| c)
                .collect::<String>()
                .split('\0')
                .step_by(2)
                .collect::<Vec<_>>()
                .join("{…}");
            found.operators.push(text);
        }
        found.glob |= w.iter().any(|&(c, q)| !q && matches!(c, '*' | '?' | '['));
        found.tilde |= w.first() == Some(&('~', false));
    }
    found
}

/// Whether text holds `$NAME`, `${…}` or `$(…)` anywhere (quoted or not): what a user who
/// expects a shell's expansion writes.
pub(crate) fn has_expansion(text: &str) -> bool {
    text.as_bytes()
        .windows(2)
        .any(|w| w[0] == b'$' && (w[1].is_ascii_alphabetic() || matches!(w[1], b'_' | b'{' | b'(')))
}

/// The problem of shell operators in a direct-mode command, or `None`.
pub(crate) fn operators_problem(found: &Found) -> Option<String> {
    if found.operators.is_empty() {
        return None;
    }
    let words: Vec<String> = found.operators.iter().map(|w| format!("'{w}'")).collect();
    Some(format!(
        "shell syntax {} in a command run without a shell: it would be passed to the program \
         as an argument (expected shell=true or --shell to run it through /bin/sh, or quotes \
         around it to pass it literally)",
        words.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::template::parse;

    fn ops(s: &str) -> Vec<String> {
        scan(&parse(s).unwrap()).operators
    }

    #[test]
    fn operators_and_redirections_are_found_unquoted_only() {
        assert_eq!(ops("echo hi > f"), [">"]);
        assert_eq!(ops("a 2>&1 | b && c; d &"), ["2>&1", "|", "&&", "c;", "&"]);
        assert_eq!(ops("echo hi>f <in >>out"), ["hi>f", "<in", ">>out"]);
        assert!(ops("echo '>' \">\" \\> a'|'b x2 2 -n=1&x").is_empty());
        assert!(ops("echo {x} pre{x}").is_empty());
    }

    #[test]
    fn globs_tilde_and_expansions_are_noticed() {
        let f = |s: &str| scan(&parse(s).unwrap());
        assert!(f("ls *.csv").glob && !f("ls '*.csv'").glob);
        assert!(f("ls ~/x").tilde && !f("ls a~ '~'").tilde);
        assert!(f("echo $HOME").expansion && f("echo \"$(id)\"").expansion);
        assert!(!f("echo '$HOME' $ 5$").expansion);
    }
}
