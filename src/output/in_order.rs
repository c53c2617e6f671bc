//! Writing a text per job, in a given order, made on every core ([`crate::util::par`]) a
//! bounded batch at a time: `check`'s plan table, `--dry-run`'s commands, the JSON report's
//! jobs.

use std::io::Write;
use std::ops::Range;

use crate::store::jobs::Jobs;

/// Jobs whose texts one thread makes at a time.
pub(crate) const PIECE: usize = 512;

/// Jobs made between two releases of the rows read ([`Jobs::release`]): a release flushes
/// every core's TLB (an interrupt on each, which a virtual machine's busy host may answer
/// late), and the JSON report's batches of 1024 jobs released after each one, 977 times for a
/// million jobs. 16K rows of a manifest are a few hundred KB.
const RELEASE_AFTER: usize = 16 * 1024;

/// A text a job's line is appended to, cleared to be used again.
pub(crate) trait Text: Default + AsRef<[u8]> + Send {
    /// Empties the text, keeping its room.
    fn clear(&mut self);
}

impl Text for String {
    fn clear(&mut self) {
        String::clear(self);
    }
}

impl Text for Vec<u8> {
    fn clear(&mut self) {
        Vec::clear(self);
    }
}

/// Writes the text that `f` appends for each of `n` jobs to `w`, job `job(k)` `k`-th. The
/// texts are made on every core, `batch` jobs at a time, so memory stays bounded, each batch
/// written while the next is made; after every [`RELEASE_AFTER`] jobs the rows read are
/// released ([`Jobs::release`]). The texts of a batch written are cleared and made into again:
/// a piece's text is up to hundreds of KB, and one allocated and freed per piece was grown
/// from nothing each time, then handed back to the kernel (a TLB flush on every core).
pub(crate) fn write_in_order<B: Text>(
    w: &mut dyn Write,
    jobs: &Jobs,
    (n, batch): (usize, usize),
    job: impl Fn(usize) -> usize + Sync,
    f: impl Fn(usize, &mut B) + Sync,
) -> std::io::Result<()> {
    let write =
        |w: &mut dyn Write, texts: &[B]| texts.iter().try_for_each(|t| w.write_all(t.as_ref()));
    let spare: parking_lot::Mutex<Vec<B>> = parking_lot::Mutex::default();
    crate::util::par::scope(n, |par| {
        let mut made: Vec<B> = Vec::new();
        let mut since_release = 0;
        for start in (0..n).step_by(batch.max(1)) {
            let end = n.min(start + batch.max(1));
            let pieces: Vec<Range<usize>> = (start..end)
                .step_by(PIECE)
                .map(|k| k..end.min(k + PIECE))
                .collect();
            let make = |piece: &Range<usize>| {
                let mut text = spare.lock().pop().unwrap_or_default();
                for k in piece.clone() {
                    f(job(k), &mut text);
                }
                text
            };
            let (texts, written) = par.map_beside(&pieces, make, || write(w, &made));
            written?;
            since_release += end - start;
            if since_release >= RELEASE_AFTER {
                jobs.release();
                since_release = 0;
            }
            spare.lock().extend(made.drain(..).map(|mut t| {
                t.clear();
                t
            }));
            made = texts;
        }
        write(w, &made)
    })
}
