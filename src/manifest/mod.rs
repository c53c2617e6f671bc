/*!
The manifest: CSV (or TSV) bytes, or a plain list (`--lines`, `--null`) → [`JobSpec`]s, every
bad row reported with its line and column.

Reading never stops at the first problem: each row is checked in full and every problem is kept
as a [`Problem`], printed as `FILE:LINE: column 'NAME': what is wrong (what was expected)`.
Cross-row checks (`after` ids, cycles, `--limit` groups) live in [`crate::plan`]; templates in
[`crate::manifest::template`].

Limits: a manifest is at most [`MAX_MANIFEST_BYTES`], an id at most [`MAX_ID_LEN`] characters,
a duration at most [`MAX_DURATION`](crate::util::duration::MAX_DURATION). No command, argument, working directory or environment
value may hold a NUL byte (no process can receive one).
*/

pub(crate) mod ids;
pub(crate) mod template;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use self::template::{Piece, Vars};
use crate::model::config::{InputFormat, ManifestOptions};
use crate::model::job::{CommandLine, JobSpec};
use crate::model::problem::Problem;
use crate::store::jobs::{Jobs, RowRef, RowSource, RowTable, Strings};
use crate::util::duration::{parse_bool, parse_duration};
use crate::util::par::Par;

/// Longest id accepted.
pub const MAX_ID_LEN: usize = 200;

/// Largest manifest read, from a file or standard input: 256 MiB.
pub const MAX_MANIFEST_BYTES: u64 = 256 * 1024 * 1024;

/// A parsed manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The name used in messages and the report.
    pub name: String,
    /// Every job, in manifest order.
    pub jobs: Jobs,
    /// Each job's `after` field as written (ids separated by blanks); empty when the manifest
    /// has no `after` column.
    pub after: Strings,
    /// Group names, in order of first appearance.
    pub groups: Vec<String>,
    /// Each job's group, as an index in `groups` ([`NO_GROUP`]: none); empty when no job has a
    /// group.
    pub group_of: Vec<u32>,
    /// The header's column names, in order (a plain list has one, the empty name of `{}`).
    pub columns: Vec<String>,
    /// Ids of rows that had problems (and so are not in `jobs`): `after` may name them
    /// without a second, misleading "unknown id" problem.
    pub invalid_ids: HashSet<String>,
    /// True when the ids are row (or item) numbers: no `id` column and no `--id`. `--resume`
    /// then matches jobs by their command instead.
    pub ids_from_rows: bool,
    /// Patterns that are valid but let a value be re-parsed by a shell; at most one of each
    /// kind per template source.
    pub warnings: Vec<Problem>,
    /// The widest cell of each column of the plan table (`check`), over every job.
    pub table_widths: [usize; 6],
}

/// In [`Manifest::group_of`]: the job is in no group.
pub const NO_GROUP: u32 = u32::MAX;

/// The message of an empty command.
const EMPTY_COMMAND: &str = "empty command (expected a command line)";

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

/// Reads the manifest's bytes from a path, or from standard input for `-`: at most
/// [`MAX_MANIFEST_BYTES`], else an error saying so.
pub fn read_source(path: &str) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    if path == "-" {
        std::io::stdin()
            .lock()
            .take(MAX_MANIFEST_BYTES + 1)
            .read_to_end(&mut buf)?;
    } else {
        let file = std::fs::File::open(path)?;
        // A regular file is read into a buffer of its size, not one grown by doubling.
        if let Ok(m) = file.metadata() {
            buf.reserve_exact(m.len().min(MAX_MANIFEST_BYTES) as usize + 1);
        }
        file.take(MAX_MANIFEST_BYTES + 1).read_to_end(&mut buf)?;
    }
    if buf.len() as u64 > MAX_MANIFEST_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than {} MiB (expected at most that; split it into several manifests)",
            MAX_MANIFEST_BYTES >> 20
        )));
    }
    Ok(buf)
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
    let (m, problems) = parse_all(name, bytes.to_vec(), tsv, opts);
    if problems.is_empty() {
        Ok(m)
    } else {
        Err(problems)
    }
}

/// Parses manifest bytes, returning the jobs of the rows without problems together with every
/// problem found, so cross-row checks can still run on the valid rows. The jobs keep the bytes,
/// to build each job again when it is needed ([`Jobs::get`]).
pub fn parse_all(
    name: &str,
    bytes: Vec<u8>,
    tsv: bool,
    opts: &ManifestOptions,
) -> (Manifest, Vec<Problem>) {
    let mut problems = Problems::new(name);
    let bytes = Arc::new(bytes);
    let start = if bytes.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let text = &bytes[start..];
    // About one row per 16 bytes, for deciding whether threads pay.
    let (layout, mut rows) = crate::util::par::scope(text.len() / 16, |par| match opts.input {
        InputFormat::Table => parse_table(par, text, tsv, opts, &mut problems),
        InputFormat::Lines => parse_list(par, text, b'\n', opts, &mut problems),
        InputFormat::Null => parse_list(par, text, b'\0', opts, &mut problems),
    });
    rows.table.shrink_to_fit();
    let columns = layout.columns.clone();
    let source = Reparse::new(Arc::clone(&bytes), start, tsv, layout);
    let m = Manifest {
        name: name.to_string(),
        jobs: Jobs::from_rows(rows.table, Arc::new(source)),
        after: rows.after.unwrap_or_default(),
        groups: rows.groups,
        group_of: rows.group_of.unwrap_or_default(),
        columns,
        invalid_ids: rows.invalid_ids,
        ids_from_rows: rows.ids_from_rows,
        warnings: rows.warner.given.into_iter().map(|w| w.2).collect(),
        table_widths: rows.table_widths,
    };
    (m, problems.list)
}

/// Every problem found so far, with the manifest's name.
struct Problems<'a> {
    name: &'a str,
    list: Vec<Problem>,
}

impl<'a> Problems<'a> {
    fn new(name: &'a str) -> Self {
        Problems {
            name,
            list: Vec::new(),
        }
    }

    /// A problem in the manifest, at `line` and `column` when known.
    fn push(&mut self, line: Option<u64>, column: Option<&str>, message: impl Into<String>) {
        self.list.push(Problem {
            origin: self.name.to_string(),
            line,
            column: column.map(str::to_string),
            message: message.into(),
        });
    }

    /// A problem in a command-line option.
    fn option(&mut self, option: &str, message: String) {
        self.list.push(Problem {
            origin: option.to_string(),
            line: None,
            column: None,
            message,
        });
    }
}

/// A plain list: each non-blank item is a row with one variable, `{}`.
fn parse_list(
    par: Par<'_>,
    bytes: &[u8],
    sep: u8,
    opts: &ManifestOptions,
    problems: &mut Problems<'_>,
) -> (Layout, Rows) {
    let layout = Layout::new(vec![String::new()], None, opts, problems);
    let mut rows = Rows::new(&layout);
    let mut batch = Batches::default();
    let mut index = 0;
    let mut offset = 0;
    for (n, raw) in bytes.split(|&b| b == sep).enumerate() {
        let at = offset;
        offset += raw.len() + 1;
        let raw = match sep {
            b'\n' => raw.strip_suffix(b"\r").unwrap_or(raw),
            _ => raw,
        };
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let p = batch.next((index, n as u64 + 1, at));
        p.rec.push_field(raw);
        index += 1;
        if batch.full() {
            batch.flush(par, &layout, &mut rows, problems);
        }
    }
    batch.finish(par, &layout, &mut rows, problems);
    (layout, rows)
}

/// A CSV (or TSV) table with a header row.
fn parse_table(
    par: Par<'_>,
    bytes: &[u8],
    tsv: bool,
    opts: &ManifestOptions,
    problems: &mut Problems<'_>,
) -> (Layout, Rows) {
    let table = Table::new(bytes, tsv);
    // Two passes over the bytes, each reusing one record, so no row is held in memory twice:
    // the first finds the header and the last record, the second turns rows into jobs.
    let scan = table.scan(problems);
    let Some((header, header_line)) = scan.header else {
        problems.push(
            None,
            None,
            "no header row (expected a header naming the columns, such as id,command)",
        );
        let layout = Layout::new(Vec::new(), None, opts, &mut Problems::new(""));
        let rows = Rows::new(&layout);
        return (layout, rows);
    };
    let columns = header_columns(&header, header_line, problems);
    let layout = Layout::new(columns, Some(header_line), opts, problems);
    let mut rows = Rows::new(&layout);
    rows.table.reserve(scan.data_rows, scan.data_rows * 8);
    if !rows.ids_from_rows {
        rows.seen_ids.reserve(scan.data_rows, &rows.table);
    }
    let mut reader = table.reader();
    let mut batch = Batches::default();
    let mut seen_header = false;
    let mut index = 0usize;
    loop {
        let p = batch.next((index, 0, 0));
        if !matches!(reader.read_byte_record(&mut p.rec), Ok(true)) {
            batch.unread();
            break;
        }
        if Table::blank(&p.rec) || !seen_header {
            seen_header = true;
            batch.unread();
            continue;
        }
        let (offset, line) = table.locate(&p.rec);
        (p.line, p.offset) = (line, offset);
        p.unbalanced = Some(line) == scan.unbalanced_line;
        index += 1;
        if batch.full() {
            batch.flush(par, &layout, &mut rows, problems);
        }
    }
    batch.finish(par, &layout, &mut rows, problems);
    (layout, rows)
}

/// Rows are checked a batch at a time: each row on any core ([`crate::util::par`]), then, in manifest order,
/// what depends on the rows before it (duplicate ids, warnings given once).
const BATCH: usize = 2048;

/// Rows read and waiting to be checked; their records are reused for the next batch.
#[derive(Default)]
struct Batch {
    pending: Vec<Pending>,
    used: usize,
}

/// A row read and not yet checked.
struct Pending {
    rec: csv::ByteRecord,
    index: usize,
    line: u64,
    offset: usize,
    /// The last record, whose quote never closes.
    unbalanced: bool,
}

/// What is kept of a job built from its row.
struct Built {
    retries: u32,
    group: Option<String>,
    /// Its cells' widths in the plan table.
    widths: [usize; 6],
}

/// A row's id, as checking the row found it: where it is in the row's record (the usual
/// case: nothing to copy or free), the row's number, or built by `--id`.
enum IdText {
    InField {
        field: usize,
        start: usize,
        end: usize,
    },
    RowNumber,
    Built(String),
}

impl IdText {
    /// What `row_id` gave, for the row `fields` of which were read from.
    fn of(id: Cow<'_, str>, l: &Layout, fields: &[&str]) -> IdText {
        match (id, l.cols.id) {
            (Cow::Borrowed(s), Some(field)) => {
                let start = s.as_ptr() as usize - fields[field].as_ptr() as usize;
                IdText::InField {
                    field,
                    start,
                    end: start + s.len(),
                }
            }
            (_, None) if l.id_template.is_none() => IdText::RowNumber,
            (id, _) => IdText::Built(id.into_owned()),
        }
    }

    /// The id of row `p`.
    fn text<'p>(&'p self, p: &'p Pending) -> Cow<'p, str> {
        match self {
            // A UTF-8 field, cut at its trimmed ends: valid UTF-8.
            IdText::InField { field, start, end } => {
                Cow::Borrowed(std::str::from_utf8(&p.rec[*field][*start..*end]).unwrap_or(""))
            }
            IdText::RowNumber => Cow::Owned((p.index + 1).to_string()),
            IdText::Built(s) => Cow::Borrowed(s),
        }
    }
}

/// What checking one row on its own found.
enum Checked {
    /// The row could not be split into its fields; `id` is its id column as it stands.
    Unusable {
        problems: Vec<Problem>,
        id: Option<String>,
    },
    /// The row's fields were read.
    Row {
        id: IdText,
        /// The id's hash for [`crate::manifest::ids::SeenIds`].
        hash: u64,
        problems: Vec<Problem>,
        /// What is kept of the job, when it could be built.
        job: Option<Built>,
        warnings: Vec<Warning>,
    },
}

impl Batch {
    /// A cleared row at the end of the batch.
    fn next(&mut self, (index, line, offset): (usize, u64, usize)) -> &mut Pending {
        if self.used == self.pending.len() {
            self.pending.push(Pending {
                rec: csv::ByteRecord::new(),
                index,
                line,
                offset,
                unbalanced: false,
            });
        }
        let p = &mut self.pending[self.used];
        p.rec.clear();
        (p.index, p.line, p.offset, p.unbalanced) = (index, line, offset, false);
        self.used += 1;
        p
    }

    /// Takes back the row [`Batch::next`] gave last.
    fn unread(&mut self) {
        self.used -= 1;
    }

    fn full(&self) -> bool {
        self.used == BATCH
    }

    /// Checks every row of the batch on its own.
    fn check(&self, par: Par<'_>, l: &Layout, name: &str, ids: &IdHasher) -> Vec<Checked> {
        par.map(&self.pending[..self.used], |p| check_row(l, p, name, ids))
    }

    /// Adds the rows of the batch, `checked` by [`Batch::check`], to `rows`, in order.
    fn merge(&self, checked: Vec<Checked>, l: &Layout, rows: &mut Rows, problems: &mut Problems) {
        for (p, c) in self.pending[..self.used].iter().zip(checked) {
            rows.add(l, p, c, problems);
        }
    }
}

/// How ids are hashed for [`crate::manifest::ids::SeenIds`].
type IdHasher = hashbrown::DefaultHashBuilder;

/// Two batches in a pipeline: while the rows of one are checked (on every core but one), the
/// rows of the other, checked before, are added in order (on the remaining core), and then the
/// first is filled again.
#[derive(Default)]
struct Batches {
    two: [Batch; 2],
    /// The batch being filled.
    cur: usize,
    /// The other batch's rows, checked and not yet added.
    checked: Option<Vec<Checked>>,
}

impl Batches {
    fn next(&mut self, at: (usize, u64, usize)) -> &mut Pending {
        self.two[self.cur].next(at)
    }

    fn unread(&mut self) {
        self.two[self.cur].unread();
    }

    fn full(&self) -> bool {
        self.two[self.cur].full()
    }

    /// Checks the batch just filled while the one checked before is added to `rows`; then
    /// fills that one next.
    fn flush(&mut self, par: Par<'_>, l: &Layout, rows: &mut Rows, problems: &mut Problems) {
        let name = problems.name;
        let ids = rows.seen_ids.hasher().clone();
        let [a, b] = &mut self.two;
        let (filled, earlier) = if self.cur == 0 {
            (&*a, &*b)
        } else {
            (&*b, &*a)
        };
        let to_merge = self.checked.take();
        let ((), checked) = par.join(
            || {
                if let Some(c) = to_merge {
                    earlier.merge(c, l, rows, problems);
                }
            },
            || filled.check(par, l, name, &ids),
        );
        self.checked = Some(checked);
        self.cur = 1 - self.cur;
        self.two[self.cur].used = 0;
    }

    /// Checks and adds every row left.
    fn finish(&mut self, par: Par<'_>, l: &Layout, rows: &mut Rows, problems: &mut Problems) {
        self.flush(par, l, rows, problems);
        if let Some(c) = self.checked.take() {
            self.two[1 - self.cur].merge(c, l, rows, problems);
        }
    }
}

/// Checks one row on its own: its fields, and the job they make.
fn check_row(l: &Layout, p: &Pending, name: &str, ids: &IdHasher) -> Checked {
    let mut problems = Problems::new(name);
    if p.unbalanced {
        problems.push(
            Some(p.line),
            None,
            "unbalanced quote: a quoted field opened here never closes (expected a closing \")",
        );
        return Checked::Unusable {
            problems: problems.list,
            id: None,
        };
    }
    let fields = match row_fields(&p.rec, p.line, l, &mut problems) {
        Ok(f) => f,
        Err(id) => {
            return Checked::Unusable {
                problems: problems.list,
                id,
            }
        }
    };
    let id = row_id(l, p.index, &fields);
    let mut warner = Warner::default();
    let mut row = Row {
        line: p.line,
        problems: &mut problems,
    };
    let job = build_job(
        l,
        (p.index, p.line),
        &id,
        &fields,
        &mut row,
        Some(&mut warner),
    );
    Checked::Row {
        hash: crate::manifest::ids::hash(ids, &id),
        id: IdText::of(id, l, &fields),
        problems: problems.list,
        job: job.map(|j| Built {
            widths: crate::model::job::plan_widths(&j),
            retries: j.retries,
            group: j.group,
        }),
        warnings: warner.given,
    }
}

/// A record's fields as text; or, when it has the wrong number of fields or invalid UTF-8 (the
/// problems reported), its id column as it stands.
fn row_fields<'r>(
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
        return match std::str::from_utf8(&rec[0]) {
            Ok(item) => Ok(vec![item]),
            Err(e) => {
                let m = format!(
                    "invalid UTF-8 at byte {} of the item (expected UTF-8 text)",
                    e.valid_up_to() + 1
                );
                problems.push(Some(line), None, m);
                Err(None)
            }
        };
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

/// The header's column names; empty, repeated or non-UTF-8 names are problems.
fn header_columns(
    header: &csv::ByteRecord,
    header_line: u64,
    problems: &mut Problems<'_>,
) -> Vec<String> {
    let mut columns: Vec<String> = Vec::new();
    for (i, raw) in header.iter().enumerate() {
        let Ok(s) = std::str::from_utf8(raw) else {
            problems.push(
                Some(header_line),
                None,
                format!(
                    "header column {} is not valid UTF-8 (expected UTF-8 text)",
                    i + 1
                ),
            );
            columns.push(String::new());
            continue;
        };
        let s = s.trim().to_string();
        if s.is_empty() {
            problems.push(
                Some(header_line),
                None,
                format!(
                    "header column {} has no name (expected a column name)",
                    i + 1
                ),
            );
        } else if columns.contains(&s) {
            problems.push(
                Some(header_line),
                Some(&s),
                "named twice in the header (expected each column once)",
            );
        }
        columns.push(s);
    }
    columns
}

/// The manifest's bytes as CSV (or TSV), with line numbers.
struct Table<'b> {
    bytes: &'b [u8],
    tsv: bool,
    /// The csv reader's own line numbers skip comment and blank lines; we count them ourselves.
    lines: LineCursor,
}

/// What the first pass over a table found.
struct Scan {
    /// The header record and its line.
    header: Option<(csv::ByteRecord, u64)>,
    /// Rows after the header.
    data_rows: usize,
    /// The line of a last record whose quote never closes.
    unbalanced_line: Option<u64>,
}

impl<'b> Table<'b> {
    fn new(bytes: &'b [u8], tsv: bool) -> Self {
        Table {
            bytes,
            tsv,
            lines: LineCursor::default(),
        }
    }

    fn reader(&self) -> csv::Reader<&'b [u8]> {
        Self::builder(self.tsv).from_reader(self.bytes)
    }

    /// How every table is read.
    fn builder(tsv: bool) -> csv::ReaderBuilder {
        let mut b = csv::ReaderBuilder::new();
        b.delimiter(if tsv { b'\t' } else { b',' })
            .quoting(!tsv)
            .comment(Some(b'#'))
            .flexible(true)
            .has_headers(false);
        b
    }

    fn blank(r: &csv::ByteRecord) -> bool {
        r.len() == 1 && r[0].iter().all(u8::is_ascii_whitespace)
    }

    /// Where a record starts: its byte offset and its line.
    fn locate(&self, r: &csv::ByteRecord) -> (usize, u64) {
        let start = record_start(self.bytes, r.position().map_or(0, |p| p.byte() as usize));
        (start, self.lines.line_of(self.bytes, start))
    }

    /// The first pass: the header, the number of rows, malformed CSV.
    fn scan(&self, problems: &mut Problems<'_>) -> Scan {
        let mut rec = csv::ByteRecord::new();
        let mut header = None;
        let mut last: Option<(usize, u64)> = None;
        let mut data_rows = 0usize;
        let mut reader = self.reader();
        loop {
            match reader.read_byte_record(&mut rec) {
                Ok(false) => break,
                Ok(true) if Self::blank(&rec) => {}
                Ok(true) => {
                    let (start, line) = self.locate(&rec);
                    if header.is_none() {
                        header = Some((rec.clone(), line));
                    } else {
                        data_rows += 1;
                    }
                    last = Some((start, line));
                }
                Err(e) => {
                    let line = e.position().map(|p| {
                        self.lines
                            .line_of(self.bytes, record_start(self.bytes, p.byte() as usize))
                    });
                    problems.push(line, None, format!("malformed CSV: {e}"));
                    if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                        break;
                    }
                }
            }
        }
        // An unbalanced quote makes the csv reader swallow the rest of the file into one
        // field: a well-formed quoted record holds an even number of quote characters.
        let unbalanced_line = last.and_then(|(start, line)| {
            let quotes = self.bytes[start..].iter().filter(|&&b| b == b'"').count();
            (!self.tsv && quotes % 2 == 1).then_some(line)
        });
        Scan {
            header,
            data_rows,
            unbalanced_line,
        }
    }
}

/// The columns with a meaning of their own (settings), where they are.
#[derive(Debug, Default)]
struct SettingColumns {
    id: Option<usize>,
    command: Option<usize>,
    shell: Option<usize>,
    timeout: Option<usize>,
    retries: Option<usize>,
    after: Option<usize>,
    group: Option<usize>,
    cwd: Option<usize>,
    env: Option<usize>,
}

impl SettingColumns {
    /// Finds the setting columns; with `--vars-only` there are none.
    fn find(columns: &[String], vars_only: bool) -> Self {
        if vars_only {
            return SettingColumns::default();
        }
        let col = |name: &str| columns.iter().position(|c| c == name);
        SettingColumns {
            id: col("id"),
            command: col("command"),
            shell: col("shell"),
            timeout: col("timeout"),
            retries: col("retries"),
            after: col("after"),
            group: col("group"),
            cwd: col("cwd"),
            env: col("env"),
        }
    }
}

/// Where each row's command comes from.
#[derive(Debug)]
enum CommandSource {
    /// `--command`.
    Template(Vec<Piece>),
    /// The `command` column: a template per row.
    Column(usize),
    /// A plain list without `--command`: the item is a shell command, taken as it is.
    Item,
    /// Nowhere (a problem already says why).
    Invalid,
}

/// How every row becomes a job: the columns, the settings among them and the templates.
#[derive(Debug)]
struct Layout {
    /// The header's names (a plain list: one, the empty name of `{}`).
    columns: Vec<String>,
    /// The setting columns.
    cols: SettingColumns,
    /// The variables' names, for messages.
    var_names: Vec<String>,
    /// Where commands come from.
    command: CommandSource,
    /// `--id`, parsed.
    id_template: Option<Vec<Piece>>,
    opts: ManifestOptions,
}

impl Layout {
    /// Resolves the command source and the `--id` template, reporting their problems.
    fn new(
        columns: Vec<String>,
        header_line: Option<u64>,
        opts: &ManifestOptions,
        problems: &mut Problems<'_>,
    ) -> Self {
        let cols = SettingColumns::find(&columns, opts.vars_only);
        let mut var_names: Vec<String> = columns
            .iter()
            .filter(|c| !c.is_empty() || opts.input != InputFormat::Table)
            .cloned()
            .collect();
        if !columns.iter().any(|c| c == "id") {
            var_names.insert(0, "id".to_string());
        }
        let mut layout = Layout {
            columns,
            cols,
            var_names,
            command: CommandSource::Invalid,
            id_template: None,
            opts: opts.clone(),
        };
        layout.command = layout.command_source(header_line, problems);
        layout.id_template = layout.id_source(header_line, problems);
        layout
    }

    fn is_var(&self, name: &str) -> bool {
        name == "id" || self.columns.iter().any(|c| c == name)
    }

    fn command_source(
        &self,
        header_line: Option<u64>,
        problems: &mut Problems<'_>,
    ) -> CommandSource {
        let is_var = |n: &str| self.is_var(n);
        match (&self.opts.command_template, self.cols.command) {
            (Some(_), Some(_)) => {
                problems.push(
                    header_line,
                    Some("command"),
                    "present together with --command (expected one or the other)",
                );
                CommandSource::Invalid
            }
            (Some(t), None) => match template::checked(t, &is_var, &self.var_names) {
                Ok(p) => CommandSource::Template(p),
                Err(message) => {
                    problems.option("--command", message);
                    CommandSource::Invalid
                }
            },
            (None, _) if self.opts.input != InputFormat::Table => CommandSource::Item,
            (None, Some(c)) => CommandSource::Column(c),
            (None, None) if header_line.is_none() => CommandSource::Invalid,
            (None, None) => {
                problems.push(
                    header_line,
                    None,
                    "no 'command' column (expected a 'command' column, or the --command option)",
                );
                CommandSource::Invalid
            }
        }
    }

    fn id_source(
        &self,
        header_line: Option<u64>,
        problems: &mut Problems<'_>,
    ) -> Option<Vec<Piece>> {
        let text = self.opts.id_template.as_ref()?;
        if self.cols.id.is_some() {
            problems.push(
                header_line,
                Some("id"),
                "present together with --id (expected one or the other)",
            );
            return None;
        }
        let is_col = |n: &str| self.columns.iter().any(|c| c == n);
        let known: Vec<String> = self
            .var_names
            .iter()
            .filter(|n| is_col(n))
            .cloned()
            .collect();
        template::checked(text, &is_col, &known)
            .map_err(|m| problems.option("--id", m))
            .ok()
    }

    /// A row's variables: every column, and `id` (the job's id, unless `--vars-only` made a
    /// column named `id` a variable).
    fn vars<'a>(&'a self, fields: &[&'a str], id: &'a str) -> Vars<'a> {
        let mut vars = Vars::with_capacity(self.columns.len() + 1);
        vars.extend(
            self.columns
                .iter()
                .map(String::as_str)
                .zip(fields.iter().copied()),
        );
        if !(self.opts.vars_only && self.columns.iter().any(|c| c == "id")) {
            vars.insert("id", id);
        }
        vars
    }
}

/// The jobs built so far and what is needed to check the next row.
struct Rows {
    table: RowTable,
    /// Each job's `after` text, when there is an `after` column.
    after: Option<Strings>,
    /// Groups by first appearance, with their indices, and each job's, when there is a
    /// `group` column.
    groups: Vec<String>,
    group_index: HashMap<String, u32>,
    group_of: Option<Vec<u32>>,
    seen_ids: crate::manifest::ids::SeenIds,
    invalid_ids: HashSet<String>,
    ids_from_rows: bool,
    warner: Warner,
    /// The widest cells of the jobs' rows in the plan table.
    table_widths: [usize; 6],
}

/// A warning: whether it is about `--command`, its kind, and where it is.
type Warning = (bool, &'static str, Problem);

/// The warnings given so far.
#[derive(Default)]
struct Warner {
    given: Vec<Warning>,
    /// The warnings already given, by origin and kind, so each is given once.
    warned: HashSet<(bool, &'static str)>,
    /// The modes (shell or not) `--command` was checked for warnings in.
    option_checked: HashSet<bool>,
}

/// One row being turned into a job: its line, and the problems found.
struct Row<'p, 'n> {
    line: u64,
    problems: &'p mut Problems<'n>,
}

impl Row<'_, '_> {
    fn err(&mut self, column: &str, message: impl Into<String>) {
        self.problems.push(Some(self.line), Some(column), message);
    }
}

/// The message of a NUL byte where a process needs text.
fn nul_message(what: &str) -> String {
    format!("{what} holds a NUL byte (expected text without NUL: no process can receive one)")
}

impl Rows {
    fn new(layout: &Layout) -> Self {
        Rows {
            table: RowTable::default(),
            after: layout.cols.after.map(|_| Strings::default()),
            groups: Vec::new(),
            group_index: HashMap::new(),
            group_of: layout.cols.group.map(|_| Vec::new()),
            seen_ids: Default::default(),
            invalid_ids: HashSet::new(),
            ids_from_rows: layout.cols.id.is_none() && layout.id_template.is_none(),
            warner: Warner::default(),
            table_widths: [0; 6],
        }
    }

    /// Adds a row checked on its own ([`check_row`]): its id checked against the rows before
    /// it, then its problems, or its job.
    fn add(&mut self, l: &Layout, p: &Pending, checked: Checked, problems: &mut Problems<'_>) {
        let (id, hash, row_problems, job, warnings) = match checked {
            Checked::Unusable {
                problems: found,
                id,
            } => {
                problems.list.extend(found);
                self.invalid_ids.extend(id);
                return;
            }
            Checked::Row {
                id,
                hash,
                problems,
                job,
                warnings,
            } => (id, hash, problems, job, warnings),
        };
        let id = id.text(p);
        let (index, line, offset) = (p.index, p.line, p.offset);
        let before = problems.list.len();
        let mut row = Row { line, problems };
        // Whether the row becomes a job if its id is new: known before the id is looked up,
        // so one lookup both finds a duplicate and remembers a new id.
        let job = job.filter(|_| row_problems.is_empty());
        let next = job.as_ref().map(|_| self.table.len());
        self.check_id(l, &id, hash, next, &mut row);
        row.problems.list.extend(row_problems);
        for w in warnings {
            self.warner.take(w);
        }
        let Some(built) = job.filter(|_| row.problems.list.len() == before) else {
            if row.problems.list.len() != before {
                self.invalid_ids.insert(id.into_owned());
            }
            return;
        };
        let narrow = |v: u64| u32::try_from(v).expect("a manifest of at most 256 MiB");
        let r = RowRef {
            offset: narrow(offset as u64),
            line: narrow(line),
            index: narrow(index as u64),
            retries: built.retries,
        };
        self.table_widths = crate::model::job::widest(self.table_widths, built.widths);
        self.table.push(r, &id);
        if let Some((after, c)) = self.after.as_mut().zip(l.cols.after) {
            // Valid UTF-8: the row was read.
            after.push(std::str::from_utf8(&p.rec[c]).unwrap_or_default());
        }
        if let Some(group_of) = &mut self.group_of {
            let g = built.group.map_or(NO_GROUP, |g| {
                let next = self.groups.len() as u32;
                *self.group_index.entry(g).or_insert_with_key(|g| {
                    self.groups.push(g.clone());
                    next
                })
            });
            group_of.push(g);
        }
    }

    /// Checks the row's id (from the `id` column, built by `--id`, or the row number): a
    /// valid id not seen before is remembered (unless it is a row number), as the job `next`
    /// (the next to be built) or, when the row is no job, as another row's.
    fn check_id(&mut self, l: &Layout, id: &str, hash: u64, next: Option<usize>, row: &mut Row) {
        let built = if l.id_template.is_some() {
            "--id: "
        } else {
            ""
        };
        if let Err(msg) = check_id(id) {
            row.err("id", format!("{built}{msg}"));
        } else if self.ids_from_rows {
            // Row numbers are unique: nothing to remember.
        } else if let Some(first) =
            self.seen_ids
                .first_or_insert(id, hash, (next, row.line), &self.table)
        {
            row.err(
                "id",
                format!(
                    "{built}duplicate id '{id}' (expected a unique id; first used on line {first})"
                ),
            );
        }
    }
}

/// Field `c` of a row, or "" for a column the manifest does not have.
fn field<'f>(fields: &[&'f str], c: Option<usize>) -> &'f str {
    c.map_or("", |i| fields[i])
}

/// The row's id, unchecked: from the `id` column, built by `--id`, or the row number.
fn row_id<'f>(l: &Layout, index: usize, fields: &[&'f str]) -> Cow<'f, str> {
    match (&l.id_template, l.cols.id) {
        (Some(t), _) => Cow::Owned(template::render(t, &l.vars(fields, ""), false)),
        (None, Some(i)) => Cow::Borrowed(fields[i].trim()),
        (None, None) => Cow::Owned((index + 1).to_string()),
    }
}

/// Builds the job of a row (`at`: its index and line) whose id is `id`, reporting its
/// problems on `row`; `warner` (none when a row is read again) collects warnings. Returns
/// `None` when the row has problems, though not always: compare the problem count.
fn build_job(
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
    let vars = RowVars {
        l,
        fields,
        id,
        vars: std::cell::OnceCell::new(),
    };
    let cwd = row_cwd(l, field(fields, l.cols.cwd), &vars, row);
    let env = row_env(l, field(fields, l.cols.env), &vars, row);
    let command = row_command(l, fields, &vars, shell, row, warner)?;
    Some(JobSpec {
        index,
        line,
        id: id.to_string(),
        command,
        timeout,
        retries,
        after: field(fields, l.cols.after)
            .split_whitespace()
            .map(str::to_string)
            .collect(),
        group: Some(field(fields, l.cols.group).trim())
            .filter(|g| !g.is_empty())
            .map(str::to_string),
        cwd,
        env,
    })
}

/// A row's variables, made the first time a template has a placeholder (most have none).
struct RowVars<'a> {
    l: &'a Layout,
    fields: &'a [&'a str],
    id: &'a str,
    vars: std::cell::OnceCell<Vars<'a>>,
}

/// What a template without placeholders is filled with: made once (a map's hasher takes a
/// random seed, which costs more than checking a row).
static NO_VARS: std::sync::LazyLock<Vars<'static>> = std::sync::LazyLock::new(Vars::new);

impl<'a> RowVars<'a> {
    /// The variables `pieces` need: all of them, or none for a template without placeholders.
    fn of(&self, pieces: &[Piece]) -> &Vars<'a> {
        if pieces.iter().any(|p| matches!(p, Piece::Var(_))) {
            self.vars.get_or_init(|| self.l.vars(self.fields, self.id))
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
        CommandLine::Shell(template::render(&pieces, vars.of(&pieces), true))
    } else {
        match template::split_direct(&pieces, vars.of(&pieces)) {
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

impl Warner {
    /// Warns, once per kind and source, about a template that lets a shell re-parse a value.
    fn warn(&mut self, l: &Layout, pieces: &[Piece], shell: bool, row: &Row) {
        let from_option = matches!(l.command, CommandSource::Template(_));
        // `--command` is the same for every row: check it once per mode.
        if from_option && !self.option_checked.insert(shell) {
            return;
        }
        let kind = if shell && template::quoted_placeholder(pieces) {
            "a placeholder inside quotes of the command's own (\"{x}\" or '{x}'): values are \
             already shell-quoted, so these quotes unquote them again and the shell expands \
             `$(…)` in a value (expected {x} without quotes)"
        } else if !shell && template::nested_shell(pieces) {
            "a shell run with -c and a placeholder in its arguments (sh -c '… {x} …'): that \
             shell parses the value again, so `$(…)` in a value runs (expected the value as an \
             argument of its own: sh -c '… \"$1\" …' sh {x}, or --shell)"
        } else {
            return;
        };
        if !self.warned.insert((from_option, kind)) {
            return;
        }
        let (origin, line, column) = if from_option {
            ("--command".to_string(), None, None)
        } else {
            (
                row.problems.name.to_string(),
                Some(row.line),
                Some("command".to_string()),
            )
        };
        let p = Problem {
            origin,
            line,
            column,
            message: kind.to_string(),
        };
        self.given.push((from_option, kind, p));
    }

    /// Gives `w` (found by a row's own warner) unless one of its kind was given before.
    fn take(&mut self, w: Warning) {
        if self.warned.insert((w.0, w.1)) {
            self.given.push(w);
        }
    }
}

/// What it takes to build a job again from its row: the manifest's bytes and how its rows
/// were read. Every row it is asked for was valid when first read, so it is valid again.
#[derive(Debug)]
pub(crate) struct Reparse {
    bytes: Arc<Vec<u8>>,
    /// Where the rows' offsets count from (past a byte-order mark).
    start: usize,
    tsv: bool,
    layout: Layout,
    /// Readers ready to seek to a row: building one costs more than reading a row, so each is
    /// kept for the next row (one per thread reading rows at the same time).
    readers: [parking_lot::Mutex<Vec<csv::Reader<std::io::Cursor<Bytes>>>>; READER_SHARDS],
}

/// Shards of [`Reparse`]'s readers.
const READER_SHARDS: usize = 8;

/// This thread's shard of readers.
fn reader_shard() -> usize {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % READER_SHARDS;
    }
    SHARD.with(|k| *k)
}

/// The manifest's bytes, shared, as a reader reads them.
#[derive(Debug, Clone)]
struct Bytes(Arc<Vec<u8>>);

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Reparse {
    fn new(bytes: Arc<Vec<u8>>, start: usize, tsv: bool, layout: Layout) -> Self {
        Reparse {
            bytes,
            start,
            tsv,
            layout,
            readers: Default::default(),
        }
    }

    /// Reads the record that starts at byte `at` into `rec`.
    fn read_record(&self, at: usize, rec: &mut csv::ByteRecord) {
        // Threads building jobs at the same time keep to shards of their own.
        let readers = &self.readers[reader_shard()];
        let reader = readers.lock().pop();
        let mut reader = reader.unwrap_or_else(|| {
            let cursor = std::io::Cursor::new(Bytes(Arc::clone(&self.bytes)));
            // Small: each read fills the buffer from the row on, for one row.
            Table::builder(self.tsv)
                .buffer_capacity(512)
                .from_reader(cursor)
        });
        let mut pos = csv::Position::new();
        pos.set_byte(at as u64);
        let read = reader.seek(pos).is_ok() && matches!(reader.read_byte_record(rec), Ok(true));
        assert!(read, "a row that was valid can be read again");
        readers.lock().push(reader);
    }

    /// The job of the row at `r`.
    fn job_at(&self, r: RowRef) -> JobSpec {
        let bytes = &self.bytes[self.start..];
        let at = &bytes[r.offset as usize..];
        let (index, line) = (r.index as usize, u64::from(r.line));
        let mut problems = Problems::new("");
        let mut row = Row {
            line,
            problems: &mut problems,
        };
        let item = |sep: u8| {
            let raw = at.split(|&b| b == sep).next().unwrap_or_default();
            let raw = match sep {
                b'\n' => raw.strip_suffix(b"\r").unwrap_or(raw),
                _ => raw,
            };
            vec![std::str::from_utf8(raw).expect("a valid item")]
        };
        let mut rec = csv::ByteRecord::new();
        let fields = match self.layout.opts.input {
            InputFormat::Lines => item(b'\n'),
            InputFormat::Null => item(b'\0'),
            InputFormat::Table => {
                self.read_record(self.start + r.offset as usize, &mut rec);
                rec.iter()
                    .map(|f| std::str::from_utf8(f).expect("a valid row"))
                    .collect()
            }
        };
        let id = row_id(&self.layout, index, &fields);
        build_job(&self.layout, (index, line), &id, &fields, &mut row, None)
            .filter(|_| problems.list.is_empty())
            .expect("a row that was valid is valid when read again")
    }
}

impl RowSource for Reparse {
    fn job(&self, row: RowRef) -> JobSpec {
        self.job_at(row)
    }
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
    let dir = template::render(&pieces, vars.of(&pieces), false);
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
        let value = template::render(&pieces, vars.of(&pieces), false);
        if value.contains('\0') {
            row.err("env", nul_message(&format!("the value of {k}")));
            continue;
        }
        env.push((k.to_string(), value));
    }
    env
}

/// Maps byte offsets to 1-based line numbers, counting line ends from the offset asked
/// before: offsets are asked in increasing order, so a pass over the bytes counts each line end
/// once, and nothing is stored per line.
#[derive(Debug, Default)]
struct LineCursor {
    /// The offset last asked, and its line (0 until the first question).
    at: std::cell::Cell<(usize, u64)>,
}

impl LineCursor {
    fn line_of(&self, bytes: &[u8], offset: usize) -> u64 {
        let (mut from, mut line) = self.at.get();
        if offset < from || line == 0 {
            (from, line) = (0, 1);
        }
        let offset = offset.min(bytes.len());
        line += bytes[from..offset].iter().filter(|&&b| b == b'\n').count() as u64;
        self.at.set((offset, line));
        line
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
        assert_eq!(m.jobs.get(0).id, "a");
        assert_eq!(m.jobs.get(0).line, 4);
        assert_eq!(
            m.jobs.get(1).command,
            CommandLine::Direct(vec!["printf".into(), "%s".into(), "x y".into()])
        );
    }

    #[test]
    fn ids_default_to_row_numbers() {
        let m = parse_ok("command\ntrue\nfalse\n");
        assert_eq!(m.jobs.ids().collect::<Vec<_>>(), ["1", "2"]);
    }

    #[test]
    fn placeholders_direct_mode_never_split() {
        let m = parse_ok("id,file,command\nx,a b;$(rm -rf /),echo {file} pre{id}post {{lit}}\n");
        assert_eq!(
            m.jobs.get(0).command,
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
            m.jobs.get(0).command,
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
            m.jobs.get(0).command,
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
            m.jobs.get(0).command,
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
        let j = &m.jobs.get(0);
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

    fn with(opts: ManifestOptions, text: &[u8]) -> Result<Manifest, Vec<String>> {
        parse("m.txt", text, false, &opts).map_err(|ps| ps.iter().map(|p| p.to_string()).collect())
    }

    #[test]
    fn plain_lists() {
        let lines = ManifestOptions {
            input: InputFormat::Lines,
            command_template: Some("wc -l {} x{id}".into()),
            ..Default::default()
        };
        let m = with(lines.clone(), b"a b.csv\r\n\n  \n$(x);.csv\n").unwrap();
        assert_eq!(
            m.jobs.iter().map(|j| j.command.clone()).collect::<Vec<_>>(),
            [
                CommandLine::Direct(vec![
                    "wc".into(),
                    "-l".into(),
                    "a b.csv".into(),
                    "x1".into()
                ]),
                CommandLine::Direct(vec![
                    "wc".into(),
                    "-l".into(),
                    "$(x);.csv".into(),
                    "x2".into()
                ]),
            ]
        );
        assert_eq!((m.jobs.get(1).line, m.ids_from_rows), (4, true));
        let shell = ManifestOptions {
            shell: true,
            ..lines.clone()
        };
        let m = with(shell, b"it's\n").unwrap();
        assert_eq!(
            m.jobs.get(0).command,
            CommandLine::Shell("wc -l 'it'\\''s' x1".into())
        );
        let cmds = ManifestOptions {
            input: InputFormat::Lines,
            ..Default::default()
        };
        let m = with(cmds, b"echo {} > out\n").unwrap();
        assert_eq!(
            m.jobs.get(0).command,
            CommandLine::Shell("echo {} > out".into())
        );
        let null = ManifestOptions {
            input: InputFormat::Null,
            ..lines
        };
        let m = with(null, b"a\nb\0\0c").unwrap();
        assert_eq!(m.jobs.len(), 2);
        assert_eq!(m.jobs.get(0).command.display(), "wc -l 'a\nb' x1");
        assert_eq!(m.jobs.get(1).line, 3);
    }

    #[test]
    fn shell_option_and_column_override() {
        let opts = ManifestOptions {
            shell: true,
            ..Default::default()
        };
        let m = with(opts, b"command,shell\necho a > f,\necho b > g,no\n").unwrap();
        assert_eq!(
            m.jobs.get(0).command,
            CommandLine::Shell("echo a > f".into())
        );
        assert_eq!(
            m.jobs.get(1).command,
            CommandLine::Direct(vec!["echo".into(), "b".into(), ">".into(), "g".into()])
        );
    }

    #[test]
    fn built_ids_are_checked_and_all_reported() {
        let opts = ManifestOptions {
            id_template: Some("{table}-{day}".into()),
            ..Default::default()
        };
        let m = with(
            opts.clone(),
            b"table,day,command\nsales,1,true\nstock,1,true\n",
        )
        .unwrap();
        assert_eq!(m.jobs.get(1).id, "stock-1");
        assert!(!m.ids_from_rows);
        let p = with(
            opts.clone(),
            b"table,day,command\nsales,1,true\nsales,1,true\na b,2,true\n\n",
        )
        .unwrap_err();
        assert_eq!(
            p,
            [
                "m.txt:3: column 'id': --id: duplicate id 'sales-1' (expected a unique id; first used on line 2)",
                "m.txt:4: column 'id': --id: id 'a b-2' contains ' ' (expected letters, digits and . _ - : @ +)",
            ]
        );
        let empty = ManifestOptions {
            id_template: Some("{t}".into()),
            ..Default::default()
        };
        assert_eq!(
            with(empty, b"t,command\n,true\n").unwrap_err(),
            ["m.txt:2: column 'id': --id: empty id (expected a unique job name)"]
        );
        let p = with(opts, b"id,table,command\na,b,true\n").unwrap_err();
        assert!(
            p[0].contains("column 'id': present together with --id"),
            "{p:?}"
        );
    }

    #[test]
    fn vars_only_makes_settings_variables() {
        let opts = ManifestOptions {
            command_template: Some("echo {env} {cwd} {shell} {id}".into()),
            vars_only: true,
            ..Default::default()
        };
        let m = with(opts, b"id,env,cwd,shell\nx y,LD_PRELOAD=evil,/,true\n").unwrap();
        let j = &m.jobs.get(0);
        assert_eq!(j.id, "1");
        assert!(j.env.is_empty() && j.cwd.is_none());
        assert_eq!(
            j.command,
            CommandLine::Direct(vec![
                "echo".into(),
                "LD_PRELOAD=evil".into(),
                "/".into(),
                "true".into(),
                "x y".into()
            ])
        );
    }

    #[test]
    fn nul_bytes_are_rejected() {
        let p = problems("id,x,command,env\na,\0,echo {x},\nb,,echo \0,\nc,\0,true,K={x}\n");
        assert_eq!(
            p,
            [
                "m.csv:2: column 'command': a value in the command holds a NUL byte (expected text without NUL: no process can receive one)",
                "m.csv:3: column 'command': the command holds a NUL byte (expected text without NUL: no process can receive one)",
                "m.csv:4: column 'env': the value of K holds a NUL byte (expected text without NUL: no process can receive one)",
            ]
        );
    }

    #[test]
    fn absurd_durations_are_problems() {
        let p =
            problems("id,command,timeout\na,true,300000000000y\nb,true,18446744073709551615s\n");
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            p[0].contains("'300000000000y' is too long (expected at most 10y"),
            "{p:?}"
        );
    }

    #[test]
    fn warnings_for_values_a_shell_reparses() {
        let opts = ManifestOptions {
            command_template: Some("sh -c 'echo {x}'".into()),
            ..Default::default()
        };
        let m = with(opts, b"x\na\nb\n").unwrap();
        assert_eq!(m.warnings.len(), 1);
        assert!(m.warnings[0]
            .to_string()
            .starts_with("--command: a shell run with -c"));
        let m = parse_ok(
            "id,x,shell,command\na,1,yes,echo \"{x}\"\nb,2,yes,echo '{x}'\nc,3,no,echo \"{x}\"\n",
        );
        assert_eq!(m.warnings.len(), 1, "{:?}", m.warnings);
        assert!(m.warnings[0]
            .to_string()
            .starts_with("m.csv:2: column 'command': a placeholder inside quotes"));
    }

    #[test]
    fn manifest_size_is_capped() {
        let e = read_source("/dev/zero").unwrap_err();
        assert!(e.to_string().contains("larger than 256 MiB"), "{e}");
    }

    /// Jobs are built again from their rows when needed: every layout gives back the job the
    /// row was checked as, wherever the row is (after a byte-order mark, comments, blank lines,
    /// CRLF, a quoted line break, a bad row).
    #[test]
    fn rows_read_again_give_the_same_jobs() {
        let opts = ManifestOptions::default();
        let text = "\u{feff}id,command,env,retries\r\n# a comment\r\n\r\na,\"echo 'x\r\ny'\",K=v,2\r\nbad,,,\r\nb,true,,\r\n";
        let (m, problems) = parse_all("m.csv", text.as_bytes().to_vec(), false, &opts);
        assert_eq!(problems.len(), 1, "{problems:?}");
        let a = m.jobs.get(0);
        assert_eq!((a.id.as_str(), a.line, a.index, a.retries), ("a", 4, 0, 2));
        assert_eq!(a.command.display(), "echo 'x\r\ny'");
        assert_eq!(a.env, [("K".to_string(), "v".to_string())]);
        let b = m.jobs.get(1);
        assert_eq!((b.id.as_str(), b.line, b.index), ("b", 7, 2));
        let tsv = parse("m.tsv", b"id\tcommand\nx\techo \"1\"\n", true, &opts).unwrap();
        assert_eq!(tsv.jobs.get(0).command.display(), "echo 1");
        for (input, bytes) in [
            (InputFormat::Lines, &b"\n  \none\r\ntwo"[..]),
            (InputFormat::Null, &b"\0one\0two\0"[..]),
        ] {
            let o = ManifestOptions {
                input,
                command_template: Some("echo {}".into()),
                ..Default::default()
            };
            let m = parse("list", bytes, false, &o).unwrap();
            let got: Vec<String> = m.jobs.iter().map(|j| j.command.display()).collect();
            assert_eq!(got, ["echo one", "echo two"], "{input:?}");
        }
    }
}
