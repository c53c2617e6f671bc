/*!
Thin, safe wrappers over the Linux system calls batchrun needs and std does not offer:
pidfds, `ppoll`, eventfd, process-group signals, `waitid` on a process group, and the
child-subreaper flag.

Every `unsafe` block in the crate lives here.
*/

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// Converts a `-1` return into the thread's `errno` as an [`io::Error`].
fn check(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Opens a pidfd for `pid`, which must be an unreaped child of this process (so the pid
/// cannot have been recycled).
pub fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    // SAFETY: plain system call with integer arguments; on success it returns a new fd we own.
    let fd = check(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })?;
    // SAFETY: the kernel just gave us this descriptor, nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// A non-blocking, close-on-exec eventfd: writing to it once makes it readable for ever
/// (nobody reads it), which is the "wake every waiter" edge of a cancel token.
pub fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: plain system call; on success it returns a new fd we own.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    check(fd as libc::c_long)?;
    // SAFETY: the kernel just gave us this descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Adds one to an eventfd's counter, making it readable.
pub fn eventfd_signal(fd: BorrowedFd<'_>) {
    let one: u64 = 1;
    // SAFETY: writes 8 bytes from a live u64 to a descriptor we borrow.
    // A full counter (EAGAIN) is still readable, which is all we want, so the result is ignored.
    let _ = unsafe { libc::write(fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
}

/// Waits until one of `fds` is readable or `timeout` passes (`None`: no limit).
/// Returns, for each fd, whether it is readable; all `false` means the timeout passed.
/// `EINTR` is retried with the time that is left.
pub fn wait_readable(fds: &[BorrowedFd<'_>], timeout: Option<Duration>) -> io::Result<Vec<bool>> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|fd| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let end = timeout.map(|t| std::time::Instant::now() + t);
    loop {
        let ts = end.map(|end| {
            let left = end.saturating_duration_since(std::time::Instant::now());
            libc::timespec {
                tv_sec: left.as_secs() as libc::time_t,
                tv_nsec: left.subsec_nanos() as libc::c_long,
            }
        });
        let ts_ptr = ts
            .as_ref()
            .map_or(std::ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: pfds is a live, correctly sized array; ts_ptr is null or points to a live timespec.
        let ret = unsafe {
            libc::ppoll(
                pfds.as_mut_ptr(),
                pfds.len() as libc::nfds_t,
                ts_ptr,
                std::ptr::null(),
            )
        };
        match check(ret as libc::c_long) {
            Ok(_) => return Ok(pfds.iter().map(|p| p.revents != 0).collect()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Sends `signal` to every process in process group `pgid`. `ESRCH` (nobody left) is not an error.
pub fn kill_group(pgid: libc::pid_t, signal: libc::c_int) -> io::Result<()> {
    // SAFETY: plain system call with integer arguments.
    match check(unsafe { libc::kill(-pgid, signal) } as libc::c_long) {
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
        other => other.map(|_| ()),
    }
}

/// What `waitid` on a process group found.
#[derive(Debug, PartialEq, Eq)]
pub enum GroupWait {
    /// This process has no child left in the group.
    Empty,
    /// Children remain in the group, none of them has exited yet (only with `nohang`).
    Running,
    /// One child of the group was reaped.
    Reaped(libc::pid_t),
}

/// Reaps one exited child of ours in process group `pgid` (`waitid(P_PGID)`); with `nohang`,
/// returns [`GroupWait::Running`] instead of blocking.
pub fn wait_group(pgid: libc::pid_t, nohang: bool) -> io::Result<GroupWait> {
    let mut flags = libc::WEXITED;
    if nohang {
        flags |= libc::WNOHANG;
    }
    loop {
        // SAFETY: siginfo_t is plain data; zeroed is a valid value and waitid fills it in.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: info is a live siginfo_t the kernel writes into.
        let ret = unsafe { libc::waitid(libc::P_PGID, pgid as libc::id_t, &mut info, flags) };
        match check(ret as libc::c_long) {
            Ok(_) => {
                // SAFETY: waitid succeeded, so the pid field of the union is initialised (0 if none).
                let pid = unsafe { info.si_pid() };
                return Ok(if pid == 0 {
                    GroupWait::Running
                } else {
                    GroupWait::Reaped(pid)
                });
            }
            Err(e) if e.raw_os_error() == Some(libc::ECHILD) => return Ok(GroupWait::Empty),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Reaps child `pid` (blocking until it has exited) with `wait4`, returning its exit status
/// and its resource use: its own and that of every descendant it waited for. `EINTR` is
/// retried.
pub fn wait4(pid: libc::pid_t) -> io::Result<(std::process::ExitStatus, Usage)> {
    use std::os::unix::process::ExitStatusExt;
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: rusage is plain data; zeroed is a valid value and wait4 fills it in.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: status and ru are live values the kernel writes into.
        let ret = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        match check(ret as libc::c_long) {
            Ok(_) => {
                let usage = Usage {
                    // Linux reports ru_maxrss in KiB.
                    max_rss_kib: u64::try_from(ru.ru_maxrss).unwrap_or(0),
                    user: timeval(ru.ru_utime),
                    system: timeval(ru.ru_stime),
                };
                return Ok((std::process::ExitStatus::from_raw(status), usage));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// A `timeval` as a [`Duration`] (negative fields, which the kernel never gives, as zero).
fn timeval(tv: libc::timeval) -> Duration {
    let secs = u64::try_from(tv.tv_sec).unwrap_or(0);
    let micros = u32::try_from(tv.tv_usec).unwrap_or(0);
    Duration::from_secs(secs) + Duration::from_micros(u64::from(micros))
}

/// Reaps every exited child of this process, whatever its group, without blocking.
/// Returns how many were reaped.
pub fn reap_exited_children() -> usize {
    let mut n = 0;
    loop {
        // SAFETY: as in wait_group.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: info is a live siginfo_t.
        let ret = unsafe { libc::waitid(libc::P_ALL, 0, &mut info, libc::WEXITED | libc::WNOHANG) };
        // SAFETY: initialised when ret == 0.
        if ret != 0 || unsafe { info.si_pid() } == 0 {
            return n;
        }
        n += 1;
    }
}

/// Makes this process the reaper of its orphaned descendants (`PR_SET_CHILD_SUBREAPER`), so a
/// job's background grandchildren stay our children after the job's main process exits: we can
/// then find them in their process group, terminate them and reap them, and never signal a
/// process group that no longer exists.
pub fn become_subreaper() -> io::Result<()> {
    // SAFETY: prctl with integer arguments.
    check(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } as libc::c_long)
        .map(|_| ())
}

/// Reaps child `pid` if it has exited, without blocking (`waitid(P_PID, WEXITED | WNOHANG)`).
/// Returns whether it was reaped.
pub fn reap_if_exited(pid: libc::pid_t) -> bool {
    // SAFETY: as in wait_group.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: info is a live siginfo_t.
    let ret = unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG,
        )
    };
    // SAFETY: initialised when ret == 0.
    ret == 0 && unsafe { info.si_pid() } == pid
}

/// Opens `path` read-only for `flock`, creating it (mode 0666 less the umask) if missing. It is
/// never truncated or written, so its content never changes, even through a symlink.
pub fn open_for_lock(path: &std::path::Path) -> io::Result<std::fs::File> {
    crate::util::fs::open_no_planted_link(path, open_for_lock_here)
}

/// [`open_for_lock`] without following a link at `path` (`O_NOFOLLOW`: ELOOP if there is one).
fn open_for_lock_here(path: &std::path::Path) -> io::Result<std::fs::File> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: c is a live NUL-terminated string; on success open returns a new fd we own.
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            // O_NONBLOCK: a FIFO given as the lock must not hang the open (it changes
            // nothing for a regular file); O_NOCTTY: nor may a terminal become ours.
            libc::O_RDONLY
                | libc::O_CREAT
                | libc::O_CLOEXEC
                | libc::O_NONBLOCK
                | libc::O_NOCTTY
                | libc::O_NOFOLLOW,
            0o666 as libc::c_uint,
        )
    };
    check(fd as libc::c_long)?;
    // SAFETY: the kernel just gave us this descriptor.
    Ok(unsafe { std::fs::File::from_raw_fd(fd) })
}

/// Sets or clears `O_NONBLOCK` on `file`'s open file description (one batchrun opened itself:
/// the flag is shared with every descriptor of that description).
pub fn set_nonblocking(file: &std::fs::File, on: bool) -> io::Result<()> {
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor we own; F_GETFL takes no argument.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    check(flags as libc::c_long)?;
    let want = if on {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    if want != flags {
        // SAFETY: as above, with an int argument.
        check(unsafe { libc::fcntl(fd, libc::F_SETFL, want) } as libc::c_long)?;
    }
    Ok(())
}

/// Whether the file system holding `file` has no block left for us (root may use the blocks
/// reserved for it).
pub fn fs_full(file: BorrowedFd<'_>) -> io::Result<bool> {
    // SAFETY: statvfs is plain data; zeroed is valid and fstatvfs fills it in.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: st is a live statvfs the kernel writes into.
    check(unsafe { libc::fstatvfs(file.as_raw_fd(), &mut st) } as libc::c_long)?;
    // SAFETY: plain system call.
    let root = unsafe { libc::geteuid() } == 0;
    Ok(if root {
        st.f_bfree == 0
    } else {
        st.f_bavail == 0
    })
}

/// A child of ours that has exited and is waiting to be reaped, if there is one; reaps
/// nothing (`waitid(P_ALL, WEXITED | WNOHANG | WNOWAIT)`).
pub fn exited_child() -> Option<libc::pid_t> {
    // SAFETY: as in wait_group.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: info is a live siginfo_t.
    let ret = unsafe {
        libc::waitid(
            libc::P_ALL,
            0,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    // SAFETY: initialised when ret == 0.
    let pid = unsafe { info.si_pid() };
    (ret == 0 && pid != 0).then_some(pid)
}

/// Raises the soft limit on open files to the hard limit. Returns the (old, new) soft limits.
pub fn raise_nofile_limit() -> io::Result<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: lim is a live rlimit the kernel writes into.
    check(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } as libc::c_long)?;
    let old = lim.rlim_cur;
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: lim is a live, initialised rlimit.
        check(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } as libc::c_long)?;
    }
    Ok((old, lim.rlim_cur))
}

/// Under an address-space limit (`ulimit -v`, `RLIMIT_AS`), makes every thread allocate from
/// one malloc arena: glibc reserves 64 MiB of address space for each thread's own arena, so a
/// few threads under a limit of some 40 MB made an allocation fail, and Rust aborts on that.
/// With one arena, threads that cannot be started are what runs short, and batchrun degrades
/// (fewer workers, starts put off). Call before any thread starts. Without a limit nothing
/// changes.
pub fn fit_malloc_to_address_space() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: lim is a live rlimit the kernel writes into.
    let limited = unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut lim) } == 0
        && lim.rlim_cur != libc::RLIM_INFINITY;
    #[cfg(target_env = "gnu")]
    if limited {
        // SAFETY: mallopt only sets a tunable of glibc's malloc; no thread allocates yet.
        unsafe { libc::mallopt(libc::M_ARENA_MAX, 1) };
    }
    #[cfg(not(target_env = "gnu"))]
    let _ = limited;
}

/// Under an address-space limit (`RLIMIT_AS`), how many more threads of `per_thread` bytes
/// fit in what the process has left, keeping 16 MiB for allocations; `None` without a limit
/// (or when the process's size cannot be read).
pub fn threads_that_fit(per_thread: u64) -> Option<usize> {
    const MARGIN: u64 = 16 * 1024 * 1024;
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: lim is a live rlimit the kernel writes into.
    if unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut lim) } != 0
        || lim.rlim_cur == libc::RLIM_INFINITY
    {
        return None;
    }
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().next()?.parse().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let page = u64::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).ok()?;
    let left = lim
        .rlim_cur
        .saturating_sub(pages * page)
        .saturating_sub(MARGIN);
    usize::try_from(left / per_thread.max(1)).ok()
}

/// The soft open-file limit (`RLIMIT_NOFILE`), `u64::MAX` when unlimited or unknown.
pub fn nofile_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: lim is a live rlimit the kernel writes into.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0
        || lim.rlim_cur == libc::RLIM_INFINITY
    {
        return u64::MAX;
    }
    lim.rlim_cur
}

/// The pids of the live (not zombie) processes in process group `pgid`, read from `/proc`.
/// Used only on the slow path, when a job left processes behind.
pub fn group_members(pgid: libc::pid_t) -> Vec<libc::pid_t> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<libc::pid_t>().ok())
        .filter(|&pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
            let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
                return false;
            };
            let mut fields = rest.split_whitespace();
            let state = fields.next();
            let pgrp = fields.nth(1).and_then(|f| f.parse::<libc::pid_t>().ok());
            state != Some("Z") && pgrp == Some(pgid)
        })
        .collect()
}

/// Whether standard input is a pipe, a socket or a regular file: data someone gave, not a
/// terminal or `/dev/null`.
pub fn stdin_is_data() -> bool {
    use std::os::fd::AsFd;
    use std::os::unix::fs::FileTypeExt;
    let Ok(fd) = std::io::stdin().as_fd().try_clone_to_owned() else {
        return false;
    };
    let Ok(meta) = std::fs::File::from(fd).metadata() else {
        return false;
    };
    let t = meta.file_type();
    t.is_fifo() || t.is_socket() || t.is_file()
}

/// The signals batchrun names, with their numbers.
const SIGNALS: [(i32, &str); 20] = [
    (libc::SIGHUP, "SIGHUP"),
    (libc::SIGINT, "SIGINT"),
    (libc::SIGQUIT, "SIGQUIT"),
    (libc::SIGILL, "SIGILL"),
    (libc::SIGTRAP, "SIGTRAP"),
    (libc::SIGABRT, "SIGABRT"),
    (libc::SIGBUS, "SIGBUS"),
    (libc::SIGFPE, "SIGFPE"),
    (libc::SIGKILL, "SIGKILL"),
    (libc::SIGUSR1, "SIGUSR1"),
    (libc::SIGSEGV, "SIGSEGV"),
    (libc::SIGUSR2, "SIGUSR2"),
    (libc::SIGPIPE, "SIGPIPE"),
    (libc::SIGALRM, "SIGALRM"),
    (libc::SIGTERM, "SIGTERM"),
    (libc::SIGXCPU, "SIGXCPU"),
    (libc::SIGXFSZ, "SIGXFSZ"),
    (libc::SIGVTALRM, "SIGVTALRM"),
    (libc::SIGPROF, "SIGPROF"),
    (libc::SIGSYS, "SIGSYS"),
];

/// The name of a signal number, such as `SIGTERM`.
pub fn signal_name(signal: i32) -> String {
    match SIGNALS.iter().find(|(n, _)| *n == signal) {
        Some((_, name)) => (*name).to_string(),
        None => format!("signal {signal}"),
    }
}

/// The number of a signal named `SIGKILL` or `KILL` (any case).
pub fn signal_number(name: &str) -> Option<i32> {
    let upper = name.to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    SIGNALS
        .iter()
        .find(|(_, n)| n[3..] == *bare)
        .map(|(number, _)| *number)
}

/// A NULL-terminated array of pointers to C strings (an `argv` or `envp`); the strings
/// outlive the array.
#[derive(Debug)]
pub struct CStrArray<'a> {
    ptrs: Vec<*const libc::c_char>,
    strings: std::marker::PhantomData<&'a std::ffi::CStr>,
}

impl<'a> CStrArray<'a> {
    /// The array of `items`, in order.
    pub fn new(items: impl IntoIterator<Item = &'a std::ffi::CStr>) -> Self {
        let mut ptrs: Vec<*const libc::c_char> = items.into_iter().map(|s| s.as_ptr()).collect();
        ptrs.push(std::ptr::null());
        CStrArray {
            ptrs,
            strings: std::marker::PhantomData,
        }
    }

    /// The array, for `execve` and its kin.
    pub fn as_ptr(&self) -> *const *const libc::c_char {
        self.ptrs.as_ptr()
    }

    /// The strings, in order.
    #[cfg(test)]
    pub fn iter(&self) -> impl Iterator<Item = &'a std::ffi::CStr> + '_ {
        self.ptrs[..self.ptrs.len() - 1]
            .iter()
            // SAFETY: every pointer but the last came from a `&'a CStr` in `new`.
            .map(|&p| unsafe { std::ffi::CStr::from_ptr(p) })
    }
}

/// The signature of `posix_spawn_file_actions_addchdir_np`.
type AddChdir =
    unsafe extern "C" fn(*mut libc::posix_spawn_file_actions_t, *const libc::c_char) -> libc::c_int;

/// `posix_spawn_file_actions_addchdir_np` (glibc 2.29 and later), looked up once at run time
/// as std does, so that batchrun still starts on an older C library.
fn addchdir() -> Option<AddChdir> {
    static FOUND: std::sync::OnceLock<Option<AddChdir>> = std::sync::OnceLock::new();
    *FOUND.get_or_init(|| {
        let name = c"posix_spawn_file_actions_addchdir_np";
        // SAFETY: dlsym with a NUL-terminated name; RTLD_DEFAULT searches what is loaded.
        let sym = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
        // SAFETY: the C library's symbol of that name has exactly this signature.
        (!sym.is_null()).then(|| unsafe { std::mem::transmute::<*mut libc::c_void, AddChdir>(sym) })
    })
}

/// Whether [`spawn`] can start a process in another working directory.
pub fn can_spawn_in_dir() -> bool {
    addchdir().is_some()
}

/// What [`spawn`] starts.
#[derive(Debug)]
pub struct SpawnRequest<'a> {
    /// The program: a path, or a name looked up in this process's `PATH`.
    pub program: &'a std::ffi::CStr,
    /// Its arguments, `argv[0]` first.
    pub argv: &'a CStrArray<'a>,
    /// Its whole environment.
    pub envp: &'a CStrArray<'a>,
    /// What becomes its stdin, stdout and stderr.
    pub stdio: [BorrowedFd<'a>; 3],
    /// Its working directory (needs [`can_spawn_in_dir`]).
    pub cwd: Option<&'a std::ffi::CStr>,
}

/// A `posix_spawn` return value (an errno, not -1) as a result.
fn spawn_check(ret: libc::c_int) -> io::Result<()> {
    if ret == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(ret))
    }
}

/// Spawn attributes and file actions, destroyed when dropped.
struct SpawnSetup {
    attr: libc::posix_spawnattr_t,
    actions: libc::posix_spawn_file_actions_t,
}

impl Drop for SpawnSetup {
    fn drop(&mut self) {
        // SAFETY: both were initialised in `spawn` before this value was made.
        unsafe {
            libc::posix_spawnattr_destroy(&mut self.attr);
            libc::posix_spawn_file_actions_destroy(&mut self.actions);
        }
    }
}

/// Starts a process the way std's `Command` does on its `posix_spawn` path (`posix_spawnp`,
/// with `process_group(0)`): in a new process group of its own, with SIGPIPE back to its
/// default action, no signal blocked, and the three descriptors of `stdio` as its
/// stdin, stdout and stderr. Every other descriptor of ours is close-on-exec. The C library
/// reports a failed `exec` (or `chdir`) as the error. Returns the child's pid.
pub fn spawn(req: &SpawnRequest<'_>) -> io::Result<libc::pid_t> {
    let chdir = match req.cwd {
        Some(dir) => Some((addchdir().ok_or(io::ErrorKind::Unsupported)?, dir)),
        None => None,
    };
    // SAFETY: plain data, initialised by the init calls right below before any other use.
    let mut setup: SpawnSetup = unsafe { std::mem::zeroed() };
    // SAFETY: init on live, writable values.
    spawn_check(unsafe { libc::posix_spawnattr_init(&mut setup.attr) })?;
    // SAFETY: as above. If this fails, `attr` is destroyed with `setup` and `actions`
    // (zeroed, never initialised) too, which glibc's destroy tolerates (it frees a null array).
    spawn_check(unsafe { libc::posix_spawn_file_actions_init(&mut setup.actions) })?;
    // SAFETY: sigset_t is plain data; sigemptyset initialises it.
    let mut default_set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut no_signals: libc::sigset_t = unsafe { std::mem::zeroed() };
    let flags =
        libc::POSIX_SPAWN_SETPGROUP | libc::POSIX_SPAWN_SETSIGDEF | libc::POSIX_SPAWN_SETSIGMASK;
    // SAFETY: every pointer is to a live value initialised above; the descriptors are
    // borrowed for the whole call; the strings and arrays are NUL- and NULL-terminated.
    unsafe {
        // No signal blocked in the child, whatever the spawning thread blocks (as std does).
        libc::sigemptyset(&mut no_signals);
        spawn_check(libc::posix_spawnattr_setsigmask(
            &mut setup.attr,
            &no_signals,
        ))?;
        libc::sigemptyset(&mut default_set);
        libc::sigaddset(&mut default_set, libc::SIGPIPE);
        // Ignored by batchrun while it starts (`ignore_status_requests`); an ignored signal
        // would stay ignored across `exec`.
        libc::sigaddset(&mut default_set, libc::SIGUSR1);
        spawn_check(libc::posix_spawnattr_setsigdefault(
            &mut setup.attr,
            &default_set,
        ))?;
        spawn_check(libc::posix_spawnattr_setpgroup(&mut setup.attr, 0))?;
        spawn_check(libc::posix_spawnattr_setflags(
            &mut setup.attr,
            flags as libc::c_short,
        ))?;
        for (fd, target) in req.stdio.iter().zip(0..) {
            spawn_check(libc::posix_spawn_file_actions_adddup2(
                &mut setup.actions,
                fd.as_raw_fd(),
                target,
            ))?;
        }
        if let Some((addchdir, dir)) = chdir {
            spawn_check(addchdir(&mut setup.actions, dir.as_ptr()))?;
        }
        let mut pid: libc::pid_t = 0;
        spawn_check(libc::posix_spawnp(
            &mut pid,
            req.program.as_ptr(),
            &setup.actions,
            &setup.attr,
            req.argv.as_ptr().cast(),
            req.envp.as_ptr().cast(),
        ))?;
        Ok(pid)
    }
}

extern "C" {
    /// The C library's environment (`environ(7)`).
    static environ: *const *const libc::c_char;
}

/// This process's environment, as the C library holds it: the address of each `KEY=VALUE`
/// string, and a copy of it.
///
/// The environment is read without std's lock, as `getenv` does: batchrun changes its own
/// environment only before it starts any thread (`shard::export_env`).
pub fn environment() -> Vec<(usize, std::ffi::CString)> {
    let mut vars = Vec::new();
    // SAFETY: environ is a NULL-terminated array of NUL-terminated strings (or null), which
    // nothing changes while batchrun runs threads.
    unsafe {
        let mut p = environ;
        while !p.is_null() && !(*p).is_null() {
            vars.push((*p as usize, std::ffi::CStr::from_ptr(*p).to_owned()));
            p = p.add(1);
        }
    }
    vars
}

/// Whether this process's environment still holds exactly the strings at `addresses`, in
/// that order (see [`environment`]). `setenv` and `putenv` put new strings in.
pub fn environment_is(addresses: &[usize]) -> bool {
    // SAFETY: as in `environment`.
    unsafe {
        let mut p = environ;
        for &a in addresses {
            if p.is_null() || *p as usize != a {
                return false;
            }
            p = p.add(1);
        }
        p.is_null() || (*p).is_null()
    }
}

/// What an attempt's process tree cost, from the `rusage` that `wait4` returns when batchrun
/// reaps the job's main process: that process and every descendant it waited for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Peak resident set size of the largest single process, in KiB.
    pub max_rss_kib: u64,
    /// CPU time in user mode.
    pub user: Duration,
    /// CPU time in kernel mode.
    pub system: Duration,
}

impl Usage {
    /// User plus system CPU time.
    pub fn cpu(&self) -> Duration {
        self.user + self.system
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_c_string_array_ends_with_a_null_pointer_as_execve_needs() {
        let a = CStrArray::new([c"/bin/echo", c"a b", c""]);
        assert!(a.iter().eq([c"/bin/echo", c"a b", c""]));
        // SAFETY: the array has four pointers: the three strings' and the terminator.
        let last = unsafe { *a.as_ptr().add(3) };
        assert!(last.is_null());
        let empty = CStrArray::new([]);
        // SAFETY: an empty array still has its terminator.
        assert!(unsafe { *empty.as_ptr() }.is_null());
    }
}
