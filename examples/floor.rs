/*!
The floor of `scripts/bench.sh`: the least a batch runner can cost. Starts a program `N` times
from `T` threads with `std::process::Command` and nothing else (stdin, stdout and stderr from
and to `/dev/null`), each thread spawning and waiting for one child at a time.

```text
cargo run --release --example floor -- N T [--pgroup] [--fork] [-- PROGRAM ARGS...]
```

* `PROGRAM ARGS...` defaults to `/bin/true`.
* `--pgroup` puts every child in its own process group (`process_group(0)`), as batchrun does;
  std keeps its `posix_spawn` fast path.
* `--fork` adds an empty `pre_exec` hook, which makes std fall back to `fork` + `exec`: the trap
  batchrun must not fall into, measured for comparison.

Exits non-zero if any child could not be started or did not exit 0.
*/

use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

fn usage() -> ExitCode {
    eprintln!("usage: floor N T [--pgroup] [--fork] [-- PROGRAM ARGS...]");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut numbers = Vec::new();
    let (mut pgroup, mut fork) = (false, false);
    let mut program = vec!["/bin/true".to_string()];
    while let Some(a) = args.next() {
        match a.as_str() {
            "--pgroup" => pgroup = true,
            "--fork" => fork = true,
            "--" => {
                program = args.by_ref().collect();
                if program.is_empty() {
                    return usage();
                }
            }
            _ => match a.parse::<usize>() {
                Ok(n) => numbers.push(n),
                Err(_) => return usage(),
            },
        }
    }
    let [n, threads] = numbers[..] else {
        return usage();
    };
    let next = AtomicUsize::new(0);
    let failures = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| {
                while next.fetch_add(1, Ordering::Relaxed) < n {
                    let mut cmd = Command::new(&program[0]);
                    cmd.args(&program[1..])
                        .stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .stderr(Stdio::null());
                    if pgroup {
                        cmd.process_group(0);
                    }
                    if fork {
                        // SAFETY: the hook does nothing; it only exists to defeat posix_spawn.
                        unsafe {
                            cmd.pre_exec(|| Ok(()));
                        }
                    }
                    if !cmd.status().is_ok_and(|s| s.success()) {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let failed = failures.into_inner();
    if failed > 0 {
        eprintln!("floor: {failed} of {n} runs failed");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
