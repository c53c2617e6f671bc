/*!
Every job of a manifest, held compactly (issue 10): per job only its id (in one buffer), the
offset and line of its row (and its retries when it has some): about 12 bytes besides the id. The rest of a job — its command, `cwd`
and `env` — is not kept: [`Jobs::get`] builds the whole [`JobSpec`] again from the manifest's
bytes when it is needed (when the job starts, and when a report prints it), with the same
code that checked the row. Planning needs only ids and `after` edges, which the plan keeps as
indices ([`crate::plan::adjacency`]).

Jobs that were not read from a manifest (tests, hand-built plans) are kept whole:
[`Jobs::from_specs`].
*/

use std::sync::Arc;

use crate::model::job::{command_key, JobSpec};

/// Many strings in one buffer: four bytes per string beside its text, where a `Vec<String>`
/// takes 24 plus an allocation of its own for each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Strings {
    text: String,
    /// `ends[i]` is where string `i` ends in `text`.
    ends: Vec<u32>,
}

impl Strings {
    /// Appends `s`.
    ///
    /// # Panics
    /// When the text passes 4 GiB (a manifest is at most 256 MiB).
    pub fn push(&mut self, s: &str) {
        self.text.push_str(s);
        self.ends
            .push(u32::try_from(self.text.len()).expect("strings fit in 4 GiB"));
    }

    /// String `i`.
    pub fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.text[start..self.ends[i] as usize]
    }

    /// How many strings.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Room for `n` more strings of about `bytes` bytes in all.
    pub fn reserve(&mut self, n: usize, bytes: usize) {
        self.ends.reserve(n);
        self.text.reserve(bytes);
    }

    /// Gives back what was reserved and not used.
    pub fn shrink_to_fit(&mut self) {
        self.ends.shrink_to_fit();
        self.text.shrink_to_fit();
    }
}

/// Where one job's row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RowRef {
    /// Byte offset of the row (or item) in the manifest.
    pub offset: u32,
    /// 1-based line the row starts on (with `--null`, the item's number).
    pub line: u32,
    /// Position among the data rows, 0-based.
    pub index: u32,
    /// Extra attempts after a failure.
    pub retries: u32,
}

/// The rows that became jobs, as a manifest is read: where each is, and its id. Row
/// positions and retries are stored only once one differs from the usual (job `k` is data row
/// `k`; no retries): 12 bytes per job and its id, most of the time.
#[derive(Debug, Default, Clone)]
pub(crate) struct RowTable {
    /// Offset and line of each job's row.
    places: Vec<(u32, u32)>,
    /// Each job's data row; `None` while job `k` is row `k`.
    index: Option<Vec<u32>>,
    /// Each job's retries; `None` while all are 0.
    retries: Option<Vec<u32>>,
    /// `ids.get(k)` is job `k`'s id.
    pub ids: Strings,
}

impl RowTable {
    /// Adds the next job.
    pub fn push(&mut self, r: RowRef, id: &str) {
        let k = self.places.len() as u32;
        if r.index != k || self.index.is_some() {
            self.index
                .get_or_insert_with(|| (0..k).collect())
                .push(r.index);
        }
        if r.retries != 0 || self.retries.is_some() {
            self.retries
                .get_or_insert_with(|| vec![0; k as usize])
                .push(r.retries);
        }
        self.places.push((r.offset, r.line));
        self.ids.push(id);
    }

    /// Where job `k`'s row is.
    pub fn get(&self, k: usize) -> RowRef {
        let (offset, line) = self.places[k];
        RowRef {
            offset,
            line,
            index: self.index.as_ref().map_or(k as u32, |v| v[k]),
            retries: self.retries.as_ref().map_or(0, |v| v[k]),
        }
    }

    /// How many jobs.
    pub fn len(&self) -> usize {
        self.places.len()
    }

    /// Room for `n` more jobs, with ids of about `bytes` bytes in all.
    pub fn reserve(&mut self, n: usize, bytes: usize) {
        self.places.reserve_exact(n);
        self.ids.reserve(n, bytes);
    }

    /// Gives back what was reserved and not used.
    pub fn shrink_to_fit(&mut self) {
        self.places.shrink_to_fit();
        self.ids.shrink_to_fit();
    }
}

/// Where jobs are built again from their rows: the manifest's re-reader implements it, so the
/// store needs nothing of the parser.
pub(crate) trait RowSource: std::fmt::Debug + Send + Sync {
    /// The job of the row at `row` (a row that was valid when first read).
    fn job(&self, row: RowRef) -> JobSpec;

    /// The items of a plain list's job (`--lines`, `--null`), to name it by them; `None` for
    /// a table's row.
    fn items(&self, row: RowRef) -> Option<Vec<String>>;

    /// The [`command_key`] of the job of the row at `row`, when it can be had without building
    /// the job (a plain list's: [`crate::manifest`]); `None` otherwise.
    fn command_key(&self, _row: RowRef) -> Option<u64> {
        None
    }

    /// The job of the row at `row` as far as the plan table shows it (id, command, timeout,
    /// retries, group, `after`); the rest may be left empty.
    fn table_job(&self, row: RowRef) -> JobSpec {
        self.job(row)
    }

    /// The command of the job of the row at `row` as [`crate::model::job::CommandLine::display`]
    /// shows it, when a short way makes it without building the job (borrowed from the
    /// manifest where it stands there as shown); `None` otherwise.
    fn shown_command(&self, _row: RowRef) -> Option<std::borrow::Cow<'_, str>> {
        None
    }

    /// Lets go of the memory of the rows read so far, when they can be read again from
    /// elsewhere (a mapped manifest: see [`crate::util::bytes::Bytes`]).
    fn release(&self) {}

    /// Gives `f` the cells of the row's line in the plan table, when a short way makes them
    /// (straight from the row's fields); `false`, without calling `f`, otherwise.
    fn table_cells(&self, _row: RowRef, _f: &mut dyn FnMut(&[&str; 6])) -> bool {
        false
    }
}

/// How the jobs' full specs are had.
#[derive(Debug)]
enum Specs {
    /// Re-read from the manifest.
    Reparse(Arc<dyn RowSource>),
    /// Kept whole.
    Kept(Vec<JobSpec>),
}

#[derive(Debug)]
struct Inner {
    rows: RowTable,
    specs: Specs,
}

/// Every job, in manifest order; cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct Jobs {
    inner: Arc<Inner>,
}

impl Jobs {
    /// Jobs read from a manifest, re-read from `source` when needed.
    pub(crate) fn from_rows(rows: RowTable, source: Arc<dyn RowSource>) -> Jobs {
        Jobs {
            inner: Arc::new(Inner {
                rows,
                specs: Specs::Reparse(source),
            }),
        }
    }

    /// Jobs kept whole, as given (their `index` and `line` fields are kept as they are).
    pub fn from_specs(specs: Vec<JobSpec>) -> Jobs {
        let mut rows = RowTable::default();
        for j in &specs {
            let r = RowRef {
                offset: 0,
                line: u32::try_from(j.line).unwrap_or(u32::MAX),
                index: u32::try_from(j.index).unwrap_or(u32::MAX),
                retries: j.retries,
            };
            rows.push(r, &j.id);
        }
        Jobs {
            inner: Arc::new(Inner {
                rows,
                specs: Specs::Kept(specs),
            }),
        }
    }

    /// How many jobs.
    pub fn len(&self) -> usize {
        self.inner.rows.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.inner.rows.len() == 0
    }

    /// Job `i`'s id.
    pub fn id(&self, i: usize) -> &str {
        self.inner.rows.ids.get(i)
    }

    /// Job `i`'s line in the manifest.
    pub fn line(&self, i: usize) -> u64 {
        self.inner.rows.get(i).line.into()
    }

    /// Job `i`'s position among the manifest's rows ([`JobSpec::index`]; not `i` in a shard).
    pub fn index(&self, i: usize) -> usize {
        self.inner.rows.get(i).index as usize
    }

    /// Job `i`'s retries.
    pub fn retries(&self, i: usize) -> u32 {
        self.inner.rows.get(i).retries
    }

    /// Every id, in order.
    pub fn ids(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.len()).map(|i| self.id(i))
    }

    /// Job `i` in full: re-read from the manifest (a few microseconds), or a copy of the kept
    /// spec.
    pub fn get(&self, i: usize) -> JobSpec {
        match &self.inner.specs {
            Specs::Kept(specs) => specs[i].clone(),
            Specs::Reparse(source) => source.job(self.inner.rows.get(i)),
        }
    }

    /// Job `i`'s [`command_key`], without building the job where its row source can (a stop
    /// settles a million jobs that never ran, and the joblog wants each one's key).
    pub fn command_key(&self, i: usize) -> u64 {
        match &self.inner.specs {
            Specs::Kept(specs) => command_key(&specs[i]),
            Specs::Reparse(source) => {
                let row = self.inner.rows.get(i);
                source
                    .command_key(row)
                    .unwrap_or_else(|| command_key(&source.job(row)))
            }
        }
    }

    /// Job `i`'s command as [`crate::model::job::CommandLine::display`] shows it (the JSON
    /// report's `command`, `--dry-run`'s lines), without building the job where
    /// [`Jobs::shown_command`] can.
    pub fn command(&self, i: usize) -> std::borrow::Cow<'_, str> {
        self.shown_command(i)
            .unwrap_or_else(|| self.get(i).command.display().into())
    }

    /// Job `i`'s command as [`Jobs::command`] gives it, when it is made without building the
    /// job; `None` otherwise.
    pub fn shown_command(&self, i: usize) -> Option<std::borrow::Cow<'_, str>> {
        match &self.inner.specs {
            Specs::Kept(specs) => Some(specs[i].command.display().into()),
            Specs::Reparse(source) => source.shown_command(self.inner.rows.get(i)),
        }
    }

    /// Lets go of the memory the rows built so far were read from, where they can be read again
    /// (a mapped manifest's pages): between the batches of a pass over every job.
    pub fn release(&self) {
        if let Specs::Reparse(source) = &self.inner.specs {
            source.release();
        }
    }

    /// Job `i` as far as the plan table shows it: its id, command, timeout, retries, group and
    /// `after`, and maybe not its `cwd`, `env` or `retry_on` (built in a shorter way where it
    /// can be, for `check` of big manifests).
    pub fn table_job(&self, i: usize) -> JobSpec {
        match &self.inner.specs {
            Specs::Kept(specs) => specs[i].clone(),
            Specs::Reparse(source) => source.table_job(self.inner.rows.get(i)),
        }
    }

    /// Gives `f` the cells of job `i`'s line in the plan table, when they can be made without
    /// building the job (`false`, without calling `f`, otherwise: see [`Jobs::table_job`]).
    pub fn table_cells(&self, i: usize, f: &mut dyn FnMut(&[&str; 6])) -> bool {
        match &self.inner.specs {
            Specs::Kept(_) => false,
            Specs::Reparse(source) => source.table_cells(self.inner.rows.get(i), f),
        }
    }

    /// Job `i`'s items, when it is a job of a plain list.
    pub fn items(&self, i: usize) -> Option<Vec<String>> {
        match &self.inner.specs {
            Specs::Kept(_) => None,
            Specs::Reparse(source) => source.items(self.inner.rows.get(i)),
        }
    }

    /// Every job in full, in order, each built as it is reached.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = JobSpec> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// The jobs with `keep[i]` set, in order.
    pub fn subset(&self, keep: &[bool]) -> Jobs {
        let kept = |i: &usize| keep[*i];
        let mut rows = RowTable::default();
        for i in (0..self.len()).filter(kept) {
            rows.push(self.inner.rows.get(i), self.id(i));
        }
        let specs = match &self.inner.specs {
            Specs::Reparse(s) => Specs::Reparse(Arc::clone(s)),
            Specs::Kept(specs) => Specs::Kept(
                (0..self.len())
                    .filter(kept)
                    .map(|i| specs[i].clone())
                    .collect(),
            ),
        };
        Jobs {
            inner: Arc::new(Inner { rows, specs }),
        }
    }
}

/// Jobs with these ids and commands, for tests.
#[cfg(test)]
pub(crate) fn for_tests(jobs: &[(&str, &str)]) -> Jobs {
    let mut text = String::from("id,command\n");
    for (id, command) in jobs {
        text.push_str(&format!("{id},{command}\n"));
    }
    crate::manifest::parse("m.csv", text.as_bytes(), false, &Default::default())
        .expect("a valid manifest")
        .jobs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_in_one_buffer() {
        let mut s = Strings::default();
        assert!(s.is_empty());
        for w in ["a", "", "ccc"] {
            s.push(w);
        }
        assert_eq!((s.len(), s.get(0), s.get(1), s.get(2)), (3, "a", "", "ccc"));
    }

    #[test]
    fn kept_specs_and_subsets() {
        let m = crate::manifest::parse(
            "m.csv",
            b"id,command,retries\na,true,1\nb,echo 'x y',\n",
            false,
            &Default::default(),
        )
        .unwrap();
        let parsed = &m.jobs;
        let kept = Jobs::from_specs(parsed.iter().collect());
        for jobs in [parsed, &kept] {
            assert_eq!(jobs.ids().collect::<Vec<_>>(), ["a", "b"]);
            assert_eq!((jobs.line(1), jobs.retries(0)), (3, 1));
            let b = jobs.subset(&[false, true]);
            assert_eq!((b.len(), b.id(0), b.get(0).index), (1, "b", 1));
            assert_eq!(b.get(0).command.display(), "echo 'x y'");
        }
    }
}
