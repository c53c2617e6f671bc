/*!
The ids seen so far while a manifest is read, for duplicate detection in bounded memory: a
hash table of `u32` positions into the rows already read (whose ids are stored there once),
instead of a second copy of every id. Ids of rows that did not become jobs (they had other
problems) are kept here, with their line. Lookups compare the ids themselves, so a hash
collision can never report a false duplicate.
*/

use std::hash::BuildHasher;

use hashbrown::HashTable;

use crate::store::jobs::RowTable;

/// Marks a position in [`SeenIds::others`] rather than in the jobs.
const OTHER: u32 = 1 << 31;

/// Every id seen, by where it is stored.
#[derive(Debug, Default)]
pub struct SeenIds {
    table: HashTable<u32>,
    /// Ids of rows that are not jobs, with their lines.
    others: Vec<(String, u64)>,
    hasher: hashbrown::DefaultHashBuilder,
}

impl SeenIds {
    /// Room for `n` ids without growing.
    pub fn reserve(&mut self, n: usize, jobs: &RowTable) {
        let (hasher, others) = (&self.hasher, &self.others);
        self.table
            .reserve(n, |&p| hasher.hash_one(id_at(p, jobs, others)));
    }

    /// The hash of `id` that the other methods take.
    #[cfg(test)]
    pub fn hash(&self, id: &str) -> u64 {
        hash(&self.hasher, id)
    }

    /// The hasher, for [`hash`] (on any thread: each id is hashed once, where it is read).
    pub fn hasher(&self) -> &hashbrown::DefaultHashBuilder {
        &self.hasher
    }

    /// The line `id` (hash `h`) was first seen on, if it was; otherwise `None`, and `id` is
    /// remembered: as the id of job `k` when `at` is `(Some(k), _)` (the job about to be
    /// built, `jobs.len()`), or as that of a row on `line` that is not a job for
    /// `(None, line)`. One lookup in the table.
    ///
    /// # Panics
    /// With 2^31 ids or more.
    pub fn first_or_insert(
        &mut self,
        id: &str,
        h: u64,
        at: (Option<usize>, u64),
        jobs: &RowTable,
    ) -> Option<u64> {
        let (hasher, others) = (&self.hasher, &self.others);
        let entry = self.table.entry(
            h,
            |&p| id_at(p, jobs, others) == id,
            |&p| hasher.hash_one(id_at(p, jobs, others)),
        );
        let vacant = match entry {
            hashbrown::hash_table::Entry::Occupied(o) => {
                return Some(line_at(*o.get(), jobs, others));
            }
            hashbrown::hash_table::Entry::Vacant(v) => v,
        };
        let p = match at {
            (Some(k), _) => {
                debug_assert_eq!(k, jobs.len());
                u32::try_from(k)
                    .ok()
                    .filter(|&p| p < OTHER)
                    .expect("fewer than 2^31 jobs")
            }
            (None, line) => {
                let p = u32::try_from(self.others.len()).expect("fewer than 2^31 rows") | OTHER;
                self.others.push((id.to_string(), line));
                p
            }
        };
        vacant.insert(p);
        None
    }
}

/// The hash of `id` with `hasher` (see [`SeenIds::hasher`]).
pub fn hash(hasher: &hashbrown::DefaultHashBuilder, id: &str) -> u64 {
    hasher.hash_one(id)
}

/// The line of the id stored at position `p`.
fn line_at(p: u32, jobs: &RowTable, others: &[(String, u64)]) -> u64 {
    match p & OTHER {
        0 => jobs.get(p as usize).line.into(),
        _ => others[(p & !OTHER) as usize].1,
    }
}

/// The id stored at position `p`.
fn id_at<'a>(p: u32, jobs: &'a RowTable, others: &'a [(String, u64)]) -> &'a str {
    match p & OTHER {
        0 => jobs.ids.get(p as usize),
        _ => &others[(p & !OTHER) as usize].0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_jobs_and_other_rows_by_id() {
        let mut table = RowTable::default();
        let mut seen = SeenIds::default();
        seen.reserve(4, &table);
        let once = |seen: &mut SeenIds, table: &mut RowTable, id: &str, job: bool, line| {
            let h = seen.hash(id);
            let next = job.then_some(table.len());
            let first = seen.first_or_insert(id, h, (next, line), table);
            if job && first.is_none() {
                let r = crate::store::jobs::RowRef {
                    offset: 0,
                    line: line as u32,
                    index: table.len() as u32,
                    retries: 0,
                };
                table.push(r, id);
            }
            first
        };
        // Job 0's id, another row's, and job 1's: each new, then found with its line.
        assert_eq!(once(&mut seen, &mut table, "a", true, 2), None);
        assert_eq!(once(&mut seen, &mut table, "x", false, 7), None);
        assert_eq!(once(&mut seen, &mut table, "b", true, 3), None);
        assert_eq!(once(&mut seen, &mut table, "a", true, 9), Some(2));
        assert_eq!(once(&mut seen, &mut table, "b", false, 9), Some(3));
        assert_eq!(once(&mut seen, &mut table, "x", true, 9), Some(7));
        // Growing rehashes by the stored ids.
        for i in 0..1000 {
            let id = format!("o{i}");
            assert_eq!(once(&mut seen, &mut table, &id, i % 2 == 0, 100 + i), None);
        }
        assert_eq!(once(&mut seen, &mut table, "o999", false, 1), Some(1099));
        assert_eq!(once(&mut seen, &mut table, "o998", false, 1), Some(1098));
        assert_eq!(once(&mut seen, &mut table, "a", false, 1), Some(2));
        assert_eq!(table.len(), 502);
    }
}
