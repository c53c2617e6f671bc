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

/// Runs `work` with a pool of one thread per core, whose threads are joined before this
/// returns; on the calling thread alone when there is one core, no thread can be started, or
/// `items` (the number of rows or lines to work on) is too small for threads to pay.
pub fn scope<R>(items: usize, work: impl FnOnce(Par<'_>) -> R) -> R {
    /// Below this many items, starting threads costs more than they save.
    const WORTH_THREADS: usize = 4096;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads < 2 || items < WORTH_THREADS {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_in_order_with_or_without_a_pool() {
        let items: Vec<u32> = (0..10_000).collect();
        for doubled in [
            scope(items.len(), |par| par.map(&items, |&x| x * 2)),
            Par::SERIAL.map(&items, |&x| x * 2),
        ] {
            assert!(doubled.iter().enumerate().all(|(i, &d)| d == 2 * i as u32));
        }
    }
}
