/*!
A job's process between `clone` and `exec`, written once for the two places that make one
without `posix_spawn`: a spawner ([`super::zygote`], with `clone`) and batchrun itself
([`spawn`], with `clone3`).

# Why batchrun starts jobs itself with `clone3`

glibc's `posix_spawn` (what std's `Command` and the floor of `scripts/bench.sh` use) gives the
child a fresh stack (`mmap`, then `munmap` in the parent, which interrupts every other CPU
running one of our threads to flush its TLB), and the child asks for and resets every one of
the 64 signal actions, one system call each, so that no handler of the parent can run in it:
about 130 system calls before the `exec`. [`spawn`] keeps one stack per worker thread and asks
the kernel to reset the handlers in the same call that makes the process
(`CLONE_CLEAR_SIGHAND`, Linux 5.5), so the child makes about a dozen. What the child ends up
with is the same: its own process group, SIGPIPE and SIGUSR1 back to their default action,
every handler reset (an ignored signal stays ignored, as across `exec`), no signal blocked.

`clone3` with a stack of its own cannot be called through a C function (the child would
return into the caller's frame on the wrong stack), so the call is a few lines of assembly,
x86-64 only. Elsewhere, on a kernel or a seccomp filter that refuses `clone3` or the flag, and
in the ThreadSanitizer build (the child runs in our memory, under our thread's TSan state),
[`spawn`] answers `None` and batchrun uses `posix_spawn` as before.
*/

use std::ffi::{CStr, CString};
use std::io;
use std::sync::atomic::{AtomicI32, Ordering};

use crate::util::sys::CStrArray;

/// The stack of a job's process between `clone` and `exec` (it only makes system calls).
pub(super) const CHILD_STACK: usize = 64 * 1024;

/// The `PATH` a search uses when the job's environment has none (glibc's `posix_spawnp`).
const DEFAULT_PATH: &[u8] = b"/bin:/usr/bin";

/// The files `execvp` would try for `program`: itself when it names a path, else each
/// directory of `path` (or [`DEFAULT_PATH`]) joined with it, an empty entry meaning the
/// current directory. Empty for an empty program (`ENOENT`).
pub(super) fn search_paths(program: &[u8], path: Option<&[u8]>) -> Vec<CString> {
    if program.is_empty() {
        return Vec::new();
    }
    if program.contains(&b'/') {
        return CString::new(program).into_iter().collect();
    }
    path.unwrap_or(DEFAULT_PATH)
        .split(|&b| b == b':')
        .filter_map(|dir| {
            let mut full = dir.to_vec();
            if !dir.is_empty() {
                full.push(b'/');
            }
            full.extend_from_slice(program);
            CString::new(full).ok()
        })
        .collect()
}

/// The calling thread's `errno`.
pub(super) fn errno() -> i32 {
    io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// What the job's process reads between `clone` and `exec`, and the `errno` it leaves.
#[repr(C)]
pub(super) struct ChildArgs {
    pub(super) stdio: [libc::c_int; 3],
    /// A directory to change to first (a spawner's is `/`: batchrun's), or -1.
    pub(super) dir: libc::c_int,
    /// The job's own directory (relative to `dir`), or NULL.
    pub(super) cwd: *const libc::c_char,
    /// NULL-terminated.
    pub(super) paths: *const *const libc::c_char,
    pub(super) argv: *const *const libc::c_char,
    pub(super) envp: *const *const libc::c_char,
    /// Where a failed start leaves its `errno` (memory the parent shares).
    pub(super) err: *const AtomicI32,
    /// The CPUs to give the job back before `exec`, or NULL.
    pub(super) cpus: *const libc::cpu_set_t,
}

/// The job's process before `exec`: in its parent's memory, so it only makes system calls.
/// What `posix_spawnp` with batchrun's attributes did: a new process group, SIGPIPE and
/// SIGUSR1 back to their default action, no signal blocked, the three streams, the working
/// directory, then `execve` over the search path with `execvp`'s rules for errors. Never
/// returns: a failed start leaves its `errno` in `err` and exits with 127.
pub(super) extern "C" fn child(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is a `ChildArgs` alive while the parent is suspended (`CLONE_VFORK`);
    // every call below is a system call wrapper on this process.
    unsafe {
        let a = &mut *arg.cast::<ChildArgs>();
        let mut dfl: libc::sigaction = std::mem::zeroed();
        dfl.sa_sigaction = libc::SIG_DFL;
        for sig in [libc::SIGPIPE, libc::SIGUSR1, libc::SIGSEGV, libc::SIGBUS] {
            libc::sigaction(sig, &dfl, std::ptr::null_mut());
        }
        let fail = |a: &mut ChildArgs| -> libc::c_int {
            (*a.err).store(errno(), Ordering::Relaxed);
            libc::_exit(127)
        };
        if !a.cpus.is_null() {
            // Should the set no longer be allowed (a cpuset shrunk meanwhile), the job starts
            // anyway, on the worker's CPU.
            libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), a.cpus);
        }
        if libc::setpgid(0, 0) != 0 {
            return fail(a);
        }
        for (target, fd) in a.stdio.into_iter().enumerate() {
            if libc::dup2(fd, target as libc::c_int) < 0 {
                return fail(a);
            }
        }
        if (a.dir >= 0 && libc::fchdir(a.dir) != 0) || (!a.cwd.is_null() && libc::chdir(a.cwd) != 0)
        {
            return fail(a);
        }
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
        let mut err = libc::ENOENT;
        let mut eacces = false;
        let mut p = a.paths;
        while !(*p).is_null() {
            libc::execve(*p, a.argv, a.envp);
            err = errno();
            match err {
                libc::EACCES => eacces = true,
                libc::ENOENT | libc::ESTALE | libc::ENOTDIR | libc::ENODEV | libc::ETIMEDOUT => {}
                _ => break,
            }
            p = p.add(1);
        }
        let err = if eacces && (*p).is_null() {
            libc::EACCES
        } else {
            err
        };
        (*a.err).store(err, Ordering::Relaxed);
        libc::_exit(127)
    }
}

/// Starts a job's process from this thread as [`crate::util::sys::spawn`] does (new process
/// group, the three streams, `cwd`, `execvp`'s search of the `PATH` in `envp`), through
/// `clone3(CLONE_VM | CLONE_VFORK | CLONE_CLEAR_SIGHAND)` on a stack this thread keeps. A
/// failed `exec` is reaped here and returned as its error, as `posix_spawn` does. `None` when
/// this way is not available (see the module's documentation): the caller starts the job
/// another way.
pub(super) fn spawn(
    argv: &[&CStr],
    envp: &[&CStr],
    cwd: Option<&CStr>,
    stdio: [std::os::fd::BorrowedFd<'_>; 3],
) -> Option<io::Result<libc::pid_t>> {
    use std::os::fd::AsRawFd;
    if !clone3::available() {
        return None;
    }
    let path = envp
        .iter()
        .find_map(|v| v.to_bytes().strip_prefix(b"PATH="));
    let paths = search_paths(argv.first().map_or(&b""[..], |p| p.to_bytes()), path);
    let paths = CStrArray::new(paths.iter().map(CString::as_c_str));
    let (argv, envp) = (
        CStrArray::new(argv.iter().copied()),
        CStrArray::new(envp.iter().copied()),
    );
    let err = AtomicI32::new(0);
    let mut args = ChildArgs {
        stdio: stdio.map(|f| f.as_raw_fd()),
        dir: -1,
        cwd: cwd.map_or(std::ptr::null(), CStr::as_ptr),
        paths: paths.as_ptr(),
        argv: argv.as_ptr(),
        envp: envp.as_ptr(),
        err: &raw const err,
        cpus: std::ptr::null(),
    };
    let pid = clone3::vfork(&mut args)?;
    Some(pid.and_then(|pid| match err.load(Ordering::Relaxed) {
        0 => Ok(pid),
        e => {
            // The child exited with 127 without `exec`ing (it wrote `err` first): reap it.
            let _ = crate::util::sys::wait4(pid);
            Err(io::Error::from_raw_os_error(e))
        }
    }))
}

#[cfg(all(target_arch = "x86_64", not(batchrun_tsan)))]
mod clone3 {
    use std::cell::RefCell;
    use std::io;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::{child, ChildArgs, CHILD_STACK};

    /// Reset every handled signal to its default action in the child (Linux 5.5).
    const CLONE_CLEAR_SIGHAND: u64 = 0x1_0000_0000;

    /// Set once `clone3` or its flags were refused: the rest of the run uses `posix_spawn`.
    static REFUSED: AtomicBool = AtomicBool::new(false);

    /// A child's stack, mapped once per thread: only the pages a child touches (the top one
    /// or two) get memory, so `-j 300` costs no more than a few KiB a worker.
    struct Stack {
        base: *mut libc::c_void,
    }

    impl Stack {
        fn map() -> io::Result<Stack> {
            // SAFETY: a new private anonymous mapping; no existing memory is touched.
            let base = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    CHILD_STACK,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_STACK,
                    -1,
                    0,
                )
            };
            if base == libc::MAP_FAILED {
                return Err(io::Error::last_os_error());
            }
            Ok(Stack { base })
        }
    }

    impl Drop for Stack {
        fn drop(&mut self) {
            // SAFETY: the mapping made in `map`, used by no child once the thread ends.
            unsafe { libc::munmap(self.base, CHILD_STACK) };
        }
    }

    thread_local! {
        /// The child's stack: one per thread, used by one child at a time (the thread is
        /// suspended while it runs).
        static STACK: RefCell<Option<Stack>> = const { RefCell::new(None) };
    }

    /// `struct clone_args` up to `tls` (`CLONE_ARGS_SIZE_VER0`).
    #[repr(C)]
    #[derive(Default)]
    struct CloneArgs {
        flags: u64,
        pidfd: u64,
        child_tid: u64,
        parent_tid: u64,
        exit_signal: u64,
        stack: u64,
        stack_size: u64,
        tls: u64,
    }

    pub(super) fn available() -> bool {
        !REFUSED.load(Ordering::Relaxed)
    }

    /// Runs [`child`] with `args` in a new process that shares our memory, on this thread's
    /// stack for children, and returns once it has `exec`ed or exited. `None` (and every
    /// later call too) when the kernel refuses the call.
    pub(super) fn vfork(args: &mut ChildArgs) -> Option<io::Result<libc::pid_t>> {
        STACK.with_borrow_mut(|stack| {
            if stack.is_none() {
                match Stack::map() {
                    Ok(s) => *stack = Some(s),
                    Err(e) => return Some(Err(e)),
                }
            }
            // A page-aligned mapping: the child's stack pointer starts at its end.
            let base = stack.as_ref()?.base as u64;
            let size = CHILD_STACK as u64;
            let clone_args = CloneArgs {
                flags: libc::CLONE_VM as u64 | libc::CLONE_VFORK as u64 | CLONE_CLEAR_SIGHAND,
                exit_signal: libc::SIGCHLD as u64,
                stack: base,
                stack_size: size,
                ..CloneArgs::default()
            };
            let ret: i64;
            // SAFETY: every signal is blocked around the call, so none is handled on the
            // child's stack before the kernel has reset the handlers, and the child unblocks
            // them only just before `exec`. The child starts on its own stack (this thread's,
            // used by no one else while we are suspended), calls `child`, which never returns
            // (`ud2` otherwise), and touches only `args` and what it points to, alive here
            // until we resume. In the parent the call clobbers rax (the result), rcx and r11,
            // and leaves the stack alone.
            unsafe {
                let mut all: libc::sigset_t = std::mem::zeroed();
                let mut old: libc::sigset_t = std::mem::zeroed();
                libc::sigfillset(&mut all);
                libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
                std::arch::asm!(
                    "syscall",
                    "test rax, rax",
                    "jnz 2f",
                    "xor ebp, ebp",
                    "mov rdi, r12",
                    "call r13",
                    "ud2",
                    "2:",
                    inlateout("rax") libc::SYS_clone3 => ret,
                    in("rdi") &raw const clone_args,
                    in("rsi") size_of::<CloneArgs>(),
                    in("r12") std::ptr::from_mut(args),
                    in("r13") child as extern "C" fn(*mut libc::c_void) -> libc::c_int,
                    lateout("rcx") _,
                    lateout("r11") _,
                    options(nostack),
                );
                libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
            }
            match ret {
                pid if pid > 0 => Some(Ok(pid as libc::pid_t)),
                e if [libc::ENOSYS, libc::EPERM, libc::EINVAL].contains(&(-e as i32)) => {
                    REFUSED.store(true, Ordering::Relaxed);
                    None
                }
                e => Some(Err(io::Error::from_raw_os_error(-e as i32))),
            }
        })
    }
}

#[cfg(not(all(target_arch = "x86_64", not(batchrun_tsan))))]
mod clone3 {
    use super::ChildArgs;

    pub(super) fn available() -> bool {
        false
    }

    pub(super) fn vfork(_: &mut ChildArgs) -> Option<std::io::Result<libc::pid_t>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[CString]) -> Vec<&str> {
        v.iter().map(|s| s.to_str().unwrap()).collect()
    }

    #[test]
    fn a_bare_name_is_looked_up_in_the_jobs_path_as_execvp_does() {
        assert_eq!(
            names(&search_paths(b"tool", Some(b"/opt/bin::/usr/bin:"))),
            ["/opt/bin/tool", "tool", "/usr/bin/tool", "tool"]
        );
        assert_eq!(
            names(&search_paths(b"sh", None)),
            ["/bin/sh", "/usr/bin/sh"]
        );
        assert_eq!(names(&search_paths(b"./x", Some(b"/bin"))), ["./x"]);
        assert!(search_paths(b"", Some(b"/bin")).is_empty());
    }

    /// Starts `argv` with `clone3` (which must be available here), its stdout in a file.
    #[cfg(all(target_arch = "x86_64", not(batchrun_tsan)))]
    fn start(argv: &[&CStr], cwd: Option<&CStr>) -> (io::Result<libc::pid_t>, std::fs::File) {
        use std::os::fd::AsFd;
        let out = tempfile::tempfile().unwrap();
        let null = std::fs::File::open("/dev/null").unwrap();
        let envp = [c"PATH=/usr/bin:/bin", c"FOO=bar"];
        let stdio = [null.as_fd(), out.as_fd(), null.as_fd()];
        let started = spawn(argv, &envp, cwd, stdio).expect("clone3 is available on Linux 5.5+");
        (started, out)
    }

    #[test]
    #[cfg(all(target_arch = "x86_64", not(batchrun_tsan)))]
    fn a_job_started_with_clone3_gets_what_posix_spawn_gave_it() {
        use std::io::{Read, Seek};
        // SAFETY: plain data, initialised by sigemptyset; blocks SIGUSR2 in this thread only.
        let mut block: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        unsafe {
            libc::sigemptyset(&mut block);
            libc::sigaddset(&mut block, libc::SIGUSR2);
            libc::pthread_sigmask(libc::SIG_BLOCK, &block, std::ptr::null_mut());
        }
        let script = c"grep -E '^(Sig(Blk|Ign)|NSpgid):' /proc/self/status; pwd; echo $FOO";
        let (started, mut out) = start(&[c"sh", c"-c", script], Some(c"/usr"));
        // SAFETY: unblocks it again.
        unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &block, std::ptr::null_mut()) };
        let pid = started.unwrap();
        assert!(crate::util::sys::wait4(pid).unwrap().0.success());
        let mut text = String::new();
        out.rewind().unwrap();
        out.read_to_string(&mut text).unwrap();
        let field = |name: &str| {
            let line = text.lines().find_map(|l| l.strip_prefix(name)).unwrap();
            line.trim().to_string()
        };
        // No signal blocked (this thread blocks one), SIGPIPE not ignored (the test harness
        // ignores it), its own process group, the directory, the environment, `PATH` search.
        assert_eq!(field("SigBlk:"), "0000000000000000");
        let ignored = u64::from_str_radix(&field("SigIgn:"), 16).unwrap();
        assert_eq!(ignored & (1 << (libc::SIGPIPE - 1)), 0, "{text}");
        assert_eq!(field("NSpgid:"), pid.to_string());
        assert!(text.ends_with("\n/usr\nbar\n"), "{text}");
        assert!(clone3::available());
    }

    #[test]
    #[cfg(all(target_arch = "x86_64", not(batchrun_tsan)))]
    fn a_failed_exec_is_reaped_and_returned_with_execvps_error() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, text: &str, mode: u32| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            CString::new(path.into_os_string().into_encoded_bytes()).unwrap()
        };
        let no_shebang = file("script", "echo hi\n", 0o755);
        let not_executable = file("text", "hi\n", 0o644);
        for (program, errno) in [
            (c"/nonexistent/program", libc::ENOENT),
            (c"no-such-program-anywhere", libc::ENOENT),
            (not_executable.as_c_str(), libc::EACCES),
            (no_shebang.as_c_str(), libc::ENOEXEC),
        ] {
            let (started, _) = start(&[program], None);
            assert_eq!(
                started.unwrap_err().raw_os_error(),
                Some(errno),
                "{program:?}"
            );
        }
    }
}
