/*!
The measuring side of `scripts/bench.sh`: an interleaved repeated-run harness that measures a
runner itself (not its children), plus the generators and drivers the workloads need.

```text
harness time [OPTIONS] NAME[:MAXRUNS] COMMAND [NAME[:MAXRUNS] COMMAND ...]
    Runs every COMMAND (through `/bin/sh -c "exec COMMAND"`, stdout to /dev/null) --runs times,
    interleaved: round r runs each command once, starting with a different one each round, so
    that a change in the machine's load hits every command alike. MAXRUNS caps the rounds a slow
    command takes part in. Prints one Markdown table row per command.
    --runs N            rounds (default 10)
    --warmup N          untimed rounds first (default 1)
    --workload TEXT     the first column of the rows
    --baseline NAME     the command the "vs floor" column divides by (default: none)
    --ideal SECS        also show the distance of the median from this ideal time
    --sample-ms MS      sample the runner's VmHWM every MS milliseconds (default: off)
    --expect CODE       the exit code every run must end with (default 0)
    --check SPEC        a target, appended to --targets: ratio:NAME<=X (median wall / the
                        baseline's), faster:NAME<OTHER (median wall), cpu:NAME<=SECS,
                        rss:NAME<=MIB, wall:NAME<=SECS, ideal:NAME<=PERCENT
    --targets FILE      where target rows are appended (Markdown)
    --tsv FILE          where raw figures are appended

harness sigint  [--runs N] [--targets FILE] BATCHRUN   W7: second SIGINT to exit, 8 jobs
harness timeout [--runs N] [--targets FILE] BATCHRUN   W7: a 200 ms timeout on `sleep 10`
harness manifest KIND N FILE [TEXT]                    write a manifest or an input list
    KIND: direct (header `command`, N rows TEXT), shell (`command,shell`, N rows `TEXT,true`),
    lines (N lines TEXT, for xargs and friends), deps (W6: one long chain and wide fans),
    ids (W8: `id,command,timeout`, N rows `jobK,TEXT,10s`).
```

What is measured for each run, and how:

* **wall**: from just before the spawn to the moment the runner's pidfd becomes readable.
* **runner CPU**: user + system time of the runner process alone (all its threads, not its
  children), read from its process CPU clock (`clock_getcpuclockid`) while it is a zombie:
  the harness waits with `waitid(WNOWAIT)` before reaping, so the clock is still there and
  has nanosecond resolution. `/usr/bin/time` would add the children's time.
* **peak RSS**: `ru_maxrss` from `wait4`, which is the maximum over the runner *and* the
  children it waited for; with `--sample-ms`, also the runner's own `VmHWM` sampled from
  `/proc/PID/status` (a lower bound, exact unless it grew in the last sampling interval). The
  larger of the two is reported; the script says how big the children are.
*/

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{self, IsTerminal, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// Shows what is running on one line of a terminal; prints nothing into a log file.
fn progress(text: std::fmt::Arguments<'_>) {
    let mut err = io::stderr();
    if err.is_terminal() {
        let _ = write!(err, "\r\x1b[K{text}");
    }
}

/// One run of one command.
#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    /// Seconds from spawn to exit.
    wall: f64,
    /// Seconds of CPU used by the runner itself.
    cpu: f64,
    /// KiB: the larger of `ru_maxrss` (runner and waited children) and the sampled VmHWM.
    rss: u64,
    /// Exit code, or 128 + signal.
    code: i32,
}

fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    // SAFETY: plain system call; on success we own the returned descriptor.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Waits until `fd` is readable or `timeout_ms` passes (-1: no limit). True if readable.
fn readable(fd: &OwnedFd, timeout_ms: i32) -> io::Result<bool> {
    loop {
        let mut p = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one live pollfd.
        let r = unsafe { libc::poll(&mut p, 1, timeout_ms) };
        if r >= 0 {
            return Ok(r > 0);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// VmHWM of a live process in KiB (0 if unavailable).
fn vm_hwm(pid: libc::pid_t) -> u64 {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return 0;
    };
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Seconds of CPU used by process `pid` (all threads, no children). Works on a zombie.
fn process_cpu(pid: libc::pid_t) -> f64 {
    let mut clock: libc::clockid_t = 0;
    // SAFETY: writes a clockid into a live variable.
    if unsafe { libc::clock_getcpuclockid(pid, &mut clock) } != 0 {
        return f64::NAN;
    }
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes into a live timespec.
    if unsafe { libc::clock_gettime(clock, &mut ts) } != 0 {
        return f64::NAN;
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Waits (without reaping) until `pid` is a zombie.
fn wait_zombie(pid: libc::pid_t) -> io::Result<()> {
    loop {
        // SAFETY: siginfo_t is plain data.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: info is live.
        let r = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if r == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Reaps `pid`: (exit code or 128 + signal, ru_maxrss in KiB).
fn reap(pid: libc::pid_t) -> io::Result<(i32, u64)> {
    let mut status = 0;
    // SAFETY: rusage is plain data.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: live out-parameters.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    };
    Ok((code, ru.ru_maxrss as u64))
}

/// Runs `command` once through `/bin/sh -c "exec …"` and measures the process it becomes.
/// Its stderr goes to `log`.
fn measure(command: &str, sample_ms: Option<u64>, log: &Path) -> io::Result<Sample> {
    let err = File::create(log)?;
    let t0 = Instant::now();
    let child = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("exec {command}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()?;
    let pid = child.id() as libc::pid_t;
    // std's Child neither waits nor kills on drop; we reap it ourselves below.
    drop(child);
    let pidfd = pidfd_open(pid)?;
    let mut hwm = 0;
    let timeout = sample_ms.map_or(-1, |ms| ms as i32);
    while !readable(&pidfd, timeout)? {
        hwm = hwm.max(vm_hwm(pid));
    }
    let wall = t0.elapsed().as_secs_f64();
    wait_zombie(pid)?;
    let cpu = process_cpu(pid);
    let (code, maxrss) = reap(pid)?;
    Ok(Sample {
        wall,
        cpu,
        rss: maxrss.max(hwm),
        code,
    })
}

/// Median, minimum and maximum.
fn stats(mut v: Vec<f64>) -> (f64, f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    let med = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    (med, v[0], v[n - 1])
}

/// A duration for the table: seconds above one second, milliseconds below.
fn dur(s: f64) -> String {
    if s.is_nan() {
        "–".into()
    } else if s >= 1.0 {
        format!("{s:.3} s")
    } else if s >= 0.01 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{:.2} ms", s * 1e3)
    }
}

fn dur_range(lo: f64, hi: f64) -> String {
    if lo >= 1.0 {
        format!("{lo:.3}–{hi:.3} s")
    } else if lo >= 0.01 {
        format!("{:.1}–{:.1} ms", lo * 1e3, hi * 1e3)
    } else {
        format!("{:.2}–{:.2} ms", lo * 1e3, hi * 1e3)
    }
}

fn mib(kib: f64) -> String {
    format!("{:.1} MiB", kib / 1024.0)
}

fn append(path: Option<&Path>, text: &str) -> io::Result<()> {
    if let Some(p) = path {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)?
            .write_all(text.as_bytes())?;
    }
    Ok(())
}

/// One command of `harness time`.
struct Entry {
    name: String,
    command: String,
    max_runs: usize,
    samples: Vec<Sample>,
    failures: usize,
}

/// Medians and ranges of one command's samples.
struct Summary {
    runs: usize,
    wall: (f64, f64, f64),
    cpu: (f64, f64, f64),
    rss: (f64, f64, f64),
}

impl Entry {
    fn summary(&self) -> Summary {
        let col = |f: fn(&Sample) -> f64| stats(self.samples.iter().map(f).collect());
        Summary {
            runs: self.samples.len(),
            wall: col(|s| s.wall),
            cpu: col(|s| s.cpu),
            rss: col(|s| s.rss as f64),
        }
    }
}

#[derive(Default)]
struct TimeOptions {
    runs: usize,
    warmup: usize,
    workload: String,
    baseline: Option<String>,
    ideal: Option<f64>,
    sample_ms: Option<u64>,
    expect: i32,
    checks: Vec<String>,
    targets: Option<PathBuf>,
    tsv: Option<PathBuf>,
}

fn cmd_time(args: &[String]) -> Result<bool, String> {
    let mut o = TimeOptions {
        runs: 10,
        warmup: 1,
        ..Default::default()
    };
    let mut entries = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{a} needs a value"))
        };
        let num = |v: String| v.parse::<f64>().map_err(|e| format!("{a} {v}: {e}"));
        match a.as_str() {
            "--runs" => o.runs = num(val()?)? as usize,
            "--warmup" => o.warmup = num(val()?)? as usize,
            "--workload" => o.workload = val()?,
            "--baseline" => o.baseline = Some(val()?),
            "--ideal" => o.ideal = Some(num(val()?)?),
            "--sample-ms" => o.sample_ms = Some(num(val()?)? as u64),
            "--expect" => o.expect = num(val()?)? as i32,
            "--check" => o.checks.push(val()?),
            "--targets" => o.targets = Some(val()?.into()),
            "--tsv" => o.tsv = Some(val()?.into()),
            _ if a.starts_with("--") => return Err(format!("unknown option {a}")),
            _ => {
                let command = it.next().ok_or_else(|| format!("{a}: no command"))?;
                let (name, max_runs) = match a.rsplit_once(':') {
                    Some((n, k)) if k.parse::<usize>().is_ok() => {
                        (n.to_string(), k.parse().unwrap())
                    }
                    _ => (a.clone(), usize::MAX),
                };
                entries.push(Entry {
                    name,
                    command: command.clone(),
                    max_runs,
                    samples: Vec::new(),
                    failures: 0,
                });
            }
        }
    }
    if entries.is_empty() {
        return Err("no commands".into());
    }
    let logdir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let n = entries.len();
    let total = o.warmup + o.runs;
    for round in 0..total {
        let timed = round >= o.warmup;
        for k in 0..n {
            let e = &mut entries[(round + k) % n];
            if timed && e.samples.len() >= e.max_runs {
                continue;
            }
            if !timed && e.max_runs < 3 {
                continue; // slow peers get no warm-up round
            }
            let log = logdir.path().join(format!("{}.err", (round + k) % n));
            progress(format_args!(
                "{}: {} ({}{}/{})",
                o.workload,
                e.name,
                if timed { "run " } else { "warm-up " },
                round + 1,
                total
            ));
            let s = measure(&e.command, o.sample_ms, &log).map_err(|err| err.to_string())?;
            if s.code != o.expect {
                e.failures += 1;
                let mut text = String::new();
                let _ = File::open(&log).and_then(|mut f| f.read_to_string(&mut text));
                let tail: Vec<&str> = text.lines().rev().take(5).collect();
                eprintln!(
                    "\nharness: {} exited {} (expected {}): {}\n{}",
                    e.name,
                    s.code,
                    o.expect,
                    e.command,
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
            } else if timed {
                e.samples.push(s);
            }
        }
    }
    progress(format_args!(""));

    let base = o
        .baseline
        .as_ref()
        .and_then(|b| entries.iter().find(|e| &e.name == b))
        .map(|e| e.summary().wall.0);
    let mut rows = String::new();
    let mut tsv = String::new();
    for e in &entries {
        let s = e.summary();
        let mut vs = match base {
            Some(b) if !s.wall.0.is_nan() => format!("{:.2}×", s.wall.0 / b),
            _ => "–".into(),
        };
        if let Some(ideal) = o.ideal {
            let _ = write!(vs, " (ideal {:+.1} %)", (s.wall.0 / ideal - 1.0) * 100.0);
        }
        let failed = if e.failures > 0 {
            format!(" **{} failed**", e.failures)
        } else {
            String::new()
        };
        let _ = writeln!(
            rows,
            "| {} | {}{} | {} | {} | {} | {} | {} | {} |",
            o.workload,
            e.name,
            failed,
            s.runs,
            dur(s.wall.0),
            if s.runs > 0 {
                dur_range(s.wall.1, s.wall.2)
            } else {
                "–".into()
            },
            vs,
            dur(s.cpu.0),
            if s.runs > 0 {
                mib(s.rss.0)
            } else {
                "–".into()
            },
        );
        let _ = writeln!(
            tsv,
            "{}\t{}\t{}\t{:.6}\t{:.6}\t{:.6}\t{:.6}\t{:.0}\t{}",
            o.workload, e.name, s.runs, s.wall.0, s.wall.1, s.wall.2, s.cpu.0, s.rss.0, e.failures
        );
    }
    print!("{rows}");
    io::stdout().flush().map_err(|e| e.to_string())?;
    append(o.tsv.as_deref(), &tsv).map_err(|e| e.to_string())?;

    let find = |name: &str| entries.iter().find(|e| e.name == name).map(|e| e.summary());
    let mut targets = String::new();
    for c in &o.checks {
        let (kind, rest) = c
            .split_once(':')
            .ok_or_else(|| format!("bad --check {c}"))?;
        let (lhs, op, rhs) = if let Some((l, r)) = rest.split_once("<=") {
            (l, "≤", r)
        } else if let Some((l, r)) = rest.split_once('<') {
            (l, "<", r)
        } else {
            return Err(format!("bad --check {c}"));
        };
        let Some(s) = find(lhs).filter(|s| s.runs > 0) else {
            let _ = writeln!(targets, "| {} | {c} | no data | – |", o.workload);
            continue;
        };
        let limit = rhs.parse::<f64>();
        let (what, value, ok) = match kind {
            "ratio" => {
                let r = base.map_or(f64::NAN, |b| s.wall.0 / b);
                (
                    format!(
                        "{lhs} {op} {rhs}× {}",
                        o.baseline.as_deref().unwrap_or("baseline")
                    ),
                    format!("{r:.3}×"),
                    limit.is_ok_and(|l| r <= l),
                )
            }
            "faster" => match find(rhs).filter(|t| t.runs > 0) {
                Some(t) => (
                    format!("{lhs} faster than {rhs}"),
                    format!("{} vs {}", dur(s.wall.0), dur(t.wall.0)),
                    s.wall.0 < t.wall.0,
                ),
                None => {
                    let _ = writeln!(
                        targets,
                        "| {} | {lhs} faster than {rhs} | {rhs} not installed | – |",
                        o.workload
                    );
                    continue;
                }
            },
            "cpu" => (
                format!(
                    "{lhs} runner CPU {op} {}",
                    dur(limit.clone().unwrap_or(0.0))
                ),
                dur(s.cpu.0),
                limit.is_ok_and(|l| s.cpu.0 <= l),
            ),
            "rss" => (
                format!("{lhs} peak RSS {op} {rhs} MiB"),
                mib(s.rss.0),
                limit.is_ok_and(|l| s.rss.0 / 1024.0 <= l),
            ),
            "wall" => (
                format!("{lhs} {op} {}", dur(limit.clone().unwrap_or(0.0))),
                dur(s.wall.0),
                limit.is_ok_and(|l| s.wall.0 <= l),
            ),
            "ideal" => {
                let pct = o.ideal.map_or(f64::NAN, |i| (s.wall.0 / i - 1.0) * 100.0);
                (
                    format!("{lhs} within {rhs} % of ideal"),
                    format!("{pct:+.1} %"),
                    limit.is_ok_and(|l| pct <= l),
                )
            }
            _ => return Err(format!("bad --check {c}")),
        };
        let _ = writeln!(
            targets,
            "| {} | {what} | {value} | {} |",
            o.workload,
            if ok { "met" } else { "**not met**" }
        );
    }
    append(o.targets.as_deref(), &targets).map_err(|e| e.to_string())?;
    Ok(entries.iter().all(|e| e.failures == 0))
}

/// Parses `[--runs N] [--targets FILE] BATCHRUN`.
fn driver_args(args: &[String]) -> Result<(usize, Option<PathBuf>, String), String> {
    let (mut runs, mut targets, mut bin) = (5, None, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--runs" => {
                runs = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--runs needs a number")?
            }
            "--targets" => {
                targets = Some(PathBuf::from(it.next().ok_or("--targets needs a file")?))
            }
            _ => bin = Some(a.clone()),
        }
    }
    Ok((runs, targets, bin.ok_or("no batchrun binary given")?))
}

fn kill(pid: libc::pid_t, sig: libc::c_int) {
    // SAFETY: plain system call.
    unsafe { libc::kill(pid, sig) };
}

/// Waits until `n` files exist in `dir`, at most `limit`.
fn wait_files(dir: &Path, n: usize, limit: Duration) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if std::fs::read_dir(dir).map_or(0, |d| d.count()) >= n {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    false
}

/// W7: latency from the second SIGINT to batchrun's exit with 8 jobs that exit on SIGTERM,
/// next to the time 8 such processes take to exit when sent SIGTERM directly.
fn cmd_sigint(args: &[String]) -> Result<bool, String> {
    let (runs, targets, bin) = driver_args(args)?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let manifest = dir.path().join("w7.csv");
    let ready = dir.path().join("ready");
    let mut m = String::from("id,command,shell\n");
    for i in 1..=8 {
        let _ = writeln!(
            m,
            "j{i},\"touch '{}'/$BATCHRUN_JOB_ID; exec sleep 60\",true",
            ready.display()
        );
    }
    std::fs::write(&manifest, m).map_err(|e| e.to_string())?;
    let (mut latency, mut own) = (Vec::new(), Vec::new());
    let mut ok = true;
    for r in 0..runs {
        progress(format_args!("W7: second SIGINT (run {}/{runs})", r + 1));
        // The jobs alone: 8 `sleep 60`, each in its own group, SIGTERM, wait for all.
        let kids: Vec<_> = (0..8)
            .map(|_| {
                Command::new("sleep")
                    .arg("60")
                    .process_group(0)
                    .spawn()
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<_, _>>()?;
        std::thread::sleep(Duration::from_millis(50));
        let t = Instant::now();
        for k in &kids {
            kill(k.id() as libc::pid_t, libc::SIGTERM);
        }
        for mut k in kids {
            let _ = k.wait();
        }
        own.push(t.elapsed().as_secs_f64());

        // batchrun with the same 8 jobs.
        let _ = std::fs::remove_dir_all(&ready);
        std::fs::create_dir_all(&ready).map_err(|e| e.to_string())?;
        let child = Command::new(&bin)
            .args(["run", "-j8", "--no-progress", "--output", "none"])
            .arg(&manifest)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?;
        let pid = child.id() as libc::pid_t;
        drop(child);
        let pidfd = pidfd_open(pid).map_err(|e| e.to_string())?;
        if !wait_files(&ready, 8, Duration::from_secs(20)) {
            kill(pid, libc::SIGKILL);
            let _ = reap(pid);
            return Err("W7: the 8 jobs did not all start".into());
        }
        std::thread::sleep(Duration::from_millis(50));
        kill(pid, libc::SIGINT);
        let early = readable(&pidfd, 100).map_err(|e| e.to_string())?;
        let t = Instant::now();
        kill(pid, libc::SIGINT);
        readable(&pidfd, -1).map_err(|e| e.to_string())?;
        let l = t.elapsed().as_secs_f64();
        let (code, _) = reap(pid).map_err(|e| e.to_string())?;
        if early || code != 130 {
            eprintln!("\nharness: W7 run {}: exit code {code} (expected 130), exited after the first signal: {early}", r + 1);
            ok = false;
        } else {
            latency.push(l);
        }
    }
    progress(format_args!(""));
    let (om, olo, ohi) = stats(own);
    let (lm, llo, lhi) = stats(latency.clone());
    let n = latency.len();
    println!(
        "| W7 second SIGINT → exit, 8 jobs | jobs' own exit on SIGTERM (no runner) | {runs} | {} | {} | – | – | – |",
        dur(om),
        dur_range(olo, ohi)
    );
    println!(
        "| W7 second SIGINT → exit, 8 jobs | batchrun | {n} | {} | {} | {} beyond the jobs' own | – | – |",
        dur(lm),
        if n > 0 { dur_range(llo, lhi) } else { "–".into() },
        dur(lm - om)
    );
    let beyond = lm - om;
    append(
        targets.as_deref(),
        &format!(
            "| W7 | second SIGINT → exit ≤ 50 ms beyond the jobs' own exit | {} (max {}) | {} |\n",
            dur(beyond),
            dur(lhi - om),
            if n > 0 && beyond <= 0.050 {
                "met"
            } else {
                "**not met**"
            }
        ),
    )
    .map_err(|e| e.to_string())?;
    Ok(ok)
}

/// W7: how precisely a 200 ms timeout fires on `sleep 10`, per batchrun's JSON report, and the
/// wall time of the whole batchrun process.
fn cmd_timeout(args: &[String]) -> Result<bool, String> {
    let (runs, targets, bin) = driver_args(args)?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let manifest = dir.path().join("timeout.csv");
    let report = dir.path().join("r.json");
    std::fs::write(&manifest, "id,command,timeout\nt,sleep 10,200ms\n")
        .map_err(|e| e.to_string())?;
    let (mut job, mut wall) = (Vec::new(), Vec::new());
    let mut ok = true;
    for r in 0..runs {
        progress(format_args!("W7: timeout (run {}/{runs})", r + 1));
        let t = Instant::now();
        let status = Command::new(&bin)
            .args(["run", "--no-progress", "--output", "none", "--report"])
            .arg(&report)
            .arg(&manifest)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| e.to_string())?;
        let w = t.elapsed().as_secs_f64();
        let text = std::fs::read_to_string(&report).unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let j = &v["jobs"][0];
        match (
            status.code(),
            j["status"].as_str(),
            j["duration_ms"].as_f64(),
        ) {
            (Some(1), Some("timed_out"), Some(ms)) => {
                job.push(ms / 1e3);
                wall.push(w);
            }
            other => {
                eprintln!("\nharness: timeout run {}: unexpected {other:?}", r + 1);
                ok = false;
            }
        }
    }
    progress(format_args!(""));
    let n = job.len();
    let (jm, jlo, jhi) = stats(job);
    let (wm, wlo, whi) = stats(wall);
    println!(
        "| W7 timeout 200 ms on `sleep 10` | batchrun: job duration_ms (report) | {n} | {} | {} | {:+.1} ms from 200 ms | – | – |",
        dur(jm),
        if n > 0 { dur_range(jlo, jhi) } else { "–".into() },
        (jm - 0.2) * 1e3
    );
    println!(
        "| W7 timeout 200 ms on `sleep 10` | batchrun: whole process | {n} | {} | {} | – | – | – |",
        dur(wm),
        if n > 0 {
            dur_range(wlo, whi)
        } else {
            "–".into()
        },
    );
    let worst = ((jlo - 0.2).abs()).max((jhi - 0.2).abs());
    append(
        targets.as_deref(),
        &format!(
            "| W7 | timeout fires within ±20 ms of 200 ms | {}–{} | {} |\n",
            dur(jlo),
            dur(jhi),
            if n > 0 && worst <= 0.020 {
                "met"
            } else {
                "**not met**"
            }
        ),
    )
    .map_err(|e| e.to_string())?;
    Ok(ok)
}

/// W6's manifest: half of the rows form one long chain (each after the one before), the other
/// half are blocks of a hub, a wide fan-out after the hub and a sink after the whole fan
/// (a fan-in with ~1,000 ids in one `after` cell); each block's hub is after the previous sink.
fn deps_manifest(n: usize) -> String {
    let mut s = String::with_capacity(n * 40);
    s.push_str("id,command,after\n");
    let chain = n / 2;
    for i in 0..chain {
        if i == 0 {
            let _ = writeln!(s, "c{i},true,");
        } else {
            let _ = writeln!(s, "c{i},true,c{}", i - 1);
        }
    }
    let block = 1000.min((n - chain).max(3));
    let mut left = n - chain;
    let mut prev = chain.checked_sub(1).map(|i| format!("c{i}"));
    let mut b = 0;
    while left > 0 {
        let size = block.min(left);
        let hub = format!("h{b}");
        let _ = writeln!(s, "{hub},true,{}", prev.as_deref().unwrap_or(""));
        let fans = size.saturating_sub(2);
        for f in 0..fans {
            let _ = writeln!(s, "f{b}_{f},true,{hub}");
        }
        if size >= 2 {
            let after: Vec<String> = if fans == 0 {
                vec![hub.clone()]
            } else {
                (0..fans).map(|f| format!("f{b}_{f}")).collect()
            };
            let _ = writeln!(s, "s{b},true,{}", after.join(" "));
            prev = Some(format!("s{b}"));
        } else {
            prev = Some(hub);
        }
        left -= size;
        b += 1;
    }
    s
}

fn cmd_manifest(args: &[String]) -> Result<bool, String> {
    let [kind, n, file, rest @ ..] = args else {
        return Err("usage: harness manifest KIND N FILE [TEXT]".into());
    };
    let n: usize = n.parse().map_err(|e| format!("N: {e}"))?;
    let text = rest.first().map_or("/bin/true", |s| s.as_str());
    let mut s = String::with_capacity(n * (text.len() + 8));
    match kind.as_str() {
        "direct" => {
            s.push_str("command\n");
            for _ in 0..n {
                let _ = writeln!(s, "{text}");
            }
        }
        "shell" => {
            s.push_str("command,shell\n");
            for _ in 0..n {
                let _ = writeln!(s, "{text},true");
            }
        }
        "lines" => {
            for _ in 0..n {
                let _ = writeln!(s, "{text}");
            }
        }
        "ids" => {
            s.push_str("id,command,timeout\n");
            for k in 0..n {
                let _ = writeln!(s, "job{k},{text},10s");
            }
        }
        "deps" => s = deps_manifest(n),
        _ => return Err(format!("unknown manifest kind {kind}")),
    }
    std::fs::write(file, s).map_err(|e| format!("{file}: {e}"))?;
    Ok(true)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("time") => cmd_time(&args[1..]),
        Some("sigint") => cmd_sigint(&args[1..]),
        Some("timeout") => cmd_timeout(&args[1..]),
        Some("manifest") => cmd_manifest(&args[1..]),
        _ => {
            Err("usage: harness time|sigint|timeout|manifest ... (see examples/harness.rs)".into())
        }
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("harness: {e}");
            ExitCode::from(2)
        }
    }
}
