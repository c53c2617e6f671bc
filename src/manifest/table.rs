//! CSV (or TSV) tables: the first pass over the bytes (header, row count, malformed CSV), the
//! header's column names, and the second pass that hands each row to the batches, with the
//! line numbers of records.

use crate::manifest::batch::{Batches, Rows};
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
            // The rows read are copied into their records.
            release(offset);
        }
    }
    batch.finish(par, &layout, &mut rows, problems);
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
