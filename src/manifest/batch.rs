//! Rows checked in batches, two in a pipeline: each row checked on its own on any core
//! ([`check_row`]), then added in manifest order to the [`Rows`] built so far, with what
//! depends on the rows before it (duplicate ids, groups, warnings given once).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use crate::manifest::layout::Layout;
use crate::manifest::limits::{check_id, NO_GROUP};
use crate::manifest::problems::{Problems, Row};
use crate::manifest::row::{build_job, quick_check, row_fields, row_id};
use crate::manifest::warn::{Warner, Warning};
use crate::model::problem::Problem;
use crate::store::jobs::{RowRef, RowTable, Strings};
use crate::util::par::Par;

/// Rows are checked a batch at a time: each row on any core ([`crate::util::par`]), then, in manifest order,
/// what depends on the rows before it (duplicate ids, warnings given once). The three steps
/// meet after every batch: 4096 rows (not 2048) halves those meetings, a few percent of a 1M
/// row `check`'s time, for 2–3 MiB more.
const BATCH: usize = 4096;

/// Rows read and waiting to be checked; their records are reused for the next batch.
#[derive(Default)]
pub(crate) struct Batch {
    pending: Vec<Pending>,
    used: usize,
}

/// A row read and not yet checked.
pub(crate) struct Pending {
    pub(crate) rec: csv::ByteRecord,
    index: usize,
    pub(crate) line: u64,
    pub(crate) offset: usize,
    /// The last record, whose quote never closes.
    pub(crate) unbalanced: bool,
}

/// What is kept of a job built from its row.
struct Built {
    retries: u32,
    group: Option<String>,
    /// Its cells' widths in the plan table.
    widths: [usize; 6],
}

/// A row's id, as checking the row found it: where it is in the row's record (the usual
/// case: nothing to copy or free), the row's number, or built by `--id`.
enum IdText {
    InField {
        field: usize,
        start: usize,
        end: usize,
    },
    RowNumber,
    Built(String),
}

impl IdText {
    /// What `row_id` gave, for the row `fields` of which were read from.
    fn of(id: Cow<'_, str>, l: &Layout, fields: &[&str]) -> IdText {
        match (id, l.cols.id) {
            (Cow::Borrowed(s), Some(field)) => {
                let start = s.as_ptr() as usize - fields[field].as_ptr() as usize;
                IdText::InField {
                    field,
                    start,
                    end: start + s.len(),
                }
            }
            (_, None) if l.id_template.is_none() => IdText::RowNumber,
            (id, _) => IdText::Built(id.into_owned()),
        }
    }

    /// The id of row `p`.
    fn text<'p>(&'p self, p: &'p Pending) -> Cow<'p, str> {
        match self {
            // A UTF-8 field, cut at its trimmed ends: valid UTF-8.
            IdText::InField { field, start, end } => {
                Cow::Borrowed(std::str::from_utf8(&p.rec[*field][*start..*end]).unwrap_or(""))
            }
            IdText::RowNumber => Cow::Owned((p.index + 1).to_string()),
            IdText::Built(s) => Cow::Borrowed(s),
        }
    }
}

/// What checking one row on its own found.
enum Checked {
    /// The row could not be split into its fields; `id` is its id column as it stands.
    Unusable {
        problems: Vec<Problem>,
        id: Option<String>,
    },
    /// The row's fields were read.
    Row {
        id: IdText,
        /// The id's hash for [`crate::manifest::ids::SeenIds`].
        hash: u64,
        problems: Vec<Problem>,
        /// What is kept of the job, when it could be built.
        job: Option<Built>,
        warnings: Vec<Warning>,
    },
}

impl Batch {
    /// A cleared row at the end of the batch.
    pub(crate) fn next(&mut self, (index, line, offset): (usize, u64, usize)) -> &mut Pending {
        if self.used == self.pending.len() {
            self.pending.push(Pending {
                rec: csv::ByteRecord::new(),
                index,
                line,
                offset,
                unbalanced: false,
            });
        }
        let p = &mut self.pending[self.used];
        p.rec.clear();
        (p.index, p.line, p.offset, p.unbalanced) = (index, line, offset, false);
        self.used += 1;
        p
    }

    /// Takes back the row [`Batch::next`] gave last.
    pub(crate) fn unread(&mut self) {
        self.used -= 1;
    }

    pub(crate) fn full(&self) -> bool {
        self.used == BATCH
    }

    /// Checks every row of the batch on its own.
    fn check(&self, par: Par<'_>, l: &Layout, name: &str, ids: &IdHasher) -> Vec<Checked> {
        par.map(&self.pending[..self.used], |p| check_row(l, p, name, ids))
    }

    /// Adds the rows of the batch, `checked` by [`Batch::check`], to `rows`, in order.
    fn merge(&self, checked: Vec<Checked>, l: &Layout, rows: &mut Rows, problems: &mut Problems) {
        for (p, c) in self.pending[..self.used].iter().zip(checked) {
            rows.add(l, p, c, problems);
        }
    }
}

/// How ids are hashed for [`crate::manifest::ids::SeenIds`].
type IdHasher = hashbrown::DefaultHashBuilder;

/// Three batches in a pipeline: while the rows of one are read (on the calling thread), the
/// rows of the one read before are checked (on every core) and those of the one checked before
/// it are added in order (on one core), and then they change places.
#[derive(Default)]
pub(crate) struct Batches {
    /// The batch just read, the batch checked (by `checked`) and not yet added, the batch to
    /// read next.
    three: [Batch; 3],
}

impl Batches {
    /// Reads every row with `read` (which fills a batch, cleared, with at most [`BATCH`] rows
    /// and says whether rows are left after them), checks them and adds them to `rows`.
    pub(crate) fn run(
        &mut self,
        par: Par<'_>,
        l: &Layout,
        (rows, problems): (&mut Rows, &mut Problems),
        mut read: impl FnMut(&mut Batch) -> bool,
    ) {
        let name = problems.name;
        let ids = rows.seen_ids.hasher().clone();
        let mut more = read(&mut self.three[0]);
        let mut checked: Option<Vec<Checked>> = None;
        loop {
            let [filled, earlier, next] = &mut self.three;
            let to_merge = checked.take();
            let (filled, earlier) = (&*filled, &*earlier);
            let (rows, problems) = (&mut *rows, &mut *problems);
            let check = || {
                par.join(
                    || {
                        if let Some(c) = to_merge {
                            earlier.merge(c, l, rows, problems);
                        }
                    },
                    || filled.check(par, l, name, &ids),
                )
                .1
            };
            next.used = 0;
            checked = Some(par.beside(check, || {
                if more {
                    more = read(next);
                }
            }));
            self.three.rotate_right(1);
            if !more && self.three[0].used == 0 {
                break;
            }
        }
        if let Some(c) = checked {
            self.three[1].merge(c, l, rows, problems);
        }
    }
}

/// Checks one row on its own: its fields, and the job they make.
fn check_row(l: &Layout, p: &Pending, name: &str, ids: &IdHasher) -> Checked {
    let mut problems = Problems::new(name);
    if p.unbalanced {
        problems.push(
            Some(p.line),
            None,
            "unbalanced quote: a quoted field opened here never closes (expected a closing \")",
        );
        return Checked::Unusable {
            problems: problems.list,
            id: None,
        };
    }
    let fields = match row_fields(&p.rec, p.line, l, &mut problems) {
        Ok(f) => f,
        Err(id) => {
            return Checked::Unusable {
                problems: problems.list,
                id,
            }
        }
    };
    let id = row_id(l, p.index, &fields);
    if let Some((retries, widths)) = quick_check(l, p.index, &fields) {
        return Checked::Row {
            hash: crate::manifest::ids::hash(ids, &id),
            job: Some(Built {
                widths,
                retries,
                group: crate::manifest::row::group(l, &fields),
            }),
            id: IdText::of(id, l, &fields),
            problems: problems.list,
            warnings: Vec::new(),
        };
    }
    let mut warner = Warner::default();
    let mut row = Row {
        line: p.line,
        problems: &mut problems,
    };
    let job = build_job(
        l,
        (p.index, p.line),
        &id,
        &fields,
        &mut row,
        Some(&mut warner),
    );
    Checked::Row {
        hash: crate::manifest::ids::hash(ids, &id),
        id: IdText::of(id, l, &fields),
        problems: problems.list,
        job: job.map(|j| Built {
            widths: crate::model::job::plan_widths(&j),
            retries: j.retries,
            group: j.group,
        }),
        warnings: warner.given,
    }
}

/// The jobs built so far and what is needed to check the next row.
pub(crate) struct Rows {
    pub(crate) table: RowTable,
    /// Each job's `after` text, when there is an `after` column.
    pub(crate) after: Option<Strings>,
    /// Groups by first appearance, with their indices, and each job's, when there is a
    /// `group` column.
    pub(crate) groups: Vec<String>,
    group_index: HashMap<String, u32>,
    pub(crate) group_of: Option<Vec<u32>>,
    pub(crate) seen_ids: crate::manifest::ids::SeenIds,
    pub(crate) invalid_ids: HashSet<String>,
    pub(crate) ids_from_rows: bool,
    pub(crate) warner: Warner,
    /// The widest cells of the jobs' rows in the plan table.
    pub(crate) table_widths: [usize; 6],
}

impl Rows {
    pub(crate) fn new(layout: &Layout) -> Self {
        Rows {
            table: RowTable::default(),
            after: layout.cols.after.map(|_| Strings::default()),
            groups: Vec::new(),
            group_index: HashMap::new(),
            group_of: layout.cols.group.map(|_| Vec::new()),
            seen_ids: Default::default(),
            invalid_ids: HashSet::new(),
            ids_from_rows: layout.cols.id.is_none() && layout.id_template.is_none(),
            warner: Warner::default(),
            table_widths: [0; 6],
        }
    }

    /// Adds a row checked on its own ([`check_row`]): its id checked against the rows before
    /// it, then its problems, or its job.
    fn add(&mut self, l: &Layout, p: &Pending, checked: Checked, problems: &mut Problems<'_>) {
        let (id, hash, row_problems, job, warnings) = match checked {
            Checked::Unusable {
                problems: found,
                id,
            } => {
                problems.list.extend(found);
                self.invalid_ids.extend(id);
                return;
            }
            Checked::Row {
                id,
                hash,
                problems,
                job,
                warnings,
            } => (id, hash, problems, job, warnings),
        };
        let id = id.text(p);
        let (index, line, offset) = (p.index, p.line, p.offset);
        let before = problems.list.len();
        let mut row = Row { line, problems };
        // Whether the row becomes a job if its id is new: known before the id is looked up,
        // so one lookup both finds a duplicate and remembers a new id.
        let job = job.filter(|_| row_problems.is_empty());
        let next = job.as_ref().map(|_| self.table.len());
        self.check_id(l, &id, hash, next, &mut row);
        row.problems.list.extend(row_problems);
        for w in warnings {
            self.warner.take(w);
        }
        let Some(built) = job.filter(|_| row.problems.list.len() == before) else {
            if row.problems.list.len() != before {
                self.invalid_ids.insert(id.into_owned());
            }
            return;
        };
        let narrow = |v: u64| u32::try_from(v).expect("a manifest of at most 256 MiB");
        let r = RowRef {
            offset: narrow(offset as u64),
            line: narrow(line),
            index: narrow(index as u64),
            retries: built.retries,
        };
        self.table_widths = crate::model::job::widest(self.table_widths, built.widths);
        self.table.push(r, &id);
        if let Some((after, c)) = self.after.as_mut().zip(l.cols.after) {
            // Valid UTF-8: the row was read.
            after.push(std::str::from_utf8(&p.rec[c]).unwrap_or_default());
        }
        if let Some(group_of) = &mut self.group_of {
            let g = built.group.map_or(NO_GROUP, |g| {
                let next = self.groups.len() as u32;
                *self.group_index.entry(g).or_insert_with_key(|g| {
                    self.groups.push(g.clone());
                    next
                })
            });
            group_of.push(g);
        }
    }

    /// Checks the row's id (from the `id` column, built by `--id`, or the row number): a
    /// valid id not seen before is remembered (unless it is a row number), as the job `next`
    /// (the next to be built) or, when the row is no job, as another row's.
    fn check_id(&mut self, l: &Layout, id: &str, hash: u64, next: Option<usize>, row: &mut Row) {
        let built = if l.id_template.is_some() {
            "--id: "
        } else {
            ""
        };
        if let Err(msg) = check_id(id) {
            row.err("id", format!("{built}{msg}"));
        } else if self.ids_from_rows {
            // Row numbers are unique: nothing to remember.
        } else if let Some(first) =
            self.seen_ids
                .first_or_insert(id, hash, (next, row.line), &self.table)
        {
            row.err(
                "id",
                format!(
                    "{built}duplicate id '{id}' (expected a unique id; first used on line {first})"
                ),
            );
        }
    }
}
