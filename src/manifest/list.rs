//! Plain lists (`--lines`, `--null`): each non-blank item a row with one variable, `{}`.

use crate::manifest::batch::{Batches, Rows};
use crate::manifest::layout::Layout;
use crate::manifest::problems::Problems;
use crate::model::config::ManifestOptions;
use crate::util::par::Par;

/// A plain list: each non-blank item is a row with one variable, `{}`.
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
