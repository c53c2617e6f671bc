/*!
The ids seen so far while a manifest is read, for duplicate detection in bounded memory: a
hash table of `u32` positions into the rows already read (whose ids are stored there once),
instead of a second copy of every id. Ids of rows that did not become jobs (they had other
problems) are kept here, with their line. Lookups compare the ids themselves, so a hash
collision can never report a false duplicate.
*/

use std::hash::BuildHasher;

use hashbrown::HashTable;

use crate::jobs::RowTable;

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

    /// The hash of `id` that the other methods take (so it is computed once per id, and on
    /// any thread).
    pub fn hash(&self, id: &str) -> u64 {
        self.hasher.hash_one(id)
    }

    /// The line `id` (whose hash is `h`) was first seen on, if it was.
    pub fn line_of(&self, id: &str, h: u64, jobs: &RowTable) -> Option<u64> {
        let others = &self.others;
        self.table
            .find(h, |&p| id_at(p, jobs, others) == id)
            .map(|&p| match p & OTHER {
                0 => jobs.get(p as usize).line.into(),
                _ => others[(p & !OTHER) as usize].1,
            })
    }

    /// Remembers the id of `jobs[k]` (hash `h`), the job just built.
    ///
    /// # Panics
    /// With 2^31 ids or more.
    pub fn insert_job(&mut self, k: usize, h: u64, jobs: &RowTable) {
        let p = u32::try_from(k)
            .ok()
            .filter(|&p| p < OTHER)
            .expect("fewer than 2^31 jobs");
        self.insert(p, h, jobs);
    }

    /// Remembers `id` (hash `h`), first seen on `line` in a row that is not a job.
    pub fn insert_other(&mut self, id: String, line: u64, h: u64, jobs: &RowTable) {
        let p = u32::try_from(self.others.len()).expect("fewer than 2^31 rows") | OTHER;
        self.others.push((id, line));
        self.insert(p, h, jobs);
    }

    fn insert(&mut self, p: u32, h: u64, jobs: &RowTable) {
        let (hasher, others) = (&self.hasher, &self.others);
        debug_assert_eq!(h, hasher.hash_one(id_at(p, jobs, others)));
        self.table
            .insert_unique(h, p, |&q| hasher.hash_one(id_at(q, jobs, others)));
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
        for (k, id) in ["a", "b"].into_iter().enumerate() {
            let r = crate::jobs::RowRef {
                offset: 0,
                line: k as u32 + 2,
                index: k as u32,
                retries: 0,
            };
            table.push(r, id);
        }
        let jobs = &table;
        let mut seen = SeenIds::default();
        seen.reserve(4, jobs);
        let line_of = |seen: &SeenIds, id: &str| seen.line_of(id, seen.hash(id), jobs);
        assert_eq!(line_of(&seen, "a"), None);
        seen.insert_job(0, seen.hash("a"), jobs);
        seen.insert_other("x".into(), 7, seen.hash("x"), jobs);
        seen.insert_job(1, seen.hash("b"), jobs);
        assert_eq!(line_of(&seen, "a"), Some(2));
        assert_eq!(line_of(&seen, "b"), Some(3));
        assert_eq!(line_of(&seen, "x"), Some(7));
        assert_eq!(line_of(&seen, "c"), None);
        // Growing rehashes by the stored ids.
        for i in 0..1000 {
            let id = format!("o{i}");
            seen.insert_other(id.clone(), 100 + i, seen.hash(&id), jobs);
        }
        assert_eq!(line_of(&seen, "o999"), Some(1099));
        assert_eq!(line_of(&seen, "a"), Some(2));
    }
}
