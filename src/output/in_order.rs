//! Writing a text per job, in a given order, made on every core ([`crate::util::par`]) a
//! bounded batch at a time: `check`'s plan table, `--dry-run`'s commands, the JSON report's
//! jobs.

use std::io::Write;
use std::ops::Range;

use crate::store::jobs::Jobs;

/// Jobs whose texts one thread makes at a time.
pub(crate) const PIECE: usize = 512;

/// Writes the text that `f` appends for each of `n` jobs to `w`, job `job(k)` `k`-th. The
/// texts are made on every core, `batch` jobs at a time, so memory stays bounded, each batch
/// written while the next is made; after each batch the rows read are released
/// ([`Jobs::release`]).
pub(crate) fn write_in_order<B: Default + AsRef<[u8]> + Send>(
    w: &mut dyn Write,
    jobs: &Jobs,
    (n, batch): (usize, usize),
    job: impl Fn(usize) -> usize + Sync,
    f: impl Fn(usize, &mut B) + Sync,
) -> std::io::Result<()> {
    let write =
        |w: &mut dyn Write, texts: &[B]| texts.iter().try_for_each(|t| w.write_all(t.as_ref()));
    crate::util::par::scope(n, |par| {
        let mut made: Vec<B> = Vec::new();
        for start in (0..n).step_by(batch.max(1)) {
            let end = n.min(start + batch.max(1));
            let pieces: Vec<Range<usize>> = (start..end)
                .step_by(PIECE)
                .map(|k| k..end.min(k + PIECE))
                .collect();
            let make = |piece: &Range<usize>| {
                let mut text = B::default();
                for k in piece.clone() {
                    f(job(k), &mut text);
                }
                text
            };
            let (texts, written) = par.map_beside(&pieces, make, || write(w, &made));
            written?;
            jobs.release();
            made = texts;
        }
        write(w, &made)
    })
}
