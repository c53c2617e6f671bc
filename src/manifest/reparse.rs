//! Jobs built again from their rows when needed ([`Reparse`]): the manifest's bytes kept with
//! how its rows were read, as the store's [`RowSource`].

use std::borrow::Cow;
use std::sync::Arc;

use crate::manifest::layout::Layout;
use crate::manifest::problems::{Problems, Row};
use crate::manifest::row::{build_job, row_id, simple_display, table_cells, table_job};
use crate::manifest::table::Table;
use crate::model::config::InputFormat;
use crate::model::job::JobSpec;
use crate::store::jobs::{RowRef, RowSource};
use crate::util::bytes::Bytes;

/// What it takes to build a job again from its row: the manifest's bytes and how its rows
/// were read. Every row it is asked for was valid when first read, so it is valid again.
#[derive(Debug)]
pub(crate) struct Reparse {
    bytes: Arc<Bytes>,
    /// Where the rows' offsets count from (past a byte-order mark).
    start: usize,
    tsv: bool,
    layout: Layout,
    /// Readers ready to seek to a row: building one costs more than reading a row, so each is
    /// kept for the next row (one per thread reading rows at the same time).
    readers: [parking_lot::Mutex<Vec<Reader>>; READER_SHARDS],
}

/// A reader and the record it reads into, kept together: a new record grows its buffers
/// field by field, which cost more than reading the row.
type Reader = (csv::Reader<std::io::Cursor<Shared>>, csv::ByteRecord);

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
struct Shared(Arc<Bytes>);

impl AsRef<[u8]> for Shared {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Reparse {
    pub(crate) fn new(bytes: Arc<Bytes>, start: usize, tsv: bool, layout: Layout) -> Self {
        Reparse {
            bytes,
            start,
            tsv,
            layout,
            readers: Default::default(),
        }
    }

    /// Reads the record that starts at byte `at` and gives it to `f`.
    fn with_record<R>(&self, at: usize, f: impl FnOnce(&csv::ByteRecord) -> R) -> R {
        // Threads building jobs at the same time keep to shards of their own.
        let readers = &self.readers[reader_shard()];
        let reader = readers.lock().pop();
        let (mut reader, mut rec) = reader.unwrap_or_else(|| {
            let cursor = std::io::Cursor::new(Shared(Arc::clone(&self.bytes)));
            // Small: each read fills the buffer from the row on, for one row.
            let reader = Table::builder(self.tsv)
                .buffer_capacity(512)
                .from_reader(cursor);
            (reader, csv::ByteRecord::new())
        });
        let mut pos = csv::Position::new();
        pos.set_byte(at as u64);
        let read =
            reader.seek(pos).is_ok() && matches!(reader.read_byte_record(&mut rec), Ok(true));
        assert!(read, "a row that was valid can be read again");
        let r = f(&rec);
        readers.lock().push((reader, rec));
        r
    }

    /// What separates the fields of a record.
    fn delimiter(&self) -> char {
        if self.tsv {
            '\t'
        } else {
            ','
        }
    }

    /// The job of the row at `r`; with `for_table`, only what the plan table shows, when a
    /// shorter way gives it ([`table_job`]).
    fn job_at(&self, r: RowRef, for_table: bool) -> JobSpec {
        let bytes = &self.bytes[self.start..];
        let at = &bytes[r.offset as usize..];
        let (index, line) = (r.index as usize, u64::from(r.line));
        let mut problems = Problems::new("");
        let mut row = Row {
            line,
            problems: &mut problems,
        };
        let per_job = self.layout.opts.items_per_job();
        let item = |sep: u8| {
            crate::manifest::list::items(at, sep)
                .take(per_job)
                .map(|(_, _, raw)| std::str::from_utf8(raw).expect("a valid item"))
                .collect::<Vec<_>>()
        };
        let build = |fields: &[&str], row: &mut Row| {
            let id = row_id(&self.layout, index, fields);
            let short = for_table
                .then(|| table_job(&self.layout, (index, line), &id, fields, r.retries))
                .flatten();
            short.or_else(|| build_job(&self.layout, (index, line), &id, fields, row, None))
        };
        let job = match self.layout.opts.input {
            InputFormat::Lines => build(&item(b'\n'), &mut row),
            InputFormat::Null => build(&item(b'\0'), &mut row),
            InputFormat::Table => match plain_record(at, self.tsv) {
                Some(line) => build(&line.split(self.delimiter()).collect::<Vec<_>>(), &mut row),
                None => self.with_record(self.start + r.offset as usize, |rec| {
                    let fields: Vec<&str> = rec
                        .iter()
                        .map(|f| std::str::from_utf8(f).expect("a valid row"))
                        .collect();
                    build(&fields, &mut row)
                }),
            },
        };
        job.filter(|_| problems.list.is_empty())
            .expect("a row that was valid is valid when read again")
    }
}

impl Reparse {
    /// `f` of the fields of the row at `r`, when it is a table's row without a quote (split
    /// at the delimiter, as [`plain_record`] allows) of at most 8 fields; else `None`.
    fn with_plain_fields<'s, T>(
        &'s self,
        r: RowRef,
        f: impl FnOnce(&[&'s str]) -> Option<T>,
    ) -> Option<T> {
        if self.layout.opts.input != InputFormat::Table {
            return None;
        }
        let at = &self.bytes[self.start + r.offset as usize..];
        let line = plain_record(at, self.tsv)?;
        let mut fields = [""; 8];
        let mut n = 0;
        for field in line.split(self.delimiter()) {
            if n == fields.len() {
                return None;
            }
            fields[n] = field;
            n += 1;
        }
        f(&fields[..n])
    }

    /// The items (as raw bytes) from the plain list's job of the row at `r` on; `None` for a
    /// table's row.
    fn list_items(&self, r: RowRef) -> Option<impl Iterator<Item = &[u8]>> {
        let sep = match self.layout.opts.input {
            InputFormat::Table => return None,
            InputFormat::Lines => b'\n',
            InputFormat::Null => b'\0',
        };
        let at = &self.bytes[self.start + r.offset as usize..];
        Some(crate::manifest::list::items(at, sep).map(|(_, _, raw)| raw))
    }

    /// The first item of the plain list's job of the row at `r`, as UTF-8; `None` for a
    /// table's row (or an item that is not UTF-8).
    fn list_item(&self, r: RowRef) -> Option<&str> {
        std::str::from_utf8(self.list_items(r)?.next()?).ok()
    }
}

/// The record that starts `bytes`, when the csv reader would read it as its line split at
/// the delimiter: a line without a quote (CSV), ended by `\n`, `\r` or the end of the bytes
/// (the csv reader's line ends), as UTF-8 (the row was valid when first read). `None` for
/// any other record: the csv reader reads it ([`Reparse::with_record`]). Most rows of big
/// manifests are plain, and splitting them costs a fraction of seeking a reader to them.
fn plain_record(bytes: &[u8], tsv: bool) -> Option<&str> {
    // With TSV (no quoting), a quote is text.
    let end = bytes
        .iter()
        .position(|&b| b == b'\n' || b == b'\r' || (b == b'"' && !tsv))
        .unwrap_or(bytes.len());
    if bytes.get(end) == Some(&b'"') {
        return None;
    }
    std::str::from_utf8(&bytes[..end]).ok()
}

impl RowSource for Reparse {
    fn job(&self, row: RowRef) -> JobSpec {
        self.job_at(row, false)
    }

    fn table_cells(&self, r: RowRef, f: &mut dyn FnMut(&[&str; 6])) -> bool {
        self.with_plain_fields(r, |fields| {
            table_cells(&self.layout, r.index as usize, fields, r.retries, f).then_some(())
        })
        .is_some()
    }

    fn table_job(&self, row: RowRef) -> JobSpec {
        self.job_at(row, true)
    }

    fn shown_command(&self, row: RowRef) -> Option<Cow<'_, str>> {
        match self.list_item(row) {
            Some(item) => {
                crate::manifest::key::list_display(&self.layout, row.index as usize, item)
                    .map(Cow::Owned)
            }
            None => self.with_plain_fields(row, |fields| simple_display(&self.layout, fields)),
        }
    }

    fn release(&self) {
        self.bytes.release_all();
    }

    fn command_key(&self, r: RowRef) -> Option<u64> {
        let item = self.list_item(r)?;
        crate::manifest::key::list_command_key(&self.layout, r.index as usize, item)
    }

    fn items(&self, r: RowRef) -> Option<Vec<String>> {
        let items = self
            .list_items(r)?
            .take(self.layout.opts.items_per_job())
            .map(|raw| String::from_utf8_lossy(raw).into_owned())
            .collect();
        Some(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fields of the first record of `text` as the csv reader reads them.
    fn csv_fields(text: &str, tsv: bool) -> Vec<String> {
        let mut rec = csv::ByteRecord::new();
        let mut reader = Table::builder(tsv).from_reader(text.as_bytes());
        assert!(reader.read_byte_record(&mut rec).unwrap());
        rec.iter()
            .map(|f| String::from_utf8(f.to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn a_plain_record_splits_as_the_csv_reader_reads_it() {
        let cases = [
            ("a,/bin/echo 1,30s\nb,x,y\n", false),
            ("a,/bin/echo 1,30s\r\nb,x,y\r\n", false),
            ("a,b\rc,d", false),
            ("a,,c", false),
            ("a\tsay \"hi\"\t1s\nb\tc\td\n", true),
            ("a\tb c,d\t\n", true),
            ("é,ü x,\n", false),
        ];
        for (text, tsv) in cases {
            let line = plain_record(text.as_bytes(), tsv).expect(text);
            let delimiter = if tsv { '\t' } else { ',' };
            let fields: Vec<&str> = line.split(delimiter).collect();
            assert_eq!(fields, csv_fields(text, tsv), "{text:?}");
        }
    }

    #[test]
    fn a_record_with_a_quote_is_read_by_the_csv_reader() {
        for text in ["a,\"x,y\",1s\n", "a,say \"hi\",1s\n", "\"a\nb\",c\n"] {
            assert_eq!(plain_record(text.as_bytes(), false), None, "{text:?}");
        }
    }
}
