/*!
batchrun's side of the spawner processes ([`super::zygote`] has theirs and the reason): the
zygote forked at start, a pool of spawners it makes on demand (at most one for each CPU, never
more than jobs start at once), and the round trip that starts one job: a request on the
spawner's socket, and a wait on its slot in shared memory, which the job's `exec` ends. A
worker takes the spawner it used last when that one is free, and the spawner waits on the
worker's CPU (see `Placement` in [`super::zygote`]), so that a job's start and end wake no
other CPU.

If the zygote cannot start, or a spawner fails, batchrun says so once and starts the rest of
its jobs itself, as it always did (and as the library does when nothing called [`start`]):
their `max_rss_kib` then includes batchrun's own peak.
*/

use std::cell::RefCell;
use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use super::zygote::{self, Reply, Slot, CLONE};
use crate::util::sys;

/// A helper process and batchrun's end of its socket.
#[derive(Debug)]
struct Helper {
    sock: OwnedFd,
    /// Names the process itself, whether or not its pid is reused: the stray reaper
    /// ([`crate::process::reaper`]) reaps a helper that died on its own.
    pidfd: OwnedFd,
}

impl Helper {
    fn new(sock: OwnedFd, pid: libc::pid_t) -> io::Result<Helper> {
        Ok(Helper {
            sock,
            pidfd: sys::pidfd_open(pid)?,
        })
    }

    /// Closes the socket (a live helper then exits) and reaps the process unless the stray
    /// reaper did.
    fn end(self) {
        drop(self.sock);
        // SAFETY: plain data for the kernel to fill; the pidfd is open.
        unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            while libc::waitid(
                libc::P_PIDFD,
                self.pidfd.as_raw_fd() as libc::id_t,
                &mut info,
                libc::WEXITED,
            ) < 0
                && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted
            {}
        }
    }
}

/// A spawner: a helper and the slot where it leaves each start's outcome.
#[derive(Debug)]
struct Spawner {
    helper: Helper,
    slot: &'static Slot,
}

impl Spawner {
    /// Waits for the start under way to end: the job's `exec` (or its process's death, or the
    /// spawner's word that it made none). An error if the spawner died meanwhile.
    fn wait(&self) -> io::Result<Reply> {
        loop {
            if let Some(reply) = self.slot.wait(Duration::from_millis(100)) {
                return Ok(reply);
            }
            let pidfd = self.helper.pidfd.as_fd();
            if sys::wait_readable(&[pidfd], Some(Duration::ZERO))?[0] {
                return Err(io::Error::other("it exited"));
            }
        }
    }
}

/// The helpers of this process.
#[derive(Debug)]
struct Helpers {
    /// Makes spawners; `None` when not started (library use) or given up.
    zygote: Option<Helper>,
    /// Spawners not in use.
    free: Vec<Spawner>,
    /// Spawners made and not failed (free or in use).
    made: usize,
    /// Why jobs start from batchrun itself, to say once.
    broken: Option<String>,
    /// Whether that was said.
    warned: bool,
}

static HELPERS: Mutex<Helpers> = Mutex::new(Helpers {
    zygote: None,
    free: Vec::new(),
    made: 0,
    broken: None,
    warned: false,
});

/// The spawners' slots, shared with the helpers (see [`zygote::map_slots`]): [`SLOTS_MAPPED`]
/// of them, the `n`-th for the `n`-th spawner made.
static SLOTS: OnceLock<&'static [Slot]> = OnceLock::new();

/// Whether jobs start from spawners (see [`needed`]).
static NEEDED: AtomicBool = AtomicBool::new(true);

/// Says whether anything records the jobs' memory. When nothing does, jobs start from
/// batchrun itself, which saves a round trip to a spawner for each job (tens of µs on two
/// CPUs); their `max_rss_kib` would then include batchrun's own peak, but nothing shows it.
pub fn needed(yes: bool) {
    NEEDED.store(yes, Ordering::Relaxed);
}

/// Signalled when a spawner goes back to the pool.
static FREED: Condvar = Condvar::new();

/// Ends the helpers when dropped (see [`start`]).
#[derive(Debug)]
#[must_use = "the spawner processes end when this is dropped"]
pub struct SpawnerGuard(());

impl Drop for SpawnerGuard {
    fn drop(&mut self) {
        stop();
    }
}

/// Forks the zygote. Call it first in `main`, while the process is single-threaded and small:
/// every job's `max_rss_kib` is at least the zygote's size then.
pub fn start() -> SpawnerGuard {
    if cfg!(batchrun_tsan) {
        // ThreadSanitizer's runtime cannot follow a `clone` that shares memory.
        return SpawnerGuard(());
    }
    let slots = zygote::map_slots(SLOTS_MAPPED).map(|slots| *SLOTS.get_or_init(|| slots));
    let forked = slots.and_then(|slots| {
        let (ours, theirs) = zygote::socketpair()?;
        // SAFETY: getpid has no preconditions.
        let parent = unsafe { libc::getpid() };
        // SAFETY: the process is single-threaded (the caller's promise); the child runs only
        // the zygote's code and ends with `_exit`.
        match unsafe { libc::fork() } {
            -1 => Err(io::Error::last_os_error()),
            0 => {
                drop(ours);
                zygote::serve_zygote(theirs, parent, slots)
            }
            pid => Helper::new(ours, pid),
        }
    });
    let mut helpers = HELPERS.lock();
    match forked {
        Ok(z) => helpers.zygote = Some(z),
        Err(e) => helpers.broken = Some(format!("cannot start the spawner process ({e})")),
    }
    SpawnerGuard(())
}

/// Closes every helper's socket (each then exits) and reaps those not in use; one still in use
/// (a worker that never came back) dies with batchrun.
fn stop() {
    let ending: Vec<Helper> = {
        let mut helpers = HELPERS.lock();
        helpers.broken.get_or_insert_with(|| "stopped".into());
        helpers.warned = true;
        let free = std::mem::take(&mut helpers.free);
        let mut all: Vec<Helper> = free.into_iter().map(|s| s.helper).collect();
        all.extend(helpers.zygote.take());
        all
    };
    for h in ending {
        h.end();
    }
}

/// How many spawners at most: one for each CPU (two at least), no more than [`SLOTS_MAPPED`].
fn most_spawners() -> usize {
    static MOST: OnceLock<usize> = OnceLock::new();
    *MOST.get_or_init(|| {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get().max(2));
        cpus.min(SLOTS_MAPPED)
    })
}

/// How many spawner slots are mapped at start: as many as a `cpu_set_t` has CPUs, so the CPU
/// count (a few files read from the cgroup tree) is asked only when a spawner is first made.
/// 64 KiB of address space; only the slots used are ever given memory.
const SLOTS_MAPPED: usize = libc::CPU_SETSIZE as usize;

/// Whether `e` is the operating system being out of descriptors or processes for now.
fn transient(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EAGAIN | libc::ENOMEM | libc::EMFILE | libc::ENFILE)
    )
}

/// Says once why jobs start from batchrun itself.
fn warn_once(helpers: &mut Helpers) {
    if let (Some(why), false) = (&helpers.broken, helpers.warned) {
        log::warn!(
            "{why}: batchrun starts its jobs itself, so their max_rss_kib includes its own peak memory"
        );
        helpers.warned = true;
    }
}

/// Gives up on the helpers for the rest of the run: ends `failed` (its socket closed, it
/// exits if it lives) and the zygote; spawners in the pool end at [`stop`].
fn give_up(helpers: &mut Helpers, failed: Option<Helper>, why: String) {
    helpers.broken.get_or_insert(why);
    for h in failed.into_iter().chain(helpers.zygote.take()) {
        h.end();
    }
    helpers.made = helpers.free.len();
    warn_once(helpers);
    FREED.notify_all();
}

/// A spawner for one start: a free one, a new one, or (at the most) one that comes back.
/// `Ok(None)` when jobs start from batchrun itself; an error when none can be made for now.
fn take() -> io::Result<Option<Spawner>> {
    let mut helpers = HELPERS.lock();
    loop {
        if helpers.broken.is_some() {
            warn_once(&mut helpers);
            return Ok(None);
        }
        let mine = LAST.get();
        if let Some(at) = helpers
            .free
            .iter()
            .rposition(|s| std::ptr::eq(s.slot, mine))
        {
            return Ok(Some(helpers.free.swap_remove(at)));
        }
        if let Some(h) = helpers.free.pop() {
            return Ok(Some(h));
        }
        let Some(z) = &helpers.zygote else {
            return Ok(None);
        };
        if helpers.made < most_spawners() {
            match ask_zygote(z, helpers.made) {
                Ok(h) => {
                    helpers.made += 1;
                    return Ok(Some(h));
                }
                Err(e) if transient(&e) && helpers.made == 0 => return Err(e),
                Err(e) if transient(&e) => {}
                Err(e) => {
                    let why = format!("the spawner process failed ({e})");
                    give_up(&mut helpers, None, why);
                    return Ok(None);
                }
            }
        }
        FREED.wait(&mut helpers);
    }
}

/// Asks the zygote for a new spawner, with the slot numbered `n`.
fn ask_zygote(z: &Helper, n: usize) -> io::Result<Spawner> {
    let slot = SLOTS
        .get()
        .and_then(|slots| slots.get(n))
        .ok_or_else(|| io::Error::other("no slot for another spawner"))?;
    let mut request = 5u32.to_ne_bytes().to_vec();
    request.push(CLONE);
    request.extend_from_slice(&(n as u32).to_ne_bytes());
    zygote::send(z.sock.as_fd(), &request, &[])?;
    let mut fds = Vec::new();
    let (pid, err) = read_reply(z.sock.as_fd(), &mut fds)?;
    if err != 0 {
        return Err(io::Error::from_raw_os_error(err));
    }
    match (pid, fds.pop()) {
        (1.., Some(sock)) => Ok(Spawner {
            helper: Helper::new(sock, pid)?,
            slot,
        }),
        _ => Err(io::Error::other("the spawner process sent no socket")),
    }
}

/// Reads a reply and the descriptor that may come with it.
fn read_reply(sock: BorrowedFd<'_>, fds: &mut Vec<OwnedFd>) -> io::Result<Reply> {
    let mut bytes = [0u8; 8];
    match zygote::recv(sock, &mut bytes, fds)? {
        None => return Err(io::ErrorKind::UnexpectedEof.into()),
        Some(true) => return Err(zygote::truncated()),
        Some(false) => {}
    }
    let pid = i32::from_ne_bytes(bytes[..4].try_into().expect("4 bytes"));
    let err = i32::from_ne_bytes(bytes[4..].try_into().expect("4 bytes"));
    Ok((pid, err))
}

/// batchrun's working directory, opened once (`O_PATH`): each job's process starts from it.
fn working_dir() -> Option<BorrowedFd<'static>> {
    static DIR: OnceLock<Option<OwnedFd>> = OnceLock::new();
    DIR.get_or_init(|| {
        std::fs::File::options()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
            .open(".")
            .ok()
            .map(OwnedFd::from)
    })
    .as_ref()
    .map(|fd| fd.as_fd())
}

thread_local! {
    /// Each worker's request buffer, reused.
    static REQUEST: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// The slot of the spawner this thread used last: it takes that one again when it is free.
    static LAST: std::cell::Cell<*const Slot> = const { std::cell::Cell::new(std::ptr::null()) };
}

/// Starts a job through a spawner: `argv[0]` looked up in `envp`'s `PATH`, in `cwd` (relative
/// to batchrun's directory), with `stdio`. `None` when jobs start from batchrun itself.
pub(super) fn spawn(
    argv: &[&CStr],
    envp: &[&CStr],
    cwd: Option<&CStr>,
    stdio: [BorrowedFd<'_>; 3],
) -> Option<io::Result<libc::pid_t>> {
    if !NEEDED.load(Ordering::Relaxed) {
        return None;
    }
    let dir = working_dir()?;
    let spawner = match take() {
        Ok(s) => s?,
        Err(e) => return Some(Err(e)),
    };
    let answer = REQUEST.with_borrow_mut(|buf| {
        // SAFETY: no preconditions (the vDSO's, or a system call).
        let cpu = u32::try_from(unsafe { libc::sched_getcpu() }).ok();
        zygote::encode_spawn(buf, argv, envp, cwd, cpu);
        let [stdin, stdout, stderr] = stdio;
        spawner.slot.begin();
        let sock = spawner.helper.sock.as_fd();
        zygote::send(sock, buf, &[stdin, stdout, stderr, dir])?;
        spawner.wait()
    });
    match answer {
        Ok((pid, err)) => {
            LAST.set(spawner.slot);
            HELPERS.lock().free.push(spawner);
            FREED.notify_one();
            if err == 0 {
                return Some(Ok(pid));
            }
            if pid > 0 {
                // The process exited (127) without running the program: reap it.
                let _ = sys::wait4(pid);
            }
            Some(Err(io::Error::from_raw_os_error(err)))
        }
        Err(e) => {
            let why = format!("a spawner process failed ({e})");
            give_up(&mut HELPERS.lock(), Some(spawner.helper), why);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_stops_waiting_for_a_spawner_that_died() {
        // A spawner that exits before it starts anything zeroes nothing: the worker finds it
        // dead instead of waiting for ever.
        let mut gone = std::process::Command::new("true").spawn().unwrap();
        let pid = gone.id() as libc::pid_t;
        let (ours, _theirs) = zygote::socketpair().unwrap();
        let spawner = Spawner {
            helper: Helper::new(ours, pid).unwrap(),
            slot: &zygote::map_slots(1).unwrap()[0],
        };
        gone.wait().unwrap();
        spawner.slot.begin();
        let e = spawner.wait().unwrap_err();
        assert_eq!(e.to_string(), "it exited");
    }
}
