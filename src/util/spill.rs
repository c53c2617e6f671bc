/*!
A growing vector of fixed-size records that keeps only its newest ones in memory, as
sort(1) spills to `$TMPDIR`: once it holds [`SpillVec::CHUNK`] records, they are written, a
chunk at a time, to a temporary file with no name, and read back a small block at a time
(through a cache of recent blocks) when asked for. A long run's results then cost a few bytes
of memory per job instead of a record each, so its RSS stays flat (issue 19's soak).

Records are read back mostly in the order they were written (a report follows the manifest,
and jobs finish close to manifest order), so a block of [`BLOCK`] records read once serves the
next ones; a record asked for out of order costs one `pread` of its block. If no temporary
file can be made or written, the records stay in memory, as before this existed.
*/

use std::fs::File;
use std::os::unix::fs::FileExt;

use parking_lot::Mutex;

/// A record of fixed size, as bytes.
pub trait Record: Copy {
    /// Its size in bytes.
    const SIZE: usize;
    /// Writes it into `out` ([`Self::SIZE`] bytes).
    fn encode(&self, out: &mut [u8]);
    /// Reads it back from `bytes` ([`Self::SIZE`] bytes, as [`Self::encode`] wrote them).
    fn decode(bytes: &[u8]) -> Self;
}

/// Records read back at once.
const BLOCK: usize = 64;
/// Blocks kept once read, each in the slot of its number modulo this.
const CACHED: usize = 64;

/// The blocks read back: for each slot, the block number it holds and its bytes.
#[derive(Default)]
struct Cache {
    slots: Vec<(usize, Vec<u8>)>,
}

/// The vector (see the module's documentation).
pub struct SpillVec<T: Record> {
    /// Records `0..written` are in `file`.
    written: usize,
    /// Records `written..`: not written yet (or never, if writing failed).
    tail: Vec<T>,
    /// The temporary file, once made.
    file: Option<File>,
    /// Whether records may still be written (no file could be made or written otherwise).
    spills: bool,
    /// Records written at once.
    chunk: usize,
    cache: Mutex<Cache>,
}

impl<T: Record> Default for SpillVec<T> {
    fn default() -> Self {
        SpillVec::with_chunk(Self::CHUNK)
    }
}

impl<T: Record> std::fmt::Debug for SpillVec<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpillVec")
            .field("len", &self.len())
            .field("written", &self.written)
            .finish_non_exhaustive()
    }
}

impl<T: Record> Clone for SpillVec<T> {
    /// A copy held wholly in memory (only tests clone results).
    fn clone(&self) -> Self {
        SpillVec {
            written: 0,
            tail: (0..self.len()).map(|i| self.get(i)).collect(),
            file: None,
            spills: false,
            chunk: self.chunk,
            cache: Mutex::default(),
        }
    }
}

impl<T: Record> SpillVec<T> {
    /// Records kept in memory before they are written, and written at once.
    pub const CHUNK: usize = 4096;

    /// An empty vector that writes `chunk` records at a time.
    fn with_chunk(chunk: usize) -> Self {
        SpillVec {
            written: 0,
            tail: Vec::new(),
            file: None,
            spills: true,
            chunk: chunk.max(1),
            cache: Mutex::default(),
        }
    }

    /// How many records.
    pub fn len(&self) -> usize {
        self.written + self.tail.len()
    }

    /// Adds `r` at the end.
    pub fn push(&mut self, r: T) {
        self.tail.push(r);
        if self.spills && self.tail.len() >= self.chunk && !self.spill() {
            log::debug!("results stay in memory: no temporary file could take them");
            self.spills = false;
        }
    }

    /// Writes the tail to the file (made first if need be); whether it was.
    fn spill(&mut self) -> bool {
        if self.file.is_none() {
            self.file = tempfile::tempfile().ok();
        }
        let Some(file) = &self.file else {
            return false;
        };
        let mut bytes = vec![0; self.tail.len() * T::SIZE];
        for (r, out) in self.tail.iter().zip(bytes.chunks_exact_mut(T::SIZE)) {
            r.encode(out);
        }
        if file
            .write_all_at(&bytes, (self.written * T::SIZE) as u64)
            .is_err()
        {
            return false;
        }
        self.written += self.tail.len();
        self.tail.clear();
        self.tail.shrink_to(self.chunk);
        true
    }

    /// Record `i`.
    ///
    /// # Panics
    /// If `i` is out of range, or the temporary file cannot be read back.
    pub fn get(&self, i: usize) -> T {
        if i >= self.written {
            return self.tail[i - self.written];
        }
        let block = i / BLOCK;
        let mut cache = self.cache.lock();
        if cache.slots.is_empty() {
            cache.slots = vec![(usize::MAX, Vec::new()); CACHED];
        }
        let (held, bytes) = &mut cache.slots[block % CACHED];
        let first = block * BLOCK;
        // A block read while it was the file's short last one holds fewer records than
        // have been written since: read it again.
        if *held != block || (i - first) * T::SIZE >= bytes.len() {
            let n = BLOCK.min(self.written - first);
            bytes.resize(n * T::SIZE, 0);
            let file = self.file.as_ref().expect("written records have a file");
            if let Err(e) = file.read_exact_at(bytes, (first * T::SIZE) as u64) {
                panic!("cannot read results back from batchrun's temporary file: {e}");
            }
            *held = block;
        }
        let at = (i - first) * T::SIZE;
        T::decode(&bytes[at..at + T::SIZE])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq)]
    struct Pair(u64, u32);

    impl Record for Pair {
        const SIZE: usize = 12;
        fn encode(&self, out: &mut [u8]) {
            out[..8].copy_from_slice(&self.0.to_le_bytes());
            out[8..].copy_from_slice(&self.1.to_le_bytes());
        }
        fn decode(b: &[u8]) -> Self {
            Pair(
                u64::from_le_bytes(b[..8].try_into().unwrap()),
                u32::from_le_bytes(b[8..].try_into().unwrap()),
            )
        }
    }

    fn pair(i: usize) -> Pair {
        Pair(i as u64 * 0x1_0000_0001, !(i as u32))
    }

    #[test]
    fn records_read_back_as_pushed_in_any_order_once_written() {
        let mut v = SpillVec::with_chunk(100);
        let n = 100 * 45 + 37;
        for i in 0..n {
            v.push(pair(i));
        }
        assert_eq!(v.len(), n);
        // All but the last partial chunk left memory.
        assert_eq!((v.written, v.tail.len()), (4500, 37));
        assert!(v.file.is_some());
        for i in 0..n {
            assert_eq!(v.get(i), pair(i), "in order, record {i}");
        }
        // Out of order: blocks far apart, the same cache slot taken by turns, the last
        // short block of the file, and the tail.
        for i in [
            4499,
            0,
            BLOCK * CACHED,
            1,
            BLOCK * CACHED + 1,
            4480,
            4536,
            355,
            4500,
            4499,
        ] {
            assert_eq!(v.get(i), pair(i), "out of order, record {i}");
        }
        // A copy holds them all in memory and reads the same.
        let c = v.clone();
        assert!(c.file.is_none() && c.tail.len() == n);
        assert!((0..n).all(|i| c.get(i) == pair(i)));
    }

    #[test]
    fn a_block_read_short_is_read_again_once_more_of_it_is_written() {
        // Reads between writes: block 1 (records 64..128) is first read with only 64..100
        // written, then asked for a record written after.
        let mut v = SpillVec::with_chunk(100);
        for i in 0..200 {
            v.push(pair(i));
            if i >= 100 {
                assert_eq!(v.get(70), pair(70));
            }
        }
        assert_eq!(v.written, 200);
        assert_eq!(v.get(120), pair(120));
    }

    #[test]
    fn a_vector_shorter_than_a_chunk_makes_no_file() {
        let mut v = SpillVec::<Pair>::default();
        for i in 0..SpillVec::<Pair>::CHUNK - 1 {
            v.push(pair(i));
        }
        assert!(v.file.is_none() && v.written == 0);
        assert_eq!(v.get(17), pair(17));
    }

    #[test]
    fn records_stay_in_memory_when_the_file_cannot_take_them() {
        let mut v = SpillVec::with_chunk(10);
        for i in 0..25 {
            v.push(pair(i));
        }
        assert_eq!(v.written, 20);
        // A file opened read-only refuses every write, like a full or broken disk.
        v.file = Some(File::open("/dev/null").unwrap());
        for i in 25..55 {
            v.push(pair(i));
        }
        assert!(!v.spills);
        assert_eq!((v.written, v.tail.len()), (20, 35));
        // The 20 written before cannot be read back from /dev/null: only the rest are
        // checked, all still in memory.
        assert!((20..55).all(|i| v.get(i) == pair(i)));
    }
}
