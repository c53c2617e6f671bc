/*!
The manifest: CSV (or TSV) bytes → [`JobSpec`]s, every bad row reported with its line and column.

Reading never stops at the first problem: each row is checked in full and every problem is kept
as a [`Problem`], printed as `FILE:LINE: column 'NAME': what is wrong (what was expected)`.
Cross-row checks (`after` ids, cycles, `--limit` groups) live in [`crate::plan`].
*/

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// The columns with a meaning of their own; every other column is a variable.
pub const KNOWN_COLUMNS: [&str; 9] = [
    "id", "command", "shell", "timeout", "retries", "after", "group", "cwd", "env",
];

/// Longest id accepted.
pub const MAX_ID_LEN: usize = 200;

/// One problem found while validating: where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The manifest's name as given on the command line (`-` is shown as `<stdin>`), or the
    /// option the problem is in.
    pub origin: String,
    /// 1-based line in the manifest, when the problem is in a row.
    pub line: Option<u64>,
    /// The column the problem is in, when there is one.
    pub column: Option<String>,
    /// What is wrong, then what was expected in parentheses.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.origin)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(col) = &self.column {
            write!(f, ": column '{col}'")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// How a job's command is run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandLine {
    /// Split into words with POSIX shell quoting and executed directly.
    Direct(Vec<String>),
    /// Given whole to `/bin/sh -c`.
    Shell(String),
}

impl CommandLine {
    /// The command as a person would type it (direct commands re-quoted).
    pub fn display(&self) -> String {
        match self {
            CommandLine::Direct(words) => shell_words::join(words),
            CommandLine::Shell(s) => s.clone(),
        }
    }
}

/// One fully resolved job: placeholders substituted, defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSpec {
    /// Position among the data rows, 0-based; the manifest order.
    pub index: usize,
    /// Line the row starts on, 1-based.
    pub line: u64,
    /// The unique job name.
    pub id: String,
    /// What to run.
    pub command: CommandLine,
    /// Time limit for one attempt.
    pub timeout: Option<Duration>,
    /// Extra attempts after a failure or timeout.
    pub retries: u32,
    /// Ids that must succeed first (checked in [`crate::plan`]).
    pub after: Vec<String>,
    /// Concurrency group.
    pub group: Option<String>,
    /// Working directory.
    pub cwd: Option<PathBuf>,
    /// Extra environment.
    pub env: Vec<(String, String)>,
}

/// Settings from the command line that shape how rows become jobs.
#[derive(Debug, Clone, Default)]
pub struct ManifestOptions {
    /// `--command`: one command template for every row.
    pub command_template: Option<String>,
    /// `--timeout`: the time limit of rows with an empty `timeout`.
    pub default_timeout: Option<Duration>,
    /// `--retries`: the retries of rows with an empty `retries`.
    pub default_retries: u32,
}

/// A parsed manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The name used in messages and the report.
    pub name: String,
    /// Every job, in manifest order.
    pub jobs: Vec<JobSpec>,
    /// The header's column names, in order.
    pub columns: Vec<String>,
    /// Ids of rows that had problems (and so are not in `jobs`): `after` may name them
    /// without a second, misleading "unknown id" problem.
    pub invalid_ids: HashSet<String>,
}

/// One piece of a `{placeholder}` template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Lit(String),
    Var(String),
}

/// Parses `{name}` placeholders, `{{` and `}}`.
fn parse_template(s: &str) -> Result<Vec<Piece>, String> {
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
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some('{') | None => {
                            return Err(format!(
                                "unclosed '{{' after '{{{name}' (expected {{column}}, or {{{{ for a literal brace)"
                            ))
                        }
                        Some(c) => name.push(c),
                    }
                }
                if !lit.is_empty() {
                    pieces.push(Piece::Lit(std::mem::take(&mut lit)));
                }
                pieces.push(Piece::Var(name));
            }
            '}' => return Err("lone '}' (expected }} for a literal brace)".to_string()),
            c => lit.push(c),
        }
    }
    if !lit.is_empty() {
        pieces.push(Piece::Lit(lit));
    }
    Ok(pieces)
}

/// Names in a template that are not variables, as one message.
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
    if unknown.is_empty() {
        return None;
    }
    let names: Vec<String> = unknown.iter().map(|n| format!("{{{n}}}")).collect();
    Some(format!(
        "placeholder {} names no column (expected one of: {})",
        names.join(", "),
        known
            .iter()
            .map(|k| format!("{{{k}}}"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// Parses a template whose placeholders must all be variables.
fn checked_template(
    text: &str,
    vars: &dyn Fn(&str) -> bool,
    known: &[String],
) -> Result<Vec<Piece>, String> {
    let pieces = parse_template(text)?;
    match unknown_placeholders(&pieces, vars, known) {
        Some(msg) => Err(msg),
        None => Ok(pieces),
    }
}

/// Fills a template; `quote` shell-quotes each value (shell mode).
fn render(pieces: &[Piece], vars: &HashMap<&str, &str>, quote: bool) -> String {
    let mut out = String::new();
    for p in pieces {
        match p {
            Piece::Lit(s) => out.push_str(s),
            Piece::Var(name) => {
                let value = vars.get(name.as_str()).copied().unwrap_or("");
                if quote {
                    out.push_str(&shell_words::quote(value));
                } else {
                    out.push_str(value);
                }
            }
        }
    }
    out
}

/// Parses a duration such as `250ms`, `30s`, `5m` or `1h30m` (must be more than zero).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let expected = "(expected a duration such as 250ms, 30s, 5m or 1h30m)";
    match humantime::parse_duration(s.trim()) {
        Ok(d) if d > Duration::ZERO => Ok(d),
        Ok(_) => Err(format!("'{s}' is zero {expected}")),
        Err(_) => Err(format!("'{s}' is not a duration {expected}")),
    }
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

/// Why an id is ill-formed, if it is.
pub fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("empty id (expected a unique job name)".to_string());
    }
    if id.chars().count() > MAX_ID_LEN {
        return Err(format!(
            "id is {} characters long (expected at most {MAX_ID_LEN})",
            id.chars().count()
        ));
    }
    if let Some(bad) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || ".-_:@+".contains(*c)))
    {
        return Err(format!(
            "id '{id}' contains {bad:?} (expected letters, digits and . _ - : @ +)"
        ));
    }
    Ok(())
}

/// Reads the manifest's bytes from a path, or from standard input for `-`.
pub fn read_source(path: &str) -> std::io::Result<Vec<u8>> {
    if path == "-" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut buf)?;
        Ok(buf)
    } else {
        std::fs::read(path)
    }
}

/// The name shown in messages for a manifest path.
pub fn display_name(path: &str) -> String {
    if path == "-" {
        "<stdin>".to_string()
    } else {
        path.to_string()
    }
}

/// Parses manifest bytes. `tsv` selects tab-separated, unquoted fields.
///
/// Returns every job, or every problem found.
pub fn parse(
    name: &str,
    bytes: &[u8],
    tsv: bool,
    opts: &ManifestOptions,
) -> Result<Manifest, Vec<Problem>> {
    let (m, problems) = parse_all(name, bytes, tsv, opts);
    if problems.is_empty() {
        Ok(m)
    } else {
        Err(problems)
    }
}

/// Parses manifest bytes, returning the jobs of the rows without problems together with every
/// problem found, so cross-row checks can still run on the valid rows.
pub fn parse_all(
    name: &str,
    bytes: &[u8],
    tsv: bool,
    opts: &ManifestOptions,
) -> (Manifest, Vec<Problem>) {
    let mut problems = Vec::new();
    let problem = |line: Option<u64>, column: Option<&str>, message: String| Problem {
        origin: name.to_string(),
        line,
        column: column.map(str::to_string),
        message,
    };
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);

    let make_reader = || {
        csv::ReaderBuilder::new()
            .delimiter(if tsv { b'\t' } else { b',' })
            .quoting(!tsv)
            .comment(Some(b'#'))
            .flexible(true)
            .has_headers(false)
            .from_reader(bytes)
    };
    let blank = |r: &csv::ByteRecord| r.len() == 1 && r[0].iter().all(u8::is_ascii_whitespace);
    // The csv reader's own line numbers skip comment and blank lines; count them ourselves.
    let lines = LineIndex::new(bytes);
    let locate = |r: &csv::ByteRecord| {
        let start = record_start(bytes, r.position().map_or(0, |p| p.byte() as usize));
        (start, lines.line_of(start))
    };

    // Two passes over the bytes, each reusing one record, so no row is held in memory twice:
    // the first finds the header and the last record, the second turns rows into jobs.
    let mut rec = csv::ByteRecord::new();
    let mut header: Option<(csv::ByteRecord, u64)> = None;
    let mut last: Option<(usize, u64)> = None;
    let mut data_rows = 0usize;
    let mut reader = make_reader();
    loop {
        match reader.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) if blank(&rec) => {}
            Ok(true) => {
                let (start, line) = locate(&rec);
                if header.is_none() {
                    header = Some((rec.clone(), line));
                } else {
                    data_rows += 1;
                }
                last = Some((start, line));
            }
            Err(e) => {
                let line = e
                    .position()
                    .map(|p| lines.line_of(record_start(bytes, p.byte() as usize)));
                problems.push(problem(line, None, format!("malformed CSV: {e}")));
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    break;
                }
            }
        }
    }
    let Some((header, header_line)) = header else {
        problems.push(problem(
            None,
            None,
            "no header row (expected a header naming the columns, such as id,command)".into(),
        ));
        let m = Manifest {
            name: name.to_string(),
            jobs: Vec::new(),
            columns: Vec::new(),
            invalid_ids: HashSet::new(),
        };
        return (m, problems);
    };
    // An unbalanced quote makes the csv reader swallow the rest of the file into one field:
    // a well-formed quoted record holds an even number of quote characters.
    let unbalanced_line = last.and_then(|(start, line)| {
        let quotes = bytes[start..].iter().filter(|&&b| b == b'"').count();
        (!tsv && quotes % 2 == 1).then_some(line)
    });

    let mut columns: Vec<String> = Vec::new();
    for (i, raw) in header.iter().enumerate() {
        match std::str::from_utf8(raw) {
            Ok(s) => {
                let s = s.trim().to_string();
                if s.is_empty() {
                    problems.push(problem(
                        Some(header_line),
                        None,
                        format!(
                            "header column {} has no name (expected a column name)",
                            i + 1
                        ),
                    ));
                } else if columns.contains(&s) {
                    problems.push(problem(
                        Some(header_line),
                        Some(&s),
                        "named twice in the header (expected each column once)".into(),
                    ));
                }
                columns.push(s);
            }
            Err(_) => {
                problems.push(problem(
                    Some(header_line),
                    None,
                    format!(
                        "header column {} is not valid UTF-8 (expected UTF-8 text)",
                        i + 1
                    ),
                ));
                columns.push(String::new());
            }
        }
    }
    let col = |name: &str| columns.iter().position(|c| c == name);
    let (c_id, c_cmd, c_shell, c_timeout, c_retries, c_after, c_group, c_cwd, c_env) = (
        col("id"),
        col("command"),
        col("shell"),
        col("timeout"),
        col("retries"),
        col("after"),
        col("group"),
        col("cwd"),
        col("env"),
    );
    let mut var_names: Vec<String> = columns.iter().filter(|c| !c.is_empty()).cloned().collect();
    if c_id.is_none() {
        var_names.insert(0, "id".to_string());
    }
    let is_var = |n: &str| n == "id" || columns.iter().any(|c| c == n);

    let template_pieces = match (&opts.command_template, c_cmd) {
        (Some(_), Some(_)) => {
            problems.push(problem(
                Some(header_line),
                Some("command"),
                "present together with --command (expected one or the other)".into(),
            ));
            None
        }
        (Some(t), None) => match checked_template(t, &is_var, &var_names) {
            Ok(p) => Some(p),
            Err(message) => {
                problems.push(Problem {
                    origin: "--command".into(),
                    line: None,
                    column: None,
                    message,
                });
                None
            }
        },
        (None, None) => {
            problems.push(problem(
                Some(header_line),
                None,
                "no 'command' column (expected a 'command' column, or the --command option)".into(),
            ));
            None
        }
        (None, Some(_)) => None,
    };

    let mut jobs = Vec::with_capacity(data_rows);
    let mut seen_ids: HashMap<String, u64> = HashMap::new();
    let mut invalid_ids = HashSet::new();
    let mut reader = make_reader();
    let mut seen_header = false;
    let mut next_index = 0usize;
    while let Ok(true) = reader.read_byte_record(&mut rec) {
        if blank(&rec) {
            continue;
        }
        if !seen_header {
            seen_header = true;
            continue;
        }
        let index = next_index;
        next_index += 1;
        let rec = &rec;
        let (_, line) = locate(rec);
        if Some(line) == unbalanced_line {
            problems.push(problem(
                Some(line),
                None,
                "unbalanced quote: a quoted field opened here never closes (expected a closing \")"
                    .into(),
            ));
            continue;
        }
        if rec.len() != columns.len() {
            if let Some(raw) = c_id.and_then(|i| rec.get(i)) {
                invalid_ids.insert(String::from_utf8_lossy(raw).trim().to_string());
            }
            problems.push(problem(
                Some(line),
                None,
                format!(
                    "{} fields (expected {}, one per header column: {})",
                    rec.len(),
                    columns.len(),
                    columns.join(", ")
                ),
            ));
            continue;
        }
        let mut fields: Vec<&str> = Vec::with_capacity(rec.len());
        let mut utf8_ok = true;
        for (i, raw) in rec.iter().enumerate() {
            match std::str::from_utf8(raw) {
                Ok(s) => fields.push(s),
                Err(e) => {
                    problems.push(problem(
                        Some(line),
                        Some(&columns[i]),
                        format!(
                            "invalid UTF-8 at byte {} of the field (expected UTF-8 text)",
                            e.valid_up_to() + 1
                        ),
                    ));
                    utf8_ok = false;
                    fields.push("");
                }
            }
        }
        if !utf8_ok {
            continue;
        }
        let field = |c: Option<usize>| c.map_or("", |i| fields[i]);
        let before = problems.len();
        let mut err = |column: &str, message: String| {
            problems.push(problem(Some(line), Some(column), message));
        };

        let id = match c_id {
            Some(i) => fields[i].trim().to_string(),
            None => (index + 1).to_string(),
        };
        if let Err(msg) = check_id(&id) {
            err("id", msg);
        } else if let Some(first) = seen_ids.get(&id) {
            err(
                "id",
                format!("duplicate id '{id}' (expected a unique id; first used on line {first})"),
            );
        } else {
            seen_ids.insert(id.clone(), line);
        }

        let shell = parse_bool(field(c_shell)).unwrap_or_else(|m| {
            err("shell", m);
            false
        });
        let timeout = match field(c_timeout).trim() {
            "" => opts.default_timeout,
            s => parse_duration(s).map(Some).unwrap_or_else(|m| {
                err("timeout", m);
                None
            }),
        };
        let retries = match field(c_retries).trim() {
            "" => opts.default_retries,
            s => s.parse::<u32>().unwrap_or_else(|_| {
                err(
                    "retries",
                    format!("'{s}' is not a whole number (expected 0, 1, 2, …)"),
                );
                0
            }),
        };
        let after: Vec<String> = field(c_after)
            .split_whitespace()
            .map(str::to_string)
            .collect();
        let group = Some(field(c_group).trim())
            .filter(|g| !g.is_empty())
            .map(str::to_string);

        let mut vars: HashMap<&str, &str> = columns
            .iter()
            .zip(fields.iter())
            .map(|(c, v)| (c.as_str(), *v))
            .collect();
        vars.insert("id", &id);

        // Parses a template column, reporting bad syntax and unknown names.
        let template = |column: &str, text: &str, err: &mut dyn FnMut(&str, String)| {
            checked_template(text, &is_var, &var_names)
                .map_err(|msg| err(column, msg))
                .ok()
        };

        let cwd = match field(c_cwd).trim() {
            "" => None,
            text => {
                template("cwd", text, &mut err).map(|p| PathBuf::from(render(&p, &vars, false)))
            }
        };

        let mut env = Vec::new();
        let env_text = field(c_env);
        if !env_text.trim().is_empty() {
            match shell_words::split(env_text) {
                Err(e) => err(
                    "env",
                    format!("{e} (expected KEY=VALUE words with shell quoting)"),
                ),
                Ok(words) => {
                    for w in words {
                        let Some((k, v)) = w.split_once('=') else {
                            err("env", format!("'{w}' has no '=' (expected KEY=VALUE)"));
                            continue;
                        };
                        let valid_key = !k.is_empty()
                            && !k.starts_with(|c: char| c.is_ascii_digit())
                            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                        if !valid_key {
                            err(
                                "env",
                                format!("'{k}' is not a variable name (expected letters, digits and _, not starting with a digit)"),
                            );
                            continue;
                        }
                        if let Some(p) = template("env", v, &mut err) {
                            env.push((k.to_string(), render(&p, &vars, false)));
                        }
                    }
                }
            }
        }

        let (cmd_column, cmd_pieces) = match &template_pieces {
            Some(p) => ("command", Some(p.clone())),
            None if c_cmd.is_some() => {
                let text = field(c_cmd);
                if text.trim().is_empty() {
                    err("command", "empty command (expected a command line)".into());
                    ("command", None)
                } else {
                    ("command", template("command", text, &mut err))
                }
            }
            None => ("command", None),
        };
        let command = cmd_pieces.and_then(|pieces| {
            if shell {
                let s = render(&pieces, &vars, true);
                if s.trim().is_empty() {
                    err(cmd_column, "empty command (expected a command line)".into());
                    return None;
                }
                return Some(CommandLine::Shell(s));
            }
            // Split the template, then fill each word: a value never splits or adds quoting.
            let raw = render_escaped_for_split(&pieces);
            match shell_words::split(&raw) {
                Err(e) => {
                    err(
                        cmd_column,
                        format!("{e} (expected POSIX shell quoting, or shell=true)"),
                    );
                    None
                }
                Ok(words) if words.is_empty() => {
                    err(cmd_column, "empty command (expected a command line)".into());
                    None
                }
                Ok(words) => Some(CommandLine::Direct(
                    words
                        .iter()
                        .map(|w| fill_marked(w, &pieces, &vars))
                        .collect(),
                )),
            }
        });

        if problems.len() != before {
            invalid_ids.insert(id);
        } else {
            if let Some(command) = command {
                jobs.push(JobSpec {
                    index,
                    line,
                    id,
                    command,
                    timeout,
                    retries,
                    after,
                    group,
                    cwd,
                    env,
                });
            }
        }
    }
    let m = Manifest {
        name: name.to_string(),
        jobs,
        columns,
        invalid_ids,
    };
    (m, problems)
}

/// Maps byte offsets to 1-based line numbers.
struct LineIndex {
    /// Offsets of every `\n`.
    newlines: Vec<usize>,
}

impl LineIndex {
    fn new(bytes: &[u8]) -> Self {
        LineIndex {
            newlines: bytes
                .iter()
                .enumerate()
                .filter(|&(_, &b)| b == b'\n')
                .map(|(i, _)| i)
                .collect(),
        }
    }

    fn line_of(&self, offset: usize) -> u64 {
        self.newlines.partition_point(|&n| n < offset) as u64 + 1
    }
}

/// Where the record the csv reader started scanning at `p` really begins: past line ends,
/// blank lines and comment lines.
fn record_start(bytes: &[u8], mut p: usize) -> usize {
    loop {
        match bytes.get(p) {
            Some(b'\r' | b'\n') => p += 1,
            Some(b'#') if p == 0 || matches!(bytes[p - 1], b'\n' | b'\r') => {
                p = bytes[p..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(bytes.len(), |i| p + i + 1);
            }
            _ => return p,
        }
    }
}

// Placeholders are marked with private-use characters before shell splitting, so the split sees
// the template's own quoting only, and each word is filled in afterwards.
const MARK_OPEN: char = '\u{E000}';
const MARK_CLOSE: char = '\u{E001}';

/// The template as text with each placeholder replaced by `MARK_OPEN n MARK_CLOSE`.
fn render_escaped_for_split(pieces: &[Piece]) -> String {
    let mut out = String::new();
    for (i, p) in pieces.iter().enumerate() {
        match p {
            Piece::Lit(s) => out.push_str(s),
            Piece::Var(_) => {
                out.push(MARK_OPEN);
                out.push_str(&i.to_string());
                out.push(MARK_CLOSE);
            }
        }
    }
    out
}

/// Replaces the marks left in a split word by the values they stand for.
fn fill_marked(word: &str, pieces: &[Piece], vars: &HashMap<&str, &str>) -> String {
    if !word.contains(MARK_OPEN) {
        return word.to_string();
    }
    let mut out = String::new();
    let mut rest = word;
    while let Some(start) = rest.find(MARK_OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + MARK_OPEN.len_utf8()..];
        let end = after.find(MARK_CLOSE).unwrap_or(after.len());
        if let Some(Piece::Var(name)) = after[..end]
            .parse::<usize>()
            .ok()
            .and_then(|i| pieces.get(i))
        {
            out.push_str(vars.get(name.as_str()).copied().unwrap_or(""));
        }
        rest = after.get(end + MARK_CLOSE.len_utf8()..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> Manifest {
        parse("m.csv", text.as_bytes(), false, &ManifestOptions::default())
            .unwrap_or_else(|p| panic!("{p:?}"))
    }

    fn problems(text: &str) -> Vec<String> {
        parse("m.csv", text.as_bytes(), false, &ManifestOptions::default())
            .unwrap_err()
            .iter()
            .map(|p| p.to_string())
            .collect()
    }

    #[test]
    fn basic_rows_bom_crlf_comments_blank_lines() {
        let m = parse_ok(
            "\u{feff}id,command\r\n# a comment\r\n\r\na,echo hi\r\nb,\"printf '%s' 'x y'\"\r\n",
        );
        assert_eq!(m.jobs.len(), 2);
        assert_eq!(m.jobs[0].id, "a");
        assert_eq!(m.jobs[0].line, 4);
        assert_eq!(
            m.jobs[1].command,
            CommandLine::Direct(vec!["printf".into(), "%s".into(), "x y".into()])
        );
    }

    #[test]
    fn ids_default_to_row_numbers() {
        let m = parse_ok("command\ntrue\nfalse\n");
        assert_eq!(
            m.jobs.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
            ["1", "2"]
        );
    }

    #[test]
    fn placeholders_direct_mode_never_split() {
        let m = parse_ok("id,file,command\nx,a b;$(rm -rf /),echo {file} pre{id}post {{lit}}\n");
        assert_eq!(
            m.jobs[0].command,
            CommandLine::Direct(vec![
                "echo".into(),
                "a b;$(rm -rf /)".into(),
                "prexpost".into(),
                "{lit}".into()
            ])
        );
    }

    #[test]
    fn placeholders_shell_mode_are_quoted() {
        let m = parse_ok("id,file,shell,command\nx,'; touch pwned',true,cat {file}\n");
        assert_eq!(
            m.jobs[0].command,
            CommandLine::Shell("cat ''\\''; touch pwned'\\'''".into())
        );
    }

    #[test]
    fn every_problem_is_reported() {
        let p = problems(
            "id,command,timeout,retries,shell\n\
             a,true,5x,1,true\n\
             a,true,1s,-1,maybe\n\
             b c,,1s,1,no\n\
             d,echo {nope},,,\n\
             e,true\n",
        );
        let joined = p.join("\n");
        assert!(
            joined.contains("m.csv:2: column 'timeout': '5x' is not a duration"),
            "{joined}"
        );
        assert!(
            joined.contains("m.csv:3: column 'id': duplicate id 'a'"),
            "{joined}"
        );
        assert!(
            joined.contains("m.csv:3: column 'retries': '-1' is not a whole number"),
            "{joined}"
        );
        assert!(
            joined.contains("m.csv:3: column 'shell': 'maybe' is not a boolean"),
            "{joined}"
        );
        assert!(
            joined.contains("m.csv:4: column 'id': id 'b c' contains ' '"),
            "{joined}"
        );
        assert!(
            joined.contains("m.csv:4: column 'command': empty command"),
            "{joined}"
        );
        assert!(
            joined.contains("m.csv:5: column 'command': placeholder {nope} names no column"),
            "{joined}"
        );
        assert!(joined.contains("m.csv:6: 2 fields (expected 5"), "{joined}");
        assert_eq!(p.len(), 8, "{joined}");
    }

    #[test]
    fn unbalanced_quote_and_missing_command_column() {
        let p = problems("id,command\na,\"echo hi\nb,true\n");
        assert!(p[0].contains("m.csv:2: unbalanced quote"), "{p:?}");
        let p = problems("id,cmd\na,true\n");
        assert_eq!(
            p,
            ["m.csv:1: no 'command' column (expected a 'command' column, or the --command option)"]
        );
    }

    #[test]
    fn invalid_utf8_names_the_column() {
        let p = parse(
            "m.csv",
            b"id,command\na,echo \xff\n",
            false,
            &ManifestOptions::default(),
        )
        .unwrap_err();
        assert_eq!(p[0].line, Some(2));
        assert_eq!(p[0].column.as_deref(), Some("command"));
    }

    #[test]
    fn tsv_is_tab_separated_and_unquoted() {
        let m = parse(
            "m.tsv",
            b"id\tcommand\na\techo \"x\ty\"\n",
            true,
            &ManifestOptions::default(),
        );
        // A tab inside quotes still separates fields in TSV.
        assert!(m.is_err());
        let m = parse(
            "m.tsv",
            b"id\tcommand\na\techo 'x, y'\n",
            true,
            &ManifestOptions::default(),
        )
        .unwrap();
        assert_eq!(
            m.jobs[0].command,
            CommandLine::Direct(vec!["echo".into(), "x, y".into()])
        );
    }

    #[test]
    fn command_template_option() {
        let opts = ManifestOptions {
            command_template: Some("load --table {table} {file}".into()),
            ..Default::default()
        };
        let m = parse("m.csv", b"file,table\na.csv,sales\n", false, &opts).unwrap();
        assert_eq!(
            m.jobs[0].command,
            CommandLine::Direct(vec![
                "load".into(),
                "--table".into(),
                "sales".into(),
                "a.csv".into()
            ])
        );
        let p = parse("m.csv", b"command,file\ntrue,a\n", false, &opts).unwrap_err();
        assert!(p[0]
            .to_string()
            .contains("column 'command': present together with --command"));
    }

    #[test]
    fn env_cwd_and_defaults() {
        let opts = ManifestOptions {
            default_timeout: Some(Duration::from_secs(9)),
            default_retries: 2,
            ..Default::default()
        };
        let m = parse(
            "m.csv",
            b"id,command,env,cwd,timeout,after,group\nr,true,MONTH=2026-11 'TITLE=Sales {id}',/tmp/{id},,a b,db\n",
            false,
            &opts,
        )
        .unwrap();
        let j = &m.jobs[0];
        assert_eq!(
            j.env,
            [
                ("MONTH".into(), "2026-11".into()),
                ("TITLE".into(), "Sales r".into())
            ]
        );
        assert_eq!(j.cwd, Some(PathBuf::from("/tmp/r")));
        assert_eq!(j.timeout, Some(Duration::from_secs(9)));
        assert_eq!(j.retries, 2);
        assert_eq!(j.after, ["a", "b"]);
        assert_eq!(j.group.as_deref(), Some("db"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn zero_jobs_is_valid() {
        assert!(parse_ok("id,command\n").jobs.is_empty());
    }
}
