//! Plain lists (`--lines`, `--null`): each non-blank item (or, with `-n N`, each run of N
//! items) a row whose variables are the item forms (`{}`, `{.}`, …).

use crate::manifest::batch::{Batch, Batches, Rows};
use crate::manifest::layout::Layout;
use crate::manifest::problems::Problems;
use crate::model::config::ManifestOptions;
use crate::util::par::Par;

/// The non-blank items of a list, each with its number among all items (blank ones counted,
/// 0-based) and its byte offset.
pub(crate) fn items(bytes: &[u8], sep: u8) -> impl Iterator<Item = (usize, usize, &[u8])> {
    let mut offset = 0;
    bytes
        .split(move |&b| b == sep)
        .enumerate()
        .filter_map(move |(n, raw)| {
            let at = offset;
            offset += raw.len() + 1;
            let raw = match sep {
                b'\n' => raw.strip_suffix(b"\r").unwrap_or(raw),
                _ => raw,
            };
            (!raw.iter().all(u8::is_ascii_whitespace)).then_some((n, at, raw))
        })
}

/// A plain list: each non-blank item, or each run of `-n` items, is a row.
pub(crate) fn parse_list(
    par: Par<'_>,
    bytes: &[u8],
    sep: u8,
    opts: &ManifestOptions,
    problems: &mut Problems<'_>,
) -> (Layout, Rows) {
    let layout = Layout::new(vec![String::new()], None, opts, problems);
    let mut rows = Rows::new(&layout);
    let per_job = opts.items_per_job();
    let mut items = items(bytes, sep).peekable();
    let mut index = 0;
    let read = |batch: &mut Batch| {
        while !batch.full() {
            let Some(&(n, at, _)) = items.peek() else {
                return false;
            };
            let p = batch.next((index, n as u64 + 1, at));
            for (_, _, raw) in items.by_ref().take(per_job) {
                p.rec.push_field(raw);
            }
            index += 1;
        }
        items.peek().is_some()
    };
    Batches::default().run(par, &layout, (&mut rows, problems), read);
    (layout, rows)
}
