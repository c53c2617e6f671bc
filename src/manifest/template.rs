/*!
`{placeholder}` templates: parsing, checking the names against the manifest's columns, and
filling them in, exactly, for every input.

In direct mode a template is split into words with POSIX shell quoting first and each word is
filled in afterwards, so a value never splits, never gains or loses quoting and never becomes a
second argument. To split the template's own text only, each placeholder is replaced by a
marker made of NUL bytes and its piece number before splitting. No argument of a process can
hold a NUL byte, so a template or a value containing one is rejected (by the manifest), and a
marker never collides with anything a user wrote.

In shell mode each value is substituted shell-quoted.

[`quoted_placeholder`], [`heredoc_placeholder`] and [`nested_shell`] spot the three patterns
that defeat this (a value re-parsed or expanded by a shell after all), for the warnings of
`check` and `run`.
*/

use std::borrow::Cow;
use std::collections::BTreeSet;

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Literal text (with `{{` and `}}` already turned into single braces).
    Lit(String),
    /// A `{name}` placeholder (`{}` has the empty name: the item of a `--lines` list).
    Var(String),
}

/// GNU parallel's replacement strings for a list item: `{}` (the item), `{.}` (without its
/// extension), `{/}` (its basename), `{//}` (its dirname) and `{/.}` (its basename without
/// extension). With `-n N` each stands for the items of the job, one word each.
pub const ITEM_FORMS: [&str; 5] = ["", ".", "/", "//", "/."];

/// `{#}`: the job's number, 1-based (GNU parallel's sequence number).
pub const JOB_NUMBER: &str = "#";

/// Whether `name` is one of the [`ITEM_FORMS`].
pub fn is_item_form(name: &str) -> bool {
    ITEM_FORMS.contains(&name)
}

/// Whether `s` is an identifier, `[A-Za-z_][A-Za-z0-9_]*`: between braces, a placeholder
/// even when it names no column (a typo must not run).
pub fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Parses a template where every `{identifier}` is a placeholder (see [`parse_with`]).
#[cfg(test)]
pub fn parse(s: &str) -> Result<Vec<Piece>, String> {
    parse_with(s, &|_| false)
}

/// Parses `{name}` placeholders, `{{` and `}}`. A placeholder is `{}`, an item form
/// ([`ITEM_FORMS`], [`JOB_NUMBER`]), `{name}` where `is_name(name)` (a header name, which may
/// hold spaces or dots) or `{identifier}` ([`is_ident`]; an error later when it names no
/// column). Every other `{…}` (braces matched), `${…}` and a lone `}` is literal text: an awk
/// program, JSON, a shell's parameter expansion.
pub fn parse_with(s: &str, is_name: &dyn Fn(&str) -> bool) -> Result<Vec<Piece>, String> {
    if !s.contains(['{', '}']) {
        return Ok(match s.is_empty() {
            true => Vec::new(),
            false => vec![Piece::Lit(s.to_string())],
        });
    }
    let mut pieces = Vec::new();
    let mut lit = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                lit.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                lit.push('}');
            }
            '{' => {
                let after_dollar = lit.ends_with('$');
                let (inner, closed) = braced(&mut chars);
                if !closed {
                    if inner.is_empty() || is_ident(&inner) {
                        return Err(format!(
                            "unclosed '{{' after '{{{inner}' (expected {{column}}, or {{{{ for a literal brace)"
                        ));
                    }
                    lit.push('{');
                    lit.push_str(&inner);
                    continue;
                }
                let placeholder = !after_dollar
                    && (is_item_form(&inner)
                        || inner == JOB_NUMBER
                        || is_ident(&inner)
                        || is_name(&inner));
                if !placeholder {
                    lit.push('{');
                    lit.push_str(&inner);
                    lit.push('}');
                    continue;
                }
                if !lit.is_empty() {
                    pieces.push(Piece::Lit(std::mem::take(&mut lit)));
                }
                pieces.push(Piece::Var(inner));
            }
            c => lit.push(c),
        }
    }
    if !lit.is_empty() {
        pieces.push(Piece::Lit(lit));
    }
    Ok(pieces)
}

/// The text up to the `}` that matches a `{` just read (inner braces matched too), and
/// whether that `}` was found.
fn braced(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> (String, bool) {
    let mut inner = String::new();
    let mut depth = 1;
    for c in chars.by_ref() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return (inner, true);
                }
            }
            _ => {}
        }
        inner.push(c);
    }
    (inner, false)
}

/// Edit distance between two names, ignoring ASCII case (for "did you mean").
pub fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_ascii_lowercase().chars().collect();
    let b: Vec<char> = b.to_ascii_lowercase().chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// `known` sorted nearest to `name` first (equal distances keep their order).
pub fn nearest<'k>(name: &str, known: &'k [String]) -> Vec<&'k String> {
    let mut sorted: Vec<&String> = known.iter().collect();
    sorted.sort_by_key(|k| distance(name, k));
    sorted
}

/// How many columns a "names no column" message offers.
const OFFERED: usize = 8;

/// Names in a template that are not variables, as one message that shows both ways out:
/// the columns it could mean, nearest first, or doubled braces for a literal.
fn unknown_placeholders(
    pieces: &[Piece],
    vars: &dyn Fn(&str) -> bool,
    known: &[String],
) -> Option<String> {
    let unknown: BTreeSet<&str> = pieces
        .iter()
        .filter_map(|p| match p {
            Piece::Var(name) if !vars(name) => Some(name.as_str()),
            _ => None,
        })
        .collect();
    let first = unknown.iter().next()?;
    let names: Vec<String> = unknown.iter().map(|n| format!("{{{n}}}")).collect();
    let literal: Vec<String> = unknown.iter().map(|n| format!("{{{{{n}}}}}")).collect();
    let offered: Vec<String> = nearest(first, known)
        .into_iter()
        .take(OFFERED)
        .map(|k| format!("{{{k}}}"))
        .collect();
    let columns = match offered.is_empty() {
        true => String::new(),
        false => format!("a column, nearest first: {}; or ", offered.join(", ")),
    };
    let item_hint = match unknown.iter().any(|n| is_item_form(n) || *n == JOB_NUMBER) {
        true => "; item forms need --lines or -0",
        false => "",
    };
    Some(format!(
        "placeholder {} names no column (expected {columns}{} for literal braces{item_hint})",
        names.join(", "),
        literal.join(", "),
    ))
}

/// Parses a template whose placeholders must all be variables (`known`: their names, for the
/// message).
pub fn checked(
    text: &str,
    vars: &dyn Fn(&str) -> bool,
    known: &[String],
) -> Result<Vec<Piece>, String> {
    let pieces = parse_with(text, vars)?;
    match unknown_placeholders(&pieces, vars, known) {
        Some(msg) => Err(msg),
        None => Ok(pieces),
    }
}

/// The values of a row's variables. With `-n N`, an item form's value holds the job's items
/// separated by NUL bytes (no item can hold one then), each becoming a word of its own.
pub type Vars<'a> = hashbrown::HashMap<&'a str, Cow<'a, str>>;

/// The value of item form `form` ([`ITEM_FORMS`]) for `item`, as GNU parallel computes it.
pub fn item_form<'i>(form: &str, item: &'i str) -> Cow<'i, str> {
    let base = |s: &'i str| match s.trim_end_matches('/').rfind('/') {
        Some(i) => &s[i + 1..],
        None => s,
    };
    let no_ext = |s: &'i str| {
        let b = base(s);
        match b.rfind('.') {
            Some(i) if i > 0 => &s[..s.len() - b.len() + i],
            _ => s,
        }
    };
    Cow::Borrowed(match form {
        "." => no_ext(item),
        "/" => base(item),
        "//" => match item.trim_end_matches('/').rfind('/') {
            Some(0) => "/",
            Some(i) => &item[..i],
            None => ".",
        },
        "/." => base(no_ext(item)),
        _ => item,
    })
}

/// The value of a variable (empty when there is none). A map of a few variables (a plain
/// list's, a narrow table's) is searched entry by entry: its names are a few bytes, and the
/// C library's `memcmp`, which the map's lookup calls, took a quarter of a microsecond a call
/// on the 2-CPU machine of BENCHMARKS.md (11 % of a `--dry-run --resume` of a million items).
fn value<'v>(vars: &'v Vars<'_>, name: &str) -> &'v str {
    let found = if vars.len() <= SCANNED {
        vars.iter()
            .find(|(k, _)| same_name(k, name))
            .map(|(_, v)| v)
    } else {
        vars.get(name)
    };
    found.map_or("", |v| v.as_ref())
}

/// The most variables [`value`] searches one by one.
const SCANNED: usize = 8;

/// Whether two variable names are equal, compared byte by byte (no `memcmp` call).
fn same_name(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| x == y)
}

/// Fills a template; `quote` shell-quotes each value (shell mode), and each item of a
/// multi-item value ([`Vars`], when `multi`) is quoted on its own.
pub fn render(pieces: &[Piece], vars: &Vars<'_>, quote: bool, multi: bool) -> String {
    let mut out = String::new();
    for p in pieces {
        match p {
            Piece::Lit(s) => out.push_str(s),
            Piece::Var(name) => {
                let value = value(vars, name);
                if quote && multi && is_item_form(name) {
                    let words: Vec<_> = value.split('\0').map(shell_words::quote).collect();
                    out.push_str(&words.join(" "));
                } else if quote {
                    out.push_str(&shell_words::quote(value));
                } else {
                    out.push_str(value);
                }
            }
        }
    }
    out
}

/// Whether a template's literal text holds a NUL byte (which no argument can hold, and which
/// the markers of [`split_direct`] are made of).
pub fn has_nul(pieces: &[Piece]) -> bool {
    pieces
        .iter()
        .any(|p| matches!(p, Piece::Lit(s) if s.contains('\0')))
}

/// Splits a template into words with POSIX shell quoting, then fills each word: a value is
/// substituted inside the word it is in, verbatim. With `multi` (`-n N`), a word that is an
/// item form alone becomes one word per item. The template's literal text must hold no NUL
/// byte (see [`has_nul`]).
pub fn split_direct(pieces: &[Piece], vars: &Vars<'_>, multi: bool) -> Result<Vec<String>, String> {
    debug_assert!(!has_nul(pieces));
    let split = |text: &str| match plain_words(text) {
        Some(words) => Ok(words),
        None => shell_words::split(text).map_err(|e| e.to_string()),
    };
    if let [Piece::Lit(text)] = pieces {
        return split(text);
    }
    Ok(fill_words(&split_words(pieces)?, pieces, vars, multi))
}

/// A direct-mode template's words, each placeholder still a marker: they depend on the
/// template alone, so a template used for every row is split once ([`fill_words`] per row).
pub fn split_words(pieces: &[Piece]) -> Result<Vec<String>, String> {
    shell_words::split(&marked(pieces)).map_err(|e| e.to_string())
}

/// [`split_direct`] of the template that gave `words` ([`split_words`]).
pub fn fill_words(words: &[String], pieces: &[Piece], vars: &Vars<'_>, multi: bool) -> Vec<String> {
    let mut out = Vec::with_capacity(words.len());
    for w in words {
        if !w.contains(MARK) {
            out.push(w.clone());
        } else if let Some(name) = multi.then(|| alone(w, pieces)).flatten() {
            out.extend(value(vars, name).split(MARK).map(str::to_string));
        } else {
            out.push(fill_marked(w, pieces, vars));
        }
    }
    out
}

/// The words of a text that shell quoting would split at its spaces alone (no quote,
/// backslash, `#`, tab or line end; most commands of big manifests): what
/// `shell_words::split` gives, without its per-character work. `None` for any other text.
pub(crate) fn plain_words(text: &str) -> Option<Vec<String>> {
    let plain = |b: u8| {
        matches!(b, b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9'
            | b' ' | b'-' | b'_' | b'.' | b'/' | b',' | b':' | b'+' | b'=' | b'@' | b'%' | b'^' | b'~')
    };
    if !text.bytes().all(plain) {
        return None;
    }
    Some(
        text.split(' ')
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect(),
    )
}

/// The item form a word is made of alone (a marker and nothing else), if it is.
fn alone<'p>(word: &str, pieces: &'p [Piece]) -> Option<&'p str> {
    let n = word.strip_prefix(MARK)?.strip_suffix(MARK)?;
    match pieces.get(n.parse::<usize>().ok()?)? {
        Piece::Var(name) if is_item_form(name) => Some(name),
        _ => None,
    }
}

/// Whether every item form of a direct-mode template is a word of its own (with `-n N`
/// each stands for several words).
pub fn item_forms_alone(pieces: &[Piece]) -> bool {
    let Ok(words) = shell_words::split(&marked(pieces)) else {
        return true;
    };
    words
        .iter()
        .filter(|w| w.contains(MARK) && alone(w, pieces).is_none())
        .all(|w| {
            w.split(MARK).skip(1).step_by(2).all(|n| {
                !matches!(n.parse::<usize>().ok().and_then(|i| pieces.get(i)),
                    Some(Piece::Var(name)) if is_item_form(name))
            })
        })
}

/// Opens and closes the marker of a placeholder: `NUL n NUL`, with the placeholder's piece
/// number `n` in decimal. Shell quoting treats NUL as an ordinary character.
const MARK: char = '\0';

/// The template as text with each placeholder replaced by its marker.
pub(crate) fn marked(pieces: &[Piece]) -> String {
    let mut out = String::new();
    for (i, p) in pieces.iter().enumerate() {
        match p {
            Piece::Lit(s) => out.push_str(s),
            Piece::Var(_) => {
                out.push(MARK);
                out.push_str(&i.to_string());
                out.push(MARK);
            }
        }
    }
    out
}

/// Replaces the markers left in a split word by the values they stand for.
fn fill_marked(word: &str, pieces: &[Piece], vars: &Vars<'_>) -> String {
    let mut out = String::new();
    fill_marked_with(word, pieces, &mut out, &|name, out| {
        out.push_str(value(vars, name))
    });
    out
}

/// [`fill_marked`] into `out`, each variable's value added by `value` (a plain list's job
/// fills its template's words without a [`Vars`] map: see `crate::manifest::key`).
pub(crate) fn fill_marked_with(
    word: &str,
    pieces: &[Piece],
    out: &mut String,
    value: &dyn Fn(&str, &mut String),
) {
    // Markers come in pairs; the text between a pair is the piece number.
    let mut parts = word.split(MARK);
    if let Some(first) = parts.next() {
        out.push_str(first);
    }
    while let (Some(n), Some(text)) = (parts.next(), parts.next()) {
        if let Some(Piece::Var(name)) = n.parse::<usize>().ok().and_then(|i| pieces.get(i)) {
            value(name, out);
        }
        out.push_str(text);
    }
}

/// Whether a word of [`split_words`] holds a placeholder.
pub(crate) fn has_marker(word: &str) -> bool {
    word.contains(MARK)
}

/// Whether a shell-mode template puts a placeholder inside quotes of its own (`"{x}"`,
/// `'{x}'`): the value, quoted once more by batchrun, is then partly unquoted again, so the
/// shell expands `$(…)` in it.
pub fn quoted_placeholder(pieces: &[Piece]) -> bool {
    #[derive(PartialEq)]
    enum Q {
        None,
        Single,
        Double,
    }
    let mut q = Q::None;
    for p in pieces {
        let s = match p {
            Piece::Var(_) if q != Q::None => return true,
            Piece::Var(_) => continue,
            Piece::Lit(s) => s,
        };
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            match (&q, c) {
                (Q::None | Q::Double, '\\') => {
                    chars.next();
                }
                (Q::None, '\'') => q = Q::Single,
                (Q::None, '"') => q = Q::Double,
                (Q::Single, '\'') | (Q::Double, '"') => q = Q::None,
                _ => {}
            }
        }
    }
    false
}

/// Whether a shell-mode template puts a placeholder in the body of a here-document whose
/// delimiter is not quoted (`cat <<EOF` … `{x}` … `EOF`): the shell expands `$(…)` and `$x`
/// in such a body whatever quotes batchrun put around the value (they are literal there).
pub fn heredoc_placeholder(pieces: &[Piece]) -> bool {
    if !pieces.iter().any(|p| matches!(p, Piece::Var(_))) {
        return false;
    }
    let text = marked(pieces);
    // Delimiters of here-documents opened on the current line, in order; bodies follow.
    let mut pending: std::collections::VecDeque<(String, bool, bool)> = Default::default();
    let mut body: Option<(String, bool, bool)> = None;
    for line in text.split('\n') {
        if let Some((word, strip_tabs, expands)) = &body {
            let end = if *strip_tabs {
                line.trim_start_matches('\t')
            } else {
                line
            };
            if end == word {
                body = pending.pop_front();
            } else if *expands && line.contains(MARK) {
                return true;
            }
            continue;
        }
        pending.extend(heredocs_opened(line));
        body = pending.pop_front();
    }
    false
}

/// The here-documents a command line opens (`<<WORD`, `<<-WORD`; not `<<<`): each delimiter,
/// whether leading tabs are stripped (`<<-`), and whether the body is expanded (the
/// delimiter has no quotes or backslashes).
fn heredocs_opened(line: &str) -> Vec<(String, bool, bool)> {
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("<<") {
        rest = &rest[at + 2..];
        if let Some(after) = rest.strip_prefix('<') {
            rest = after.trim_start_matches('<');
            continue;
        }
        let strip_tabs = rest.starts_with('-');
        let word_start = rest.trim_start_matches('-').trim_start_matches([' ', '\t']);
        let len = word_start
            .find(|c: char| c.is_whitespace() || ";|&<>()".contains(c))
            .unwrap_or(word_start.len());
        let raw = &word_start[..len];
        rest = &word_start[len..];
        if raw.is_empty() {
            continue;
        }
        let expands = !raw.contains(['\'', '"', '\\']);
        let word: String = raw.chars().filter(|c| !"'\"\\".contains(*c)).collect();
        found.push((word, strip_tabs, expands));
    }
    found
}

/// Shells that take a script with `-c`.
const SHELLS: [&str; 8] = ["sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "busybox"];

/// Whether a direct-mode template runs a shell with `-c` and puts a placeholder in its
/// arguments (`sh -c 'echo {x}'`): the shell re-parses the value, so `$(…)` in it runs.
pub fn nested_shell(pieces: &[Piece]) -> bool {
    // Cheap first: most commands do not start with a shell's name.
    let starts_with_shell = match pieces.first() {
        Some(Piece::Lit(s)) => s
            .split_whitespace()
            .next()
            .and_then(|w| w.trim_matches(['\'', '"']).rsplit('/').next())
            .is_some_and(|p| SHELLS.contains(&p)),
        _ => false,
    };
    if !starts_with_shell {
        return false;
    }
    let Ok(words) = shell_words::split(&marked(pieces)) else {
        return false;
    };
    let Some(first) = words.first() else {
        return false;
    };
    let program = first.rsplit('/').next().unwrap_or(first);
    let has_c = words[1..]
        .iter()
        .any(|w| w.starts_with('-') && !w.starts_with("--") && w.contains('c'));
    SHELLS.contains(&program) && has_c && words[1..].iter().any(|w| w.contains(MARK))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn vars<'a>(pairs: &[(&'a str, &'a str)]) -> Vars<'a> {
        pairs.iter().map(|&(k, v)| (k, Cow::Borrowed(v))).collect()
    }

    #[test]
    fn a_value_is_found_by_its_whole_name_in_small_and_big_maps() {
        let names = [
            "", ".", "/", "//", "/.", "#", "id", "a", "ab", "b", "ba", "abc",
        ];
        for n in [3, SCANNED, SCANNED + 1, names.len()] {
            let pairs: Vec<_> = names[..n].iter().map(|&k| (k, k)).collect();
            let v = vars(&pairs);
            for (i, name) in names.iter().enumerate() {
                let want = if i < n { *name } else { "" };
                assert_eq!(super::value(&v, name), want, "{name:?} among {n} variables");
            }
            assert_eq!(super::value(&v, "abcd"), "");
        }
    }

    #[test]
    fn private_use_characters_are_kept_exactly() {
        let p = parse("echo \u{E000} 1 \u{E001} {x}").unwrap();
        let v = vars(&[("x", "VALUE")]);
        assert_eq!(
            split_direct(&p, &v, false).unwrap(),
            ["echo", "\u{E000}", "1", "\u{E001}", "VALUE"]
        );
        assert_eq!(
            render(&p, &v, true, false),
            "echo \u{E000} 1 \u{E001} VALUE".to_string()
        );
    }

    #[test]
    fn braces_that_are_not_placeholders_are_text() {
        let cols = |n: &str| n == "my col";
        let p = |s: &str| parse_with(s, &cols).unwrap();
        let lit = |s: &str| vec![Piece::Lit(s.to_string())];
        assert_eq!(p("awk '{print $2}'"), lit("awk '{print $2}'"));
        assert_eq!(p("echo ${HOME} ${x}"), lit("echo ${HOME} ${x}"));
        assert_eq!(p(r#"{"a": {"b": 1}}"#), lit(r#"{"a": {"b": 1}}"#));
        assert_eq!(p("a } {{x}} {%"), lit("a } {x} {%"));
        assert_eq!(
            p("{my col}{x}{/.}{#}"),
            ["my col", "x", "/.", "#"].map(|n| Piece::Var(n.to_string()))
        );
        assert!(parse_with("{name", &cols).is_err());
        let e = checked("{nmae}", &|n| n == "name", &["id".into(), "name".into()]).unwrap_err();
        assert!(
            e.contains("nearest first: {name}, {id}; or {{nmae}}"),
            "{e}"
        );
    }

    #[test]
    fn item_forms_as_gnu_parallel() {
        let f = |form: &str, item: &str| item_form(form, item).into_owned();
        assert_eq!(f(".", "d/a.tar.gz"), "d/a.tar");
        assert_eq!(f(".", "d.x/a"), "d.x/a");
        assert_eq!(f(".", "d/.bashrc"), "d/.bashrc");
        assert_eq!(f("/", "d/a.tar.gz"), "a.tar.gz");
        assert_eq!(f("//", "d/e/a"), "d/e");
        assert_eq!(f("//", "a"), ".");
        assert_eq!(f("//", "/a"), "/");
        assert_eq!(f("/.", "d/a.tar.gz"), "a.tar");
        assert_eq!(f("", "-x y"), "-x y");
    }

    #[test]
    fn several_items_become_several_words() {
        let p = parse("cmd -v {} {/}").unwrap();
        let v = vars(&[("", "a b\0-c"), ("/", "a b\0-c")]);
        assert_eq!(
            split_direct(&p, &v, true).unwrap(),
            ["cmd", "-v", "a b", "-c", "a b", "-c"]
        );
        assert_eq!(render(&p, &v, true, true), "cmd -v 'a b' -c 'a b' -c");
        assert!(item_forms_alone(&p));
        assert!(!item_forms_alone(&parse("cmd x{}").unwrap()));
    }

    #[test]
    fn values_stay_inside_their_word() {
        let p = parse("cp '{a} x' pre{b}\"{a}\" {{lit}}").unwrap();
        let v = vars(&[("a", "1 '2\"\0"), ("b", "$(id) ;")]);
        assert_eq!(
            split_direct(&p, &v, false).unwrap(),
            ["cp", "1 '2\"\0 x", "pre$(id) ;1 '2\"\0", "{lit}"]
        );
    }

    #[test]
    fn patterns_that_reparse_a_value() {
        let t = |s: &str| parse(s).unwrap();
        assert!(nested_shell(&t("sh -c 'echo {x}'")));
        assert!(nested_shell(&t("/bin/bash -ec \"wc {x}\"")));
        assert!(!nested_shell(&t("sh -c 'echo $1' sh")));
        assert!(!nested_shell(&t("echo sh -c {x}")));
        assert!(quoted_placeholder(&t("echo \"{x}\"")));
        assert!(quoted_placeholder(&t("echo 'a {x}'")));
        assert!(!quoted_placeholder(&t("echo {x} 'q' \\'{y}")));
        assert!(heredoc_placeholder(&t("cat <<EOF\n{name}\nEOF")));
        assert!(heredoc_placeholder(&t(
            "cat <<-END >out\n\tx {name}\n\tEND"
        )));
        assert!(heredoc_placeholder(&t("a <<'Q' && b <<R\n{x}\nQ\n{y}\nR")));
        assert!(!heredoc_placeholder(&t("a <<'Q' && b <<R\n{x}\nQ\ny\nR")));
        assert!(!heredoc_placeholder(&t("cat <<'EOF'\n{name}\nEOF")));
        assert!(!heredoc_placeholder(&t(
            "cat <<\"EOF\"\n{name}\nEOF\necho {x}"
        )));
        assert!(!heredoc_placeholder(&t(
            "cat <<EOF {x}\nbody\nEOF\necho {y}"
        )));
        assert!(!heredoc_placeholder(&t("cat <<< {x}")));
    }

    /// A literal piece of a word of a template: anything but NUL, and often the characters
    /// that quoting, splitting and markers care about (private-use ones included).
    fn lit_word() -> impl Strategy<Value = String> {
        prop_oneof!["[^\u{0}]{1,8}", "[a0-9 '\"\\{}$\u{E000}\u{E001}]{1,8}"]
    }

    /// `s` quoted for the shell, then escaped for a template.
    fn lit_text(s: &str) -> String {
        shell_words::quote(s).replace('{', "{{").replace('}', "}}")
    }

    /// Any value (no NUL: the manifest rejects those).
    fn value() -> impl Strategy<Value = String> {
        prop_oneof!["[^\u{0}]{0,12}", "[a0-9 '\"\\{}$\u{E000}\u{E001}]{0,12}"]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Direct mode: each placeholder's value ends up verbatim inside exactly the word it
        /// was in, whatever the literal text and the values hold.
        #[test]
        fn direct_mode_never_splits_requotes_or_injects(
            words in prop::collection::vec((lit_word(), prop::option::of(value()), lit_word()), 1..5)
        ) {
            let mut text = String::new();
            let mut expected = Vec::new();
            for (i, (before, val, after)) in words.iter().enumerate() {
                if i > 0 {
                    text.push(' ');
                }
                text.push_str(&lit_text(before));
                let mut word = before.clone();
                if let Some(v) = val {
                    text.push_str(&format!("{{v{i}}}"));
                    word.push_str(v);
                }
                text.push_str(&lit_text(after));
                word.push_str(after);
                expected.push(word);
            }
            let names: Vec<(String, String)> = words
                .iter()
                .enumerate()
                .filter_map(|(i, (_, v, _))| v.clone().map(|v| (format!("v{i}"), v)))
                .collect();
            let v: Vars<'_> = names.iter().map(|(k, v)| (k.as_str(), Cow::Borrowed(v.as_str()))).collect();
            let pieces = parse(&text).unwrap();
            prop_assert_eq!(split_direct(&pieces, &v, false).unwrap(), expected);
        }

        /// The fast path for plain text splits as shell quoting does, and declines every text
        /// that is not plain.
        #[test]
        fn plain_words_split_as_shell_words_does(text in "[a-zA-Z0-9 \\\\\\-_./,:+=@%^~#'\"\t\n${}é]{0,24}") {
            let shell = shell_words::split(&text).map_err(|e| e.to_string());
            match plain_words(&text) {
                Some(words) => prop_assert_eq!(Ok(words), shell),
                None => prop_assert!(text.contains(['\\', '#', '\'', '"', '\t', '\n', '$', '{', '}', 'é']), "declined {:?}", text),
            }
        }

        /// Shell mode: the rendered string, split as the shell would, gives back each value as
        /// one word, verbatim.
        #[test]
        fn shell_mode_quotes_every_value(
            lit in "[a-z]{1,6}",
            vals in prop::collection::vec(value(), 1..4)
        ) {
            let mut text = lit.clone();
            for i in 0..vals.len() {
                text.push_str(&format!(" {{v{i}}}"));
            }
            let names: Vec<String> = (0..vals.len()).map(|i| format!("v{i}")).collect();
            let v: Vars<'_> = names.iter().map(String::as_str).zip(vals.iter().map(|v| Cow::Borrowed(v.as_str()))).collect();
            let rendered = render(&parse(&text).unwrap(), &v, true, false);
            let mut expected = vec![lit];
            expected.extend(vals.iter().cloned());
            prop_assert_eq!(shell_words::split(&rendered).unwrap(), expected);
        }
    }

    /// `value` printed by a real `/bin/sh` from `printf %s {x}` in shell mode.
    fn through_sh(value: &str) -> String {
        let p = parse("printf %s {x}").unwrap();
        let s = render(&p, &vars(&[("x", value)]), true, false);
        let out = std::process::Command::new("/bin/sh")
            .args(["-c", &s])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn shell_mode_round_trips_through_a_real_shell() {
        for value in [
            "$(touch pwned)",
            "a'b\"c",
            "`id`;|&<>* ~",
            "\u{E000}\u{E001}",
            "",
        ] {
            assert_eq!(through_sh(value), value);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Shell mode, with a real shell: whatever the value, `sh -c 'printf %s VALUE'` prints
        /// it back unchanged (nothing in it is expanded or run).
        #[test]
        fn a_real_shell_prints_every_value_back(value in "[^\u{0}]{0,16}") {
            prop_assert_eq!(through_sh(&value), value);
        }
    }
}
