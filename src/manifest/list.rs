//! Plain lists (`--lines`, `--null`): each non-blank item (or, with `-n N`, each run of N
//! items) a row whose variables are the item forms (`{}`, `{.}`, …).

use crate::manifest::batch::{Batches, Rows};
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
    let mut batch = Batches::default();
    let per_job = opts.items_per_job();
    let mut group: Vec<&[u8]> = Vec::with_capacity(per_job.min(4096));
    let mut first = (0, 0);
    let mut index = 0;
    let mut add = |group: &mut Vec<&[u8]>, (n, at): (usize, usize), rows: &mut Rows| {
        let p = batch.next((index, n as u64 + 1, at));
        for item in group.drain(..) {
            p.rec.push_field(item);
        }
        index += 1;
        if batch.full() {
            batch.flush(par, &layout, rows, problems);
        }
    };
    for (n, at, raw) in items(bytes, sep) {
        if group.is_empty() {
            first = (n, at);
        }
        group.push(raw);
        if group.len() == per_job {
            add(&mut group, first, &mut rows);
        }
    }
    if !group.is_empty() {
        add(&mut group, first, &mut rows);
    }
    batch.finish(par, &layout, &mut rows, problems);
    (layout, rows)
}
