/*!
batchrun's side of the spawner processes ([`super::zygote`] has theirs and the reason): the
zygote forked at start, a pool of spawners it makes on demand (at most one for each CPU, never
more than jobs start at once), and the round trip that starts one job.

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

use parking_lot::{Condvar, Mutex};

use super::zygote::{self, Reply, CLONE};
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

/// The helpers of this process.
#[derive(Debug)]
struct Helpers {
    /// Makes spawners; `None` when not started (library use) or given up.
    zygote: Option<Helper>,
    /// Spawners not in use.
    free: Vec<Helper>,
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
    let forked = zygote::socketpair().and_then(|(ours, theirs)| {
        // SAFETY: getpid has no preconditions.
        let parent = unsafe { libc::getpid() };
        // SAFETY: the process is single-threaded (the caller's promise); the child runs only
        // the zygote's code and ends with `_exit`.
        match unsafe { libc::fork() } {
            -1 => Err(io::Error::last_os_error()),
            0 => {
                drop(ours);
                zygote::serve_zygote(theirs, parent)
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
        let mut all = std::mem::take(&mut helpers.free);
        all.extend(helpers.zygote.take());
        all
    };
    for h in ending {
        h.end();
    }
}

/// How many spawners at most: one for each CPU (two at least).
fn most_spawners() -> usize {
    static MOST: OnceLock<usize> = OnceLock::new();
    *MOST.get_or_init(|| std::thread::available_parallelism().map_or(2, |n| n.get().max(2)))
}

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
fn take() -> io::Result<Option<Helper>> {
    let mut helpers = HELPERS.lock();
    loop {
        if helpers.broken.is_some() {
            warn_once(&mut helpers);
            return Ok(None);
        }
        if let Some(h) = helpers.free.pop() {
            return Ok(Some(h));
        }
        let Some(z) = &helpers.zygote else {
            return Ok(None);
        };
        if helpers.made < most_spawners() {
            match ask_zygote(z) {
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

/// Asks the zygote for a new spawner.
fn ask_zygote(z: &Helper) -> io::Result<Helper> {
    let mut request = 1u32.to_ne_bytes().to_vec();
    request.push(CLONE);
    zygote::send(z.sock.as_fd(), &request, &[])?;
    let mut fds = Vec::new();
    let (pid, err) = read_reply(z.sock.as_fd(), &mut fds)?;
    if err != 0 {
        return Err(io::Error::from_raw_os_error(err));
    }
    match (pid, fds.pop()) {
        (1.., Some(sock)) => Helper::new(sock, pid),
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
    let helper = match take() {
        Ok(h) => h?,
        Err(e) => return Some(Err(e)),
    };
    let answer = REQUEST.with_borrow_mut(|buf| {
        zygote::encode_spawn(buf, argv, envp, cwd);
        let [stdin, stdout, stderr] = stdio;
        zygote::send(helper.sock.as_fd(), buf, &[stdin, stdout, stderr, dir])?;
        read_reply(helper.sock.as_fd(), &mut Vec::new())
    });
    match answer {
        Ok((pid, err)) => {
            HELPERS.lock().free.push(helper);
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
            give_up(&mut HELPERS.lock(), Some(helper), why);
            None
        }
    }
}
