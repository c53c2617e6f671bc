/*!
The manifest: CSV (or TSV) bytes, or a plain list (`--lines`, `--null`) →
[`JobSpec`](crate::model::job::JobSpec)s, every bad row reported with its line and column.

Reading never stops at the first problem: each row is checked in full and every problem is kept
as a [`Problem`], printed as `FILE:LINE: column 'NAME': what is wrong (what was expected)`.
Cross-row checks (`after` ids, cycles, `--limit` groups) live in [`crate::plan`]; templates in
[`crate::manifest::template`].

Limits: a manifest is at most [`MAX_MANIFEST_BYTES`](limits::MAX_MANIFEST_BYTES), an id at most [`MAX_ID_LEN`](limits::MAX_ID_LEN) characters,
a duration at most [`MAX_DURATION`](crate::util::duration::MAX_DURATION). No command, argument,
working directory or environment value may hold a NUL byte (no process can receive one).
*/

mod batch;
pub(crate) mod ids;
mod key;
mod layout;
mod limits;
mod list;
mod problems;
mod reparse;
mod row;
mod source;
mod syntax;
mod table;
pub(crate) mod template;
#[cfg(test)]
mod tests;
mod warn;

use std::collections::HashSet;
use std::sync::Arc;

pub use self::limits::NO_GROUP;
pub(crate) use self::reparse::Reparse;
pub use self::source::{display_name, read_source_bytes};

use self::list::parse_list;
use self::problems::Problems;
use self::table::parse_table;
use crate::model::config::{InputFormat, ManifestOptions};
use crate::model::problem::Problem;
use crate::store::jobs::{Jobs, Strings};
use crate::util::bytes::Bytes;

/// A parsed manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The name used in messages and the report.
    pub name: String,
    /// Every job, in manifest order.
    pub jobs: Jobs,
    /// Each job's `after` field as written (ids separated by blanks); empty when the manifest
    /// has no `after` column.
    pub after: Strings,
    /// Group names, in order of first appearance.
    pub groups: Vec<String>,
    /// Each job's group, as an index in `groups` ([`NO_GROUP`]: none); empty when no job has a
    /// group.
    pub group_of: Vec<u32>,
    /// The header's column names, in order (a plain list has one, the empty name of `{}`).
    pub columns: Vec<String>,
    /// Ids of rows that had problems (and so are not in `jobs`): `after` may name them
    /// without a second, misleading "unknown id" problem.
    pub invalid_ids: HashSet<String>,
    /// True when the ids are row (or item) numbers: no `id` column and no `--id`. `--resume`
    /// then matches jobs by their command instead.
    pub ids_from_rows: bool,
    /// Patterns that are valid but let a value be re-parsed by a shell; at most one of each
    /// kind per template source.
    pub warnings: Vec<Problem>,
    /// The widest cell of each column of the plan table (`check`), over every job.
    pub table_widths: [usize; 6],
}

/// Parses manifest bytes. `tsv` selects tab-separated, unquoted fields.
///
/// Returns every job, or every problem found.
pub fn parse(
    name: &str,
    bytes: &[u8],
    tsv: bool,
    opts: &ManifestOptions,
) -> Result<Manifest, Vec<Problem>> {
    let (m, problems) = parse_all(name, bytes.to_vec(), tsv, opts);
    if problems.is_empty() {
        Ok(m)
    } else {
        Err(problems)
    }
}

/// Parses manifest bytes, returning the jobs of the rows without problems together with every
/// problem found, so cross-row checks can still run on the valid rows. The jobs keep the bytes,
/// to build each job again when it is needed ([`Jobs::get`]). Mapped bytes are released as
/// they are read ([`Bytes::release`]).
pub fn parse_all(
    name: &str,
    bytes: impl Into<Bytes>,
    tsv: bool,
    opts: &ManifestOptions,
) -> (Manifest, Vec<Problem>) {
    let mut problems = Problems::new(name);
    let bytes = Arc::new(bytes.into());
    let start = if bytes.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let text = &bytes[start..];
    // About one row per 16 bytes, for deciding whether threads pay.
    // What a pass over the table has read, before `offset` of `text`, is not needed again.
    let release = |offset: usize| bytes.release(0..start + offset);
    let (layout, mut rows) = crate::util::par::scope(text.len() / 16, |par| match opts.input {
        InputFormat::Table => parse_table(par, text, tsv, opts, &release, &mut problems),
        InputFormat::Lines => parse_list(par, text, b'\n', opts, &mut problems),
        InputFormat::Null => parse_list(par, text, b'\0', opts, &mut problems),
    });
    rows.table.shrink_to_fit();
    bytes.release_all();
    let columns = layout.columns.clone();
    let source = Reparse::new(Arc::clone(&bytes), start, tsv, layout);
    let m = Manifest {
        name: name.to_string(),
        jobs: Jobs::from_rows(rows.table, Arc::new(source)),
        after: rows.after.unwrap_or_default(),
        groups: rows.groups,
        group_of: rows.group_of.unwrap_or_default(),
        columns,
        invalid_ids: rows.invalid_ids,
        ids_from_rows: rows.ids_from_rows,
        warnings: rows.warner.given.into_iter().map(|w| w.2).collect(),
        table_widths: rows.table_widths,
    };
    (m, problems.list)
}
