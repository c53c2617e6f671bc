//! Jobs built again from their rows when needed ([`Reparse`]): the manifest's bytes kept with
//! how its rows were read, as the store's [`RowSource`].

use std::sync::Arc;

use crate::manifest::layout::Layout;
use crate::manifest::problems::{Problems, Row};
use crate::manifest::row::{build_job, row_id};
use crate::manifest::table::Table;
use crate::model::config::InputFormat;
use crate::model::job::JobSpec;
use crate::store::jobs::{RowRef, RowSource};

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
    pub(crate) fn new(bytes: Arc<Vec<u8>>, start: usize, tsv: bool, layout: Layout) -> Self {
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
        let per_job = self.layout.opts.items_per_job();
        let item = |sep: u8| {
            crate::manifest::list::items(at, sep)
                .take(per_job)
                .map(|(_, _, raw)| std::str::from_utf8(raw).expect("a valid item"))
                .collect::<Vec<_>>()
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

    fn items(&self, r: RowRef) -> Option<Vec<String>> {
        let sep = match self.layout.opts.input {
            InputFormat::Table => return None,
            InputFormat::Lines => b'\n',
            InputFormat::Null => b'\0',
        };
        let at = &self.bytes[self.start + r.offset as usize..];
        let items = crate::manifest::list::items(at, sep)
            .take(self.layout.opts.items_per_job())
            .map(|(_, _, raw)| String::from_utf8_lossy(raw).into_owned())
            .collect();
        Some(items)
    }
}
