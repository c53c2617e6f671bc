//! CSV (or TSV) tables: the first pass over the bytes (header, row count, malformed CSV), the
//! header's column names, and the second pass that hands each row to the batches, with the
//! line numbers of records.

use crate::manifest::batch::{Batch, Batches, Rows};
use crate::manifest::layout::Layout;
use crate::manifest::problems::Problems;
use crate::model::config::ManifestOptions;
use crate::util::par::Par;

/// A CSV (or TSV) table with a header row.
pub(crate) fn parse_table(
    par: Par<'_>,
    bytes: &[u8],
    tsv: bool,
    opts: &ManifestOptions,
    release: &dyn Fn(usize),
    problems: &mut Problems<'_>,
) -> (Layout, Rows) {
    let table = Table::new(bytes, tsv);
    // Two passes over the bytes, each reusing one record, so no row is held in memory twice:
    // the first finds the header and the last record, the second turns rows into jobs. What
    // each has read is released as it goes (`release`: mapped bytes leave the RSS).
    let scan = table.scan(problems);
    release(bytes.len());
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
    let mut records = table.records();
    let mut seen_header = false;
    let mut index = 0usize;
    let read = |batch: &mut Batch| {
        while !batch.full() {
            let p = batch.next((index, 0, 0));
            let Some((offset, line)) = records.read(&mut p.rec) else {
                batch.unread();
                return false;
            };
            // The header is the first record that is not blank, as the first pass found it.
            if Table::blank(&p.rec) || !seen_header {
                seen_header |= !Table::blank(&p.rec);
                batch.unread();
                continue;
            }
            (p.line, p.offset) = (line, offset);
            p.unbalanced = Some(line) == scan.unbalanced_line;
            index += 1;
            if batch.full() {
                // The rows read are copied into their records.
                release(offset);
            }
        }
        true
    };
    Batches::default().run(par, &layout, (&mut rows, problems), read);
    (layout, rows)
}

/// The header's column names; empty, repeated or non-UTF-8 names are problems.
fn header_columns(
    header: &csv::ByteRecord,
    header_line: u64,
    problems: &mut Problems<'_>,
) -> Vec<String> {
    let mut columns: Vec<String> = Vec::with_capacity(header.len());
    // Names seen so far: a set, so a header of a million columns is checked in linear time.
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
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
        } else if !seen.insert(s.clone()) {
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
pub(crate) struct Table<'b> {
    bytes: &'b [u8],
    tsv: bool,
    /// The csv reader's own line numbers skip comment and blank lines; we count them ourselves.
    lines: LineCursor,
    /// Whether the table is plain ([`PlainLines`]): found once, as reading every byte again
    /// would bring the bytes released back into memory.
    plain: bool,
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
            plain: PlainLines::of(bytes, tsv).is_some(),
        }
    }

    fn reader(&self) -> csv::Reader<&'b [u8]> {
        Self::builder(self.tsv).from_reader(self.bytes)
    }

    /// How every table is read.
    pub(crate) fn builder(tsv: bool) -> csv::ReaderBuilder {
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

    /// The records of the table, each with its offset and line: split at the delimiter
    /// when the table is plain ([`PlainLines`]), else read by the csv reader.
    fn records(&self) -> Records<'_, 'b> {
        if self.plain {
            Records::Plain(PlainLines::new(self.bytes), self.delimiter())
        } else {
            Records::Csv(self, self.reader())
        }
    }

    fn delimiter(&self) -> u8 {
        if self.tsv {
            b'\t'
        } else {
            b','
        }
    }

    /// The first pass: the header, the number of rows, malformed CSV.
    fn scan(&self, problems: &mut Problems<'_>) -> Scan {
        if self.plain {
            let lines = PlainLines::new(self.bytes);
            // No quote and no lone `\r`: no record is malformed or spans lines.
            // A line is a blank record when it is one field of white space: no delimiter.
            // Only the header is split; the other lines are counted.
            let delimiter = self.delimiter();
            let blank = |text: &[u8]| {
                text.iter()
                    .all(|&b| b.is_ascii_whitespace() && b != delimiter)
            };
            let mut rec = csv::ByteRecord::new();
            let mut header = None;
            let mut data_rows = 0usize;
            for (_, line, text) in lines {
                if blank(text) {
                    continue;
                }
                if header.is_none() {
                    split_into(text, delimiter, &mut rec);
                    header = Some((rec.clone(), line));
                } else {
                    data_rows += 1;
                }
            }
            return Scan {
                header,
                data_rows,
                unbalanced_line: None,
            };
        }
        let mut rec = csv::ByteRecord::new();
        let mut header = None;
        // The last record's start, end and line.
        let mut last: Option<(usize, usize, u64)> = None;
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
                    last = Some((start, reader.position().byte() as usize, line));
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
        // field: a well-formed quoted record holds an even number of quote characters. Only
        // the record's own bytes count, not comments after it.
        let unbalanced_line = last.and_then(|(start, end, line)| {
            let end = end.clamp(start, self.bytes.len());
            let quotes = self.bytes[start..end]
                .iter()
                .filter(|&&b| b == b'"')
                .count();
            (!self.tsv && quotes % 2 == 1).then_some(line)
        });
        Scan {
            header,
            data_rows,
            unbalanced_line,
        }
    }
}

/// A table's records, from [`Table::records`].
enum Records<'t, 'b> {
    Plain(PlainLines<'b>, u8),
    Csv(&'t Table<'b>, csv::Reader<&'b [u8]>),
}

impl Records<'_, '_> {
    /// Reads the next record into `rec`; its offset and line, or `None` at the end.
    fn read(&mut self, rec: &mut csv::ByteRecord) -> Option<(usize, u64)> {
        match self {
            Records::Plain(lines, delimiter) => {
                let (offset, line, text) = lines.next()?;
                split_into(text, *delimiter, rec);
                Some((offset, line))
            }
            Records::Csv(table, reader) => {
                if !matches!(reader.read_byte_record(rec), Ok(true)) {
                    return None;
                }
                Some(table.locate(rec))
            }
        }
    }
}

/// `text` split at `delimiter`, into `rec`.
fn split_into(text: &[u8], delimiter: u8, rec: &mut csv::ByteRecord) {
    rec.clear();
    for field in text.split(|&b| b == delimiter) {
        rec.push_field(field);
    }
}

/// The records of a plain table, read as the csv reader reads them without its per-byte
/// state machine: a table where no quote can make a record span lines or hold a delimiter (no
/// `"` in CSV; TSV has no quoting) and every line ends in `\n` or `\r\n` (a lone `\r` ends a
/// record for the csv reader, but no line). Each line is then one record, split at the
/// delimiter; empty lines and comment lines (`#` first) are no record. Most big manifests are
/// plain.
#[derive(Clone)]
pub(crate) struct PlainLines<'b> {
    bytes: &'b [u8],
    /// Where the next line starts, and its 1-based number.
    at: usize,
    line: u64,
}

impl<'b> PlainLines<'b> {
    /// The lines of `bytes`, when they are a plain table.
    pub(crate) fn of(bytes: &'b [u8], tsv: bool) -> Option<Self> {
        if !tsv && bytes.contains(&b'"') {
            return None;
        }
        let lone_cr = bytes.contains(&b'\r')
            && bytes
                .iter()
                .enumerate()
                .any(|(i, &b)| b == b'\r' && bytes.get(i + 1) != Some(&b'\n'));
        (!lone_cr).then(|| Self::new(bytes))
    }

    /// The lines of `bytes`, known to be a plain table.
    fn new(bytes: &'b [u8]) -> Self {
        PlainLines {
            bytes,
            at: 0,
            line: 1,
        }
    }
}

impl<'b> Iterator for PlainLines<'b> {
    /// A record's offset, line, and text (without its line end).
    type Item = (usize, u64, &'b [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        while self.at < self.bytes.len() {
            let (start, line) = (self.at, self.line);
            let rest = &self.bytes[start..];
            let end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
            self.at = start + end + 1;
            self.line += 1;
            let text = rest[..end].strip_suffix(b"\r").unwrap_or(&rest[..end]);
            if !text.is_empty() && text[0] != b'#' {
                return Some((start, line, text));
            }
        }
        None
    }
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
