/*!
Throughput of [`batchrun::WorkerPool::run_each`] without child processes: dispatches
no-op jobs to a fixed pool and prints how many jobs per second went through.

```text
cargo run --release --example pool_throughput -- [JOBS] [THREADS] [REPEATS]
```

Defaults: 1,000,000 jobs on 2 threads, best and median of 5 repeats. Exits non-zero if a
result went missing.
*/

use std::hint::black_box;
use std::time::Instant;

use batchrun::WorkerPool;

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    let mut next = |default| args.next().and_then(Result::ok).unwrap_or(default);
    let (jobs, threads, repeats) = (next(1_000_000), next(2), next(5));
    let pool = WorkerPool::new(threads);
    let mut rates = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        let mut done = 0usize;
        let t = Instant::now();
        pool.run_each(0..jobs, black_box, |_| done += 1)
            .expect("a no-op cannot panic");
        let secs = t.elapsed().as_secs_f64();
        if done != jobs {
            eprintln!("pool_throughput: {done} results for {jobs} jobs");
            return std::process::ExitCode::from(1);
        }
        rates.push(jobs as f64 / secs);
    }
    rates.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{jobs} no-op jobs on {threads} threads: median {:.0} jobs/s, best {:.0}, worst {:.0} ({repeats} repeats)",
        rates[rates.len() / 2],
        rates[rates.len() - 1],
        rates[0]
    );
    std::process::ExitCode::SUCCESS
}
