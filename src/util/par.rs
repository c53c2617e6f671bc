/*!
Data-parallel work on every core (rayon), for reading and printing big manifests: rows are
checked, and table lines made, a batch at a time, on one thread per core.

The pool lives only as long as the work: [`scope`] starts it and joins its threads before it
returns, so no idle thread is left to count against a process limit (`ulimit -u` counts
threads) once jobs start. Where no thread can be started, the work runs on the calling thread
alone, the same way, only slower.
*/

use rayon::prelude::*;

/// Where data-parallel work runs: a pool, or the calling thread alone.
#[derive(Clone, Copy)]
pub struct Par<'p>(Option<&'p rayon::ThreadPool>);

impl Par<'_> {
    /// The calling thread alone.
    pub const SERIAL: Par<'static> = Par(None);

    /// `f` of every item, in order.
    pub fn map<'t, T: Sync, R: Send>(
        &self,
        items: &'t [T],
        f: impl Fn(&'t T) -> R + Sync + Send,
    ) -> Vec<R> {
        match self.0 {
            Some(pool) => pool.install(|| items.par_iter().map(f).collect()),
            None => items.iter().map(f).collect(),
        }
    }
}

impl Par<'_> {
    /// `f` of every item, in order, made on the pool while `beside()` runs on the calling
    /// thread (which need not be `Send`: a writer of what the previous call made); one after
    /// the other without a pool.
    pub fn map_beside<'t, T: Sync, R: Send, B>(
        &self,
        items: &'t [T],
        f: impl Fn(&'t T) -> R + Sync + Send,
        beside: impl FnOnce() -> B,
    ) -> (Vec<R>, B) {
        match self.0 {
            Some(pool) => {
                let mut made = Vec::new();
                let b = pool.in_place_scope(|s| {
                    s.spawn(|_| made = items.par_iter().map(f).collect());
                    beside()
                });
                (made, b)
            }
            None => {
                let b = beside();
                (items.iter().map(f).collect(), b)
            }
        }
    }
}

impl Par<'_> {
    /// `a()` and `b()`, at the same time when there is a pool.
    pub fn join<A: Send, B: Send>(
        &self,
        a: impl FnOnce() -> A + Send,
        b: impl FnOnce() -> B + Send,
    ) -> (A, B) {
        match self.0 {
            Some(pool) => pool.install(|| rayon::join(a, b)),
            None => (a(), b()),
        }
    }
}

impl Par<'_> {
    /// `a()` on the pool while `b()` runs on the calling thread (one after the other when
    /// there is no pool); returns what `a()` gave.
    pub fn beside<A: Send>(&self, a: impl FnOnce() -> A + Send, b: impl FnOnce()) -> A {
        match self.0 {
            Some(pool) => {
                let mut out = None;
                let slot = &mut out;
                pool.in_place_scope(|s| {
                    s.spawn(move |_| *slot = Some(a()));
                    b();
                });
                out.expect("the scope waits for what it spawned")
            }
            None => {
                b();
                a()
            }
        }
    }
}

/// Runs `work` with a pool of one thread per core, whose threads are joined before this
/// returns; on the calling thread alone when there is one core, no thread can be started, or
/// `items` (the number of rows or lines to work on) is too small for threads to pay.
pub fn scope<R>(items: usize, work: impl FnOnce(Par<'_>) -> R) -> R {
    /// Below this many items, starting threads costs more than they save.
    const WORTH_THREADS: usize = 4096;
    // Asking for the CPU count reads cgroup files: not for work too small for threads (the
    // dispatcher comes here once a finished job, usually with nothing to do).
    if items < WORTH_THREADS {
        return work(Par::SERIAL);
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads < 2 {
        return work(Par::SERIAL);
    }
    let mut work = Some(work);
    let built = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|k| format!("batchrun-par-{k}"))
        .build_scoped(
            |thread| thread.run(),
            |pool| (work.take().expect("run once"))(Par(Some(pool))),
        );
    match built {
        Ok(r) => r,
        Err(e) => {
            log::debug!("working on one thread: cannot start a thread pool: {e}");
            (work.take().expect("not run yet"))(Par::SERIAL)
        }
    }
}

/// `f` of every item, made a batch at a time on every core and handed to `use_batch` in
/// order on the calling thread, which works on one batch while the next is made (a stop
/// records a million jobs in the dispatcher while the next of them are built again from their
/// rows). A batch used is dropped on the making side: freeing its allocations is work too. At
/// most three batches are alive at once. Where no thread can be started, all of it runs on
/// the calling thread.
pub fn pipelined<'t, T: Sync, R: Send>(
    items: &'t [T],
    batch: usize,
    f: impl Fn(&'t T) -> R + Sync + Send,
    mut use_batch: impl FnMut(&'t [T], &[R]),
) {
    if items.len() <= batch {
        let made = scope(items.len(), |par| par.map(items, &f));
        return use_batch(items, &made);
    }
    let f = &f;
    std::thread::scope(|s| {
        let (made_tx, made_rx) = crossbeam_channel::bounded::<Vec<R>>(1);
        let (used_tx, used_rx) = crossbeam_channel::unbounded::<Vec<R>>();
        let maker = std::thread::Builder::new()
            .name("batchrun-batches".into())
            .spawn_scoped(s, move || {
                scope(items.len(), |par| {
                    for chunk in items.chunks(batch) {
                        let made = par.map(chunk, f);
                        used_rx.try_iter().for_each(drop);
                        if made_tx.send(made).is_err() {
                            return;
                        }
                    }
                });
                drop(made_tx);
                used_rx.iter().for_each(drop);
            });
        if let Err(e) = maker {
            log::debug!("working on one thread: cannot start a thread: {e}");
            for chunk in items.chunks(batch) {
                use_batch(chunk, &Par::SERIAL.map(chunk, f));
            }
            return;
        }
        for chunk in items.chunks(batch) {
            // The maker only stops early by panicking, which the scope passes on.
            let Ok(made) = made_rx.recv() else { break };
            use_batch(chunk, &made);
            let _ = used_tx.send(made);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_in_order_with_or_without_a_pool() {
        let items: Vec<u32> = (0..10_000).collect();
        let beside = |par: Par<'_>| {
            let (made, b) = par.map_beside(&items, |&x| x * 2, || 7);
            assert_eq!(b, 7);
            made
        };
        for doubled in [
            scope(items.len(), |par| par.map(&items, |&x| x * 2)),
            Par::SERIAL.map(&items, |&x| x * 2),
            scope(items.len(), beside),
            beside(Par::SERIAL),
        ] {
            assert!(doubled.iter().enumerate().all(|(i, &d)| d == 2 * i as u32));
        }
    }

    #[test]
    fn beside_runs_both_with_or_without_a_pool() {
        for items in [10, 10_000] {
            let mut here = 0;
            let there = scope(items, |par| {
                par.beside(|| (0..items).sum::<usize>(), || here = 7)
            });
            assert_eq!((there, here), ((0..items).sum(), 7));
        }
    }

    #[test]
    fn pipelined_batches_come_in_order_whatever_their_size() {
        let items: Vec<u32> = (0..20_000).collect();
        for batch in [1_000, 8_192, 20_000, 50_000] {
            let mut seen = Vec::new();
            pipelined(
                &items,
                batch,
                |&x| x * 2,
                |chunk, made| {
                    assert_eq!(chunk.len(), made.len());
                    assert!(chunk.len() <= batch);
                    seen.extend(chunk.iter().zip(made).map(|(&x, &d)| (x, d)));
                },
            );
            assert_eq!(seen.len(), items.len());
            assert!(seen
                .iter()
                .enumerate()
                .all(|(i, &(x, d))| x == i as u32 && d == 2 * x));
        }
    }

    /// The read system calls this thread has made (Linux's task I/O accounting).
    fn reads_so_far() -> u64 {
        let io = std::fs::read_to_string("/proc/thread-self/io").expect("/proc/thread-self/io");
        let line = io.lines().find_map(|l| l.strip_prefix("syscr: "));
        line.expect("a syscr line").trim().parse().expect("a count")
    }

    #[test]
    fn work_too_small_for_threads_asks_the_system_nothing() {
        // The dispatcher records the dependents each finished job settles through
        // `pipelined`, usually none: that once asked for the CPU count (reading cgroup files)
        // once a job, a cost W1's 10,000 `/bin/true` jobs paid on the dispatcher's thread.
        let before = reads_so_far();
        for _ in 0..100 {
            pipelined(
                &[] as &[u32],
                8192,
                |&x| x,
                |_, made| assert!(made.is_empty()),
            );
            assert_eq!(scope(10, |par| par.map(&[1, 2], |&x: &u32| x + 1)), [2, 3]);
        }
        let reads = reads_so_far() - before;
        // Reading the counter itself takes a read or two.
        assert!(
            reads <= 4,
            "{reads} read system calls for 200 tiny pieces of work"
        );
    }
}
