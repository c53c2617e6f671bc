//! Finding a report's jobs in the plan (issue 19). A shard's report lists its jobs in manifest
//! order, so each shard's jobs are kept in that order and a report is walked alongside them:
//! its next job is almost always the shard's next one, found by comparing one id. An id out of
//! that order (a report edited by hand, a job listed twice, one of another manifest) is looked
//! up in a table of every id, built the first time one is needed; a report that merely skips
//! jobs costs one lookup per skip.

use std::hash::BuildHasher;

use hashbrown::HashTable;

use crate::plan::Plan;

/// The jobs of every shard, and where a report's walk through its shard is.
pub(crate) struct JobIndex<'p> {
    plan: &'p Plan,
    /// Every shard's jobs in manifest order, one shard after another: shard `s`'s are
    /// `order[start[s]..start[s + 1]]`.
    order: Vec<u32>,
    start: Vec<u32>,
    /// Job indexes by id, 4 bytes and a control byte a slot: built when first needed.
    by_id: Option<HashTable<u32>>,
    hasher: hashbrown::DefaultHashBuilder,
}

/// Where a report's walk through its shard's jobs is: a place in [`JobIndex`]'s `order`.
pub(crate) struct Walk {
    shard: u32,
    next: usize,
}

impl<'p> JobIndex<'p> {
    /// The index of `plan`'s jobs, `shards[i]` being job `i`'s shard, of `1..=count`.
    pub(crate) fn new(plan: &'p Plan, shards: &[u32], count: u32) -> JobIndex<'p> {
        let mut start = vec![0u32; count as usize + 2];
        for &s in shards {
            start[s as usize + 1] += 1;
        }
        for s in 1..start.len() {
            start[s] += start[s - 1];
        }
        let mut fill = start.clone();
        let mut order = vec![0u32; shards.len()];
        for (i, &s) in shards.iter().enumerate() {
            order[fill[s as usize] as usize] = i as u32;
            fill[s as usize] += 1;
        }
        JobIndex {
            plan,
            order,
            start,
            by_id: None,
            hasher: hashbrown::DefaultHashBuilder::default(),
        }
    }

    /// A walk through shard `shard`'s jobs from its first.
    pub(crate) fn walk(&self, shard: u32) -> Walk {
        Walk {
            shard,
            next: self.start[shard as usize] as usize,
        }
    }

    /// The index of the job called `id`, next in `walk` or anywhere in the plan; the walk goes
    /// on after it when it is of the walk's shard.
    pub(crate) fn find(&mut self, walk: &mut Walk, id: &str) -> Option<usize> {
        let jobs = &self.plan.jobs;
        let range =
            self.start[walk.shard as usize] as usize..self.start[walk.shard as usize + 1] as usize;
        if walk.next < range.end {
            let i = self.order[walk.next] as usize;
            if jobs.id(i) == id {
                walk.next += 1;
                return Some(i);
            }
        }
        let i = self.lookup(id)?;
        if let Ok(k) = self.order[range.clone()].binary_search(&(i as u32)) {
            walk.next = range.start + k + 1;
        }
        Some(i)
    }

    /// The index of the job called `id`, from the table of every id.
    fn lookup(&mut self, id: &str) -> Option<usize> {
        let jobs = &self.plan.jobs;
        let hasher = &self.hasher;
        let by_id = self.by_id.get_or_insert_with(|| {
            let mut t = HashTable::with_capacity(jobs.len());
            for (i, id) in jobs.ids().enumerate() {
                let ids = |&j: &u32| hasher.hash_one(jobs.id(j as usize));
                t.insert_unique(hasher.hash_one(id), i as u32, ids);
            }
            t
        });
        let found = by_id.find(hasher.hash_one(id), |&j| jobs.id(j as usize) == id);
        found.map(|&j| j as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_jobs_in_order_out_of_order_and_twice() {
        let m = crate::manifest::parse(
            "m.csv",
            b"id,command\na,true\nb,true\nc,true\nd,true\ne,true\n",
            false,
            &Default::default(),
        )
        .unwrap();
        let plan = Plan::new(m, &[]).unwrap();
        // Shard 1: a, c, e; shard 2: b, d.
        let shards = [1, 2, 1, 2, 1];
        let mut index = JobIndex::new(&plan, &shards, 2);
        let mut walk = index.walk(1);
        let mut found = |walk: &mut Walk, id| index.find(walk, id);
        assert_eq!(found(&mut walk, "a"), Some(0));
        // Skipping c, then c after e, then e again, then an unknown id and another shard's.
        assert_eq!(found(&mut walk, "e"), Some(4));
        assert_eq!(found(&mut walk, "c"), Some(2));
        assert_eq!(found(&mut walk, "e"), Some(4));
        assert_eq!(found(&mut walk, "e"), Some(4));
        assert_eq!(found(&mut walk, "zz"), None);
        assert_eq!(found(&mut walk, "b"), Some(1));
        let mut walk = index.walk(2);
        assert_eq!(index.find(&mut walk, "b"), Some(1));
        assert_eq!(index.find(&mut walk, "d"), Some(3));
        assert_eq!(index.find(&mut walk, "d"), Some(3));
    }
}
