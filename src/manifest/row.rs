//! One row made a job: its fields as text, its id, and its settings, command, working
//! directory and environment checked ([`build_job`]), both when the row is first read and when
//! it is read again.

use std::borrow::Cow;
use std::path::PathBuf;

use crate::manifest::layout::{CommandSource, Layout};
use crate::manifest::problems::{Problems, Row};
use crate::manifest::syntax;
use crate::manifest::template::{self, Piece, Vars};
use crate::manifest::warn::Warner;
use crate::model::config::InputFormat;
use crate::model::job::{CommandLine, JobSpec};
use crate::model::retry::RetryOn;
use crate::util::duration::{parse_bool, parse_duration};

/// The message of an empty command.
const EMPTY_COMMAND: &str = "empty command (expected a command line)";

/// A record's fields as text; or, when it has the wrong number of fields or invalid UTF-8 (the
/// problems reported), its id column as it stands.
pub(crate) fn row_fields<'r>(
    rec: &'r csv::ByteRecord,
    line: u64,
    layout: &Layout,
    problems: &mut Problems<'_>,
) -> Result<Vec<&'r str>, Option<String>> {
    let columns = &layout.columns;
    let id = || {
        let raw = layout.cols.id.and_then(|i| rec.get(i))?;
        Some(String::from_utf8_lossy(raw).trim().to_string())
    };
    if layout.opts.input != InputFormat::Table {
        return list_fields(rec, line, layout, problems);
    }
    if rec.len() != columns.len() {
        problems.push(
            Some(line),
            None,
            format!(
                "{} fields (expected {}, one per header column: {})",
                rec.len(),
                columns.len(),
                columns.join(", ")
            ),
        );
        return Err(id());
    }
    let mut fields = Vec::with_capacity(rec.len());
    let mut utf8_ok = true;
    for (i, raw) in rec.iter().enumerate() {
        match std::str::from_utf8(raw) {
            Ok(s) => fields.push(s),
            Err(e) => {
                problems.push(
                    Some(line),
                    Some(&columns[i]),
                    format!(
                        "invalid UTF-8 at byte {} of the field (expected UTF-8 text)",
                        e.valid_up_to() + 1
                    ),
                );
                utf8_ok = false;
            }
        }
    }
    if utf8_ok {
        Ok(fields)
    } else {
        Err(None)
    }
}

/// A plain list's items (one, or with `-n N` up to N), each checked to be UTF-8 (and, when
/// they are several, to hold no NUL byte: NUL separates them in a value).
fn list_fields<'r>(
    rec: &'r csv::ByteRecord,
    line: u64,
    layout: &Layout,
    problems: &mut Problems<'_>,
) -> Result<Vec<&'r str>, Option<String>> {
    let mut items = Vec::with_capacity(rec.len());
    for raw in rec {
        match std::str::from_utf8(raw) {
            Ok(item) if layout.multi() && item.contains('\0') => {
                problems.push(Some(line), None, nul_message("an item"));
                return Err(None);
            }
            Ok(item) => items.push(item),
            Err(e) => {
                let m = format!(
                    "invalid UTF-8 at byte {} of the item (expected UTF-8 text)",
                    e.valid_up_to() + 1
                );
                problems.push(Some(line), None, m);
                return Err(None);
            }
        }
    }
    Ok(items)
}

/// The message of a NUL byte where a process needs text.
fn nul_message(what: &str) -> String {
    format!("{what} holds a NUL byte (expected text without NUL: no process can receive one)")
}

/// Field `c` of a row, or "" for a column the manifest does not have.
fn field<'f>(fields: &[&'f str], c: Option<usize>) -> &'f str {
    c.map_or("", |i| fields[i])
}

/// The row's id, unchecked: from the `id` column, built by `--id`, or the row number.
pub(crate) fn row_id<'f>(l: &Layout, index: usize, fields: &[&'f str]) -> Cow<'f, str> {
    match (&l.id_template, l.cols.id) {
        (Some(t), _) => Cow::Owned(template::render(
            t,
            &l.vars(fields, "", index + 1),
            false,
            false,
        )),
        (None, Some(i)) => Cow::Borrowed(fields[i].trim()),
        (None, None) => Cow::Owned((index + 1).to_string()),
    }
}

/// Builds the job of a row (`at`: its index and line) whose id is `id`, reporting its
/// problems on `row`; `warner` (none when a row is read again) collects warnings. Returns
/// `None` when the row has problems, though not always: compare the problem count.
pub(crate) fn build_job(
    l: &Layout,
    (index, line): (usize, u64),
    id: &str,
    fields: &[&str],
    row: &mut Row,
    warner: Option<&mut Warner>,
) -> Option<JobSpec> {
    let shell = match field(fields, l.cols.shell).trim() {
        "" => l.opts.shell,
        s => parse_bool(s).unwrap_or_else(|m| {
            row.err("shell", m);
            false
        }),
    };
    let timeout = match field(fields, l.cols.timeout).trim() {
        "" => l.opts.default_timeout,
        s => parse_duration(s).map(Some).unwrap_or_else(|m| {
            row.err("timeout", m);
            None
        }),
    };
    let retries = match field(fields, l.cols.retries).trim() {
        "" => l.opts.default_retries,
        s => s.parse::<u32>().unwrap_or_else(|_| {
            row.err(
                "retries",
                format!("'{s}' is not a whole number (expected 0, 1, 2, …)"),
            );
            0
        }),
    };
    let retry_on = match field(fields, l.cols.retry_on).trim() {
        "" => l.opts.default_retry_on.clone(),
        s => RetryOn::parse(s, false).unwrap_or_else(|problems| {
            for m in problems {
                row.err("retry_on", m);
            }
            None
        }),
    };
    let vars = RowVars {
        l,
        fields,
        id,
        number: index + 1,
        vars: std::cell::OnceCell::new(),
    };
    let cwd = row_cwd(l, field(fields, l.cols.cwd), &vars, row);
    let env = row_env(l, field(fields, l.cols.env), &vars, row);
    let mut warner = warner;
    if let Some(w) = warner.as_deref_mut() {
        if syntax::has_expansion(field(fields, l.cols.env)) {
            w.env_not_expanded(row);
        }
    }
    let command = row_command(l, fields, &vars, shell, row, warner)?;
    Some(JobSpec {
        index,
        line,
        id: id.to_string(),
        command,
        timeout,
        retries,
        retry_on,
        after: after_ids(l, fields),
        group: group(l, fields),
        cwd,
        env,
    })
}

/// The ids a row's `after` column names.
fn after_ids(l: &Layout, fields: &[&str]) -> Vec<String> {
    field(fields, l.cols.after)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// A row's `group`, if it names one.
pub(crate) fn group(l: &Layout, fields: &[&str]) -> Option<String> {
    Some(field(fields, l.cols.group).trim())
        .filter(|g| !g.is_empty())
        .map(str::to_string)
}

/// The job of a row that was valid when first read, as far as the plan table shows it (id,
/// command, timeout, retries, group, `after`; no `cwd`, `env` or `retry_on`), made without
/// checking the row again: when its command is a column's plain text run directly
/// ([`template::plain_words`]), which is most rows of big manifests. `None` for any other
/// row: [`build_job`] builds it whole. `check` prints its table from these.
pub(crate) fn table_job(
    l: &Layout,
    (index, line): (usize, u64),
    id: &str,
    fields: &[&str],
    retries: u32,
) -> Option<JobSpec> {
    let CommandSource::Column(c) = l.command else {
        return None;
    };
    let direct = l.opts.input == InputFormat::Table
        && !l.multi()
        && match field(fields, l.cols.shell).trim() {
            "" => !l.opts.shell,
            _ => false,
        };
    let words = template::plain_words(fields[c]).filter(|_| direct)?;
    let timeout = match field(fields, l.cols.timeout).trim() {
        "" => l.opts.default_timeout,
        s => parse_duration(s).ok(),
    };
    Some(JobSpec {
        index,
        line,
        id: id.to_string(),
        command: CommandLine::Direct(words),
        timeout,
        retries,
        retry_on: None,
        after: after_ids(l, fields),
        group: group(l, fields),
        cwd: None,
        env: Vec::new(),
    })
}

/// Whether a command column's text is simple: letters, digits, spaces and `,._+:@/-` only,
/// and not blank. Run without a shell, such a text has no placeholder, no shell syntax and
/// nothing to warn about, and its words are its parts between spaces, none needing quotes to
/// be shown ([`shell_words::quote`]): what checking it in full would find, known at once.
fn simple(text: &str) -> bool {
    simple_shape(text).is_some()
}

/// [`simple`] and more in one pass over the text (it runs on every row of a big manifest):
/// `None` when `text` is not simple, `Some(true)` when it is and its words are already joined
/// by single spaces (no space leads, trails or doubles), so the text is its own display.
fn simple_shape(text: &str) -> Option<bool> {
    const ALLOWED: [bool; 256] = {
        let mut t = [false; 256];
        let mut b = 0;
        while b < 256 {
            let c = b as u8;
            t[b] = c.is_ascii_alphanumeric()
                || matches!(
                    c,
                    b' ' | b',' | b'.' | b'_' | b'+' | b':' | b'@' | b'/' | b'-'
                );
            b += 1;
        }
        t
    };
    // A leading space reads as one after a space: not single-spaced.
    let (mut after_space, mut single, mut word) = (true, true, false);
    for &c in text.as_bytes() {
        if !ALLOWED[c as usize] {
            return None;
        }
        if c == b' ' {
            single &= !after_space;
            after_space = true;
        } else {
            (after_space, word) = (false, true);
        }
    }
    word.then_some(single && !after_space)
}

/// The words of a [`simple`] command text, run without a shell.
fn simple_words(text: &str) -> Option<Vec<String>> {
    simple(text).then(|| {
        text.split(' ')
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect()
    })
}

/// The cells of a row's line in the plan table (`crate::app::check`'s `plan_cells` of its
/// [`table_job`]), made straight from its fields, given to `f`: for a row that was valid when
/// first read and whose command is a [`simple`] text run directly (most rows of big
/// manifests). `false`, without calling `f`, for any other row, and for a row whose timeout
/// is not valid.
pub(crate) fn table_cells(
    l: &Layout,
    index: usize,
    fields: &[&str],
    retries: u32,
    f: &mut dyn FnMut(&[&str; 6]),
) -> bool {
    let Some(mut command) = simple_display(l, fields) else {
        return false;
    };
    if command.len() > crate::model::job::TABLE_COMMAND {
        // ASCII: a character is a byte.
        command = Cow::Owned(format!(
            "{}…",
            &command[..crate::model::job::TABLE_COMMAND - 1]
        ));
    }
    let id = row_id(l, index, fields);
    let retries_text;
    let retries = match retries {
        r @ 0..=9 => &"0123456789"[r as usize..r as usize + 1],
        r => {
            retries_text = r.to_string();
            &retries_text
        }
    };
    let group = Some(field(fields, l.cols.group).trim()).filter(|g| !g.is_empty());
    let after_text = field(fields, l.cols.after).trim();
    let single_spaced = after_text
        .split(' ')
        .all(|w| !w.is_empty() && !w.contains(char::is_whitespace));
    let after_joined;
    let after = if after_text.is_empty() {
        "-"
    } else if single_spaced {
        after_text
    } else {
        after_joined = after_text.split_whitespace().collect::<Vec<_>>().join(" ");
        &after_joined
    };
    timeout_cell(l, field(fields, l.cols.timeout).trim(), |timeout| {
        f(&[
            &*id,
            &command,
            timeout,
            retries,
            group.unwrap_or("-"),
            after,
        ]);
    })
}

/// What checking a row in full finds of it for the plan (its retry count and its plan table
/// cells' widths), made from its fields, for a row valid at a glance: a [`simple`] command run
/// directly, no `cwd`, `env` or `retry_on`, and a valid timeout and retry count. `None` for
/// any other row: build its job ([`build_job`]), which reports what is wrong.
pub(crate) fn quick_check(l: &Layout, index: usize, fields: &[&str]) -> Option<(u32, [usize; 6])> {
    let empty = |c: Option<usize>| field(fields, c).trim().is_empty();
    if !empty(l.cols.cwd) || !empty(l.cols.env) || !empty(l.cols.retry_on) {
        return None;
    }
    let retries = match field(fields, l.cols.retries).trim() {
        "" => l.opts.default_retries,
        s => s.parse::<u32>().ok()?,
    };
    // `table_cells` refuses a timeout that is not valid.
    let mut widths = None;
    table_cells(l, index, fields, retries, &mut |cells| {
        widths = Some(cells.map(crate::model::job::cell_width));
    });
    Some((retries, widths?))
}

/// The command of a row that was valid when first read as [`CommandLine::display`] shows it,
/// when it is a [`simple`] text run directly: its words joined by single spaces.
pub(crate) fn simple_display<'f>(l: &Layout, fields: &[&'f str]) -> Option<Cow<'f, str>> {
    let CommandSource::Column(c) = l.command else {
        return None;
    };
    let direct = l.opts.input == InputFormat::Table
        && !l.multi()
        && field(fields, l.cols.shell).trim().is_empty()
        && !l.opts.shell;
    let text = fields[c];
    if !direct {
        return None;
    }
    Some(if simple_shape(text)? {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(text.split_whitespace().collect::<Vec<_>>().join(" "))
    })
}

/// The plan table's cell of a timeout field's trimmed `text`, given to `f`; `false`, without
/// calling `f`, when the text is not a valid timeout. The last is remembered per thread, as
/// most rows of a manifest share their time limit.
fn timeout_cell(l: &Layout, text: &str, f: impl FnOnce(&str)) -> bool {
    thread_local! {
        static LAST: std::cell::RefCell<(String, Option<String>)> = const {
            std::cell::RefCell::new((String::new(), None))
        };
    }
    let make = |text: &str| match text {
        "" => Some(
            l.opts
                .default_timeout
                .map_or_else(|| "-".to_string(), crate::model::job::duration_text),
        ),
        s => parse_duration(s).ok().map(crate::model::job::duration_text),
    };
    let give = |cell: &Option<String>| cell.as_deref().map(f).is_some();
    if text.is_empty() {
        // The default: not remembered, as it is not the field's text.
        return give(&make(text));
    }
    LAST.with_borrow_mut(|(raw, cell)| {
        if raw != text {
            *cell = make(text);
            raw.clear();
            raw.push_str(text);
        }
        give(cell)
    })
}

/// A row's variables, made the first time a template has a placeholder (most have none).
struct RowVars<'a> {
    l: &'a Layout,
    fields: &'a [&'a str],
    id: &'a str,
    /// The job's 1-based number (`{#}`).
    number: usize,
    vars: std::cell::OnceCell<Vars<'a>>,
}

/// What a template without placeholders is filled with: made once (a map's hasher takes a
/// random seed, which costs more than checking a row).
static NO_VARS: std::sync::LazyLock<Vars<'static>> = std::sync::LazyLock::new(Vars::new);

impl<'a> RowVars<'a> {
    /// The variables `pieces` need: all of them, or none for a template without placeholders.
    fn of(&self, pieces: &[Piece]) -> &Vars<'a> {
        if pieces.iter().any(|p| matches!(p, Piece::Var(_))) {
            self.vars
                .get_or_init(|| self.l.vars(self.fields, self.id, self.number))
        } else {
            &NO_VARS
        }
    }
}

/// The row's command, checked, with the warnings it deserves.
fn row_command(
    l: &Layout,
    fields: &[&str],
    vars: &RowVars<'_>,
    shell: bool,
    row: &mut Row,
    warner: Option<&mut Warner>,
) -> Option<CommandLine> {
    if let CommandSource::Column(c) = l.command {
        if !shell {
            if let Some(words) = simple_words(fields[c]) {
                return Some(CommandLine::Direct(words));
            }
        }
    }
    let pieces = match &l.command {
        CommandSource::Invalid => return None,
        CommandSource::Item => Cow::Owned(vec![Piece::Lit(fields[0].to_string())]),
        CommandSource::Template(p) => Cow::Borrowed(p),
        CommandSource::Column(c) => {
            let is_var = |n: &str| l.is_var(n);
            match template::checked(fields[*c], &is_var, &l.var_names) {
                Ok(p) => Cow::Owned(p),
                Err(m) => {
                    row.err("command", m);
                    return None;
                }
            }
        }
    };
    if template::has_nul(&pieces) {
        row.err("command", nul_message("the command"));
        return None;
    }
    let item_shell = matches!(l.command, CommandSource::Item);
    let command = if shell || item_shell {
        CommandLine::Shell(template::render(&pieces, vars.of(&pieces), true, l.multi()))
    } else {
        let checked_once = matches!(l.command, CommandSource::Template(_)) && l.always_direct();
        let found = (!checked_once).then(|| syntax::scan(&pieces));
        if let Some(m) = found.as_ref().and_then(syntax::operators_problem) {
            row.err("command", m);
            return None;
        }
        let split = match &l.command {
            // The same template for every row: split once.
            CommandSource::Template(p) => {
                match l.template_words.get_or_init(|| template::split_words(p)) {
                    Ok(words) => Ok(template::fill_words(words, p, vars.of(p), l.multi())),
                    Err(e) => Err(e.clone()),
                }
            }
            _ => template::split_direct(&pieces, vars.of(&pieces), l.multi()),
        };
        match split {
            Ok(words) => CommandLine::Direct(words),
            Err(e) => {
                row.err(
                    "command",
                    format!("{e} (expected POSIX shell quoting, or shell=true)"),
                );
                return None;
            }
        }
    };
    if command.is_empty() {
        row.err("command", EMPTY_COMMAND);
        return None;
    }
    if command.has_nul() {
        row.err("command", nul_message("a value in the command"));
        return None;
    }
    if let Some(w) = warner.filter(|_| !item_shell) {
        w.warn(l, &pieces, shell, row);
    }
    Some(command)
}

/// The row's working directory (a template).
fn row_cwd(l: &Layout, text: &str, vars: &RowVars<'_>, row: &mut Row) -> Option<PathBuf> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let is_var = |n: &str| l.is_var(n);
    let pieces = template::checked(text, &is_var, &l.var_names)
        .map_err(|m| row.err("cwd", m))
        .ok()?;
    let dir = template::render(&pieces, vars.of(&pieces), false, false);
    if dir.contains('\0') {
        row.err("cwd", nul_message("the working directory"));
        return None;
    }
    Some(PathBuf::from(dir))
}

/// The row's extra environment: `KEY=VALUE` words, each value a template.
fn row_env(l: &Layout, text: &str, vars: &RowVars<'_>, row: &mut Row) -> Vec<(String, String)> {
    let mut env = Vec::new();
    if text.trim().is_empty() {
        return env;
    }
    let words = match shell_words::split(text) {
        Ok(w) => w,
        Err(e) => {
            row.err(
                "env",
                format!("{e} (expected KEY=VALUE words with shell quoting)"),
            );
            return env;
        }
    };
    let is_var = |n: &str| l.is_var(n);
    for w in words {
        let Some((k, v)) = w.split_once('=') else {
            row.err("env", format!("'{w}' has no '=' (expected KEY=VALUE)"));
            continue;
        };
        let valid_key = !k.is_empty()
            && !k.starts_with(|c: char| c.is_ascii_digit())
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_key {
            row.err(
                "env",
                format!("'{k}' is not a variable name (expected letters, digits and _, not starting with a digit)"),
            );
            continue;
        }
        let Ok(pieces) = template::checked(v, &is_var, &l.var_names).map_err(|m| row.err("env", m))
        else {
            continue;
        };
        let value = template::render(&pieces, vars.of(&pieces), false, false);
        if value.contains('\0') {
            row.err("env", nul_message(&format!("the value of {k}")));
            continue;
        }
        env.push((k.to_string(), value));
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A command text's shape in one pass: not simple (`None`), or simple and single-spaced
    /// (shown as it is) or not (shown with its words joined by single spaces).
    #[test]
    fn simple_command_shapes() {
        for (text, want) in [
            ("/bin/echo 1", Some(true)),
            ("a", Some(true)),
            ("a b,c.d_e+f:g@h/i-j", Some(true)),
            (" a", Some(false)),
            ("a ", Some(false)),
            ("a  b", Some(false)),
            ("  echo   two  ", Some(false)),
            ("", None),
            ("   ", None),
            ("echo $HOME", None),
            ("echo\ta", None),
            ("echo é", None),
            ("a 'b'", None),
        ] {
            assert_eq!(simple_shape(text), want, "{text:?}");
        }
    }
}
