/*!
The spawner processes' side: small processes that start jobs for batchrun so that a job's
`max_rss_kib` is its own peak, not batchrun's.

At `exec` Linux keeps the old memory image's high-water mark in the new program's
`ru_maxrss`. A job started from batchrun (`posix_spawn`'s `vfork`, or a `fork`) would carry
batchrun's own peak, which a manifest of 150,000 rows makes tens of MiB. So the first thing
`main` does is fork a **zygote** (before it has parsed a flag or read a row, while it is a few
hundred KiB), and each worker asks a **spawner**, made by the zygote on demand, to start its
jobs. A spawner calls `clone(CLONE_VM | CLONE_VFORK | CLONE_PARENT)`: the child runs in the
spawner's small image until it `exec`s, and it is batchrun's child, not the spawner's, so
batchrun waits for it, signals its group and reaps it exactly as before.

Every process here is single-threaded, in a process group of its own (a Ctrl+C meant for
batchrun does not reach it), with `/` as its directory and `/dev/null` as its standard
streams; it dies with batchrun (`PR_SET_PDEATHSIG`) and exits when its socket closes.

# Wire format

A request is `[u32 length][body]` on a Unix stream socket, native byte order. The body is a
kind byte, then for [`SPAWN`] two `u32` counts (arguments, variables), a byte saying whether a
directory follows, and the NUL-terminated strings in that order; four descriptors ride along
(`SCM_RIGHTS`): stdin, stdout, stderr and batchrun's working directory. [`CLONE`] has no
strings and no descriptors. The reply is two `i32`s, a pid (or -1) and an `errno` (or 0); a
clone's reply carries the new spawner's socket.
*/

use std::ffi::{CStr, CString};
use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use rustix::net::{
    recvmsg, sendmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags,
    SendAncillaryBuffer, SendAncillaryMessage, SendFlags,
};

/// Start a job.
pub(super) const SPAWN: u8 = 1;
/// Make another spawner (asked of the zygote).
pub(super) const CLONE: u8 = 2;

/// The descriptors a [`SPAWN`] carries.
pub(super) const SPAWN_FDS: usize = 4;

/// A reply: the pid (or -1) and the `errno` (or 0).
pub(super) type Reply = (libc::pid_t, i32);

/// The stack of a job's process between `clone` and `exec` (it only makes system calls).
const CHILD_STACK: usize = 64 * 1024;

/// The `PATH` a search uses when the job's environment has none (glibc's `posix_spawnp`).
const DEFAULT_PATH: &[u8] = b"/bin:/usr/bin";

/// Appends a [`SPAWN`] request for `argv`, `envp` and `cwd` to `buf` (emptied first).
pub(super) fn encode_spawn(buf: &mut Vec<u8>, argv: &[&CStr], envp: &[&CStr], cwd: Option<&CStr>) {
    buf.clear();
    buf.extend_from_slice(&[0; 4]);
    buf.push(SPAWN);
    buf.extend_from_slice(&(argv.len() as u32).to_ne_bytes());
    buf.extend_from_slice(&(envp.len() as u32).to_ne_bytes());
    buf.push(u8::from(cwd.is_some()));
    for s in argv.iter().chain(envp).chain(&cwd) {
        buf.extend_from_slice(s.to_bytes_with_nul());
    }
    let len = (buf.len() - 4) as u32;
    buf[..4].copy_from_slice(&len.to_ne_bytes());
}

/// A [`SPAWN`] request read back: pointers into its body, ready for `execve`.
#[derive(Debug)]
pub(super) struct Decoded {
    /// `argv`, NULL-terminated.
    argv: Vec<*const libc::c_char>,
    /// `envp`, NULL-terminated.
    envp: Vec<*const libc::c_char>,
    /// The job's own directory, relative to batchrun's.
    cwd: Option<*const libc::c_char>,
    /// Where to look for the program, in order (`execvp`'s `PATH` search).
    paths: Vec<CString>,
}

/// Reads the body of a [`SPAWN`] request; `None` when it is malformed. The pointers point
/// into `body`, which must outlive the result unchanged.
pub(super) fn decode_spawn(body: &[u8]) -> Option<Decoded> {
    let (&kind, rest) = body.split_first()?;
    if kind != SPAWN || rest.len() < 9 {
        return None;
    }
    let nargs = u32::from_ne_bytes(rest[..4].try_into().ok()?) as usize;
    let nenv = u32::from_ne_bytes(rest[4..8].try_into().ok()?) as usize;
    let has_cwd = rest[8] == 1;
    let strings = &rest[9..];
    let mut all = Vec::with_capacity(nargs + nenv + 1);
    let mut at = 0;
    while at < strings.len() {
        let s = CStr::from_bytes_until_nul(&strings[at..]).ok()?;
        all.push(s);
        at += s.to_bytes_with_nul().len();
    }
    if all.len() != nargs + nenv + usize::from(has_cwd) || nargs == 0 {
        return None;
    }
    let ptrs = |v: &[&CStr]| {
        let mut p: Vec<*const libc::c_char> = v.iter().map(|s| s.as_ptr()).collect();
        p.push(std::ptr::null());
        p
    };
    let env = &all[nargs..nargs + nenv];
    let path_var = env.iter().find_map(|v| v.to_bytes().strip_prefix(b"PATH="));
    Some(Decoded {
        argv: ptrs(&all[..nargs]),
        envp: ptrs(env),
        cwd: has_cwd.then(|| all[nargs + nenv].as_ptr()),
        paths: search_paths(all[0].to_bytes(), path_var),
    })
}

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

/// A connected pair of Unix stream sockets, closed on `exec`.
pub(super) fn socketpair() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(rustix::net::socketpair(
        rustix::net::AddressFamily::UNIX,
        rustix::net::SocketType::STREAM,
        rustix::net::SocketFlags::CLOEXEC,
        None,
    )?)
}

/// Sends `bytes` and, with the first of them, `fds`.
pub(super) fn send(sock: BorrowedFd<'_>, bytes: &[u8], fds: &[BorrowedFd<'_>]) -> io::Result<()> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(SPAWN_FDS))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() && !control.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let mut sent = 0;
    while sent < bytes.len() {
        match sendmsg(
            sock,
            &[IoSlice::new(&bytes[sent..])],
            &mut control,
            SendFlags::NOSIGNAL,
        ) {
            Ok(n) => {
                sent += n;
                control = SendAncillaryBuffer::default();
            }
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Fills `buf` from `sock`, taking the descriptors that come with the bytes into `fds`
/// (closed on `exec`). `Ok(None)` at the end of the stream before any byte; otherwise whether
/// descriptors were cut off for want of room (`MSG_CTRUNC`).
pub(super) fn recv(
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
    fds: &mut Vec<OwnedFd>,
) -> io::Result<Option<bool>> {
    let mut got = 0;
    let mut truncated = false;
    while got < buf.len() {
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(SPAWN_FDS))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let msg = match recvmsg(
            sock,
            &mut [IoSliceMut::new(&mut buf[got..])],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        ) {
            Ok(m) => m,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        };
        for m in control.drain() {
            if let RecvAncillaryMessage::ScmRights(received) = m {
                fds.extend(received);
            }
        }
        truncated |= msg.flags.contains(ReturnFlags::CTRUNC);
        if msg.bytes == 0 {
            if got == 0 {
                return Ok(None);
            }
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        got += msg.bytes;
    }
    Ok(Some(truncated))
}

/// The error for descriptors that did not fit (this process has no descriptor free).
pub(super) fn truncated() -> io::Error {
    io::Error::from_raw_os_error(libc::EMFILE)
}

/// Reads one whole request into `body` (so the next one starts in step, whatever happened to
/// this one's descriptors); `Ok(false)` when batchrun closed the socket.
fn read_request(
    sock: BorrowedFd<'_>,
    body: &mut Vec<u8>,
    fds: &mut Vec<OwnedFd>,
) -> io::Result<bool> {
    let mut len = [0u8; 4];
    let Some(cut) = recv(sock, &mut len, fds)? else {
        return Ok(false);
    };
    body.resize(u32::from_ne_bytes(len) as usize, 0);
    let cut = cut | recv(sock, body, fds)?.ok_or(io::ErrorKind::UnexpectedEof)?;
    if cut {
        return Err(truncated());
    }
    Ok(true)
}

/// Sends a reply, with `fd` if there is one.
fn reply(sock: BorrowedFd<'_>, (pid, err): Reply, fd: Option<BorrowedFd<'_>>) -> io::Result<()> {
    let mut bytes = [0u8; 8];
    bytes[..4].copy_from_slice(&pid.to_ne_bytes());
    bytes[4..].copy_from_slice(&err.to_ne_bytes());
    send(sock, &bytes, fd.as_slice())
}

/// The calling thread's `errno`.
fn errno() -> i32 {
    io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// Makes this fresh process a quiet helper of batchrun (`parent`): dies with it, leaves the
/// terminal's signals and batchrun's directory and streams alone, and may open as many files
/// as batchrun (jobs inherit the limit, as they did from batchrun).
fn become_helper(parent: libc::pid_t) {
    // SAFETY: plain system calls on this process; the path is a C string literal.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
        if libc::getppid() != parent {
            libc::_exit(0);
        }
        libc::setpgid(0, 0);
        libc::chdir(c"/".as_ptr());
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
        if null >= 0 {
            for fd in 0..3 {
                libc::dup2(null, fd);
            }
            if null > 2 {
                libc::close(null);
            }
        }
    }
    let _ = crate::util::sys::raise_nofile_limit();
}

/// The zygote's life: make spawners until batchrun closes `sock`. Runs in a process just
/// forked from batchrun's single thread; never returns.
pub(super) fn serve_zygote(sock: OwnedFd, parent: libc::pid_t) -> ! {
    become_helper(parent);
    let mut body = Vec::new();
    let mut fds = Vec::new();
    while let Ok(true) = read_request(sock.as_fd(), &mut body, &mut fds) {
        fds.clear();
        let sent = if body.first() == Some(&CLONE) {
            clone_spawner(&sock, parent)
        } else {
            reply(sock.as_fd(), (-1, libc::EINVAL), None)
        };
        if sent.is_err() {
            break;
        }
    }
    // SAFETY: ends this process without running anything of batchrun's.
    unsafe { libc::_exit(0) }
}

/// Makes a spawner as batchrun's child (`CLONE_PARENT`, so its jobs are batchrun's children
/// too) and sends batchrun its socket.
fn clone_spawner(zygote: &OwnedFd, parent: libc::pid_t) -> io::Result<()> {
    let (ours, theirs) = match socketpair() {
        Ok(pair) => pair,
        Err(e) => {
            return reply(
                zygote.as_fd(),
                (-1, e.raw_os_error().unwrap_or(libc::EIO)),
                None,
            )
        }
    };
    // SAFETY: a fork (no stack given: the child runs on a copy of this one) of a
    // single-threaded process; the child only runs this module's code.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            libc::CLONE_PARENT | libc::SIGCHLD,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    if pid == 0 {
        // SAFETY: closes the zygote's socket in this new process only.
        unsafe { libc::close(zygote.as_raw_fd()) };
        drop(theirs);
        serve_spawner(ours, parent);
    }
    drop(ours);
    if pid < 0 {
        return reply(zygote.as_fd(), (-1, errno()), None);
    }
    reply(
        zygote.as_fd(),
        (pid as libc::pid_t, 0),
        Some(theirs.as_fd()),
    )
}

/// A spawner's life: start jobs until batchrun closes `sock`; never returns.
fn serve_spawner(sock: OwnedFd, parent: libc::pid_t) -> ! {
    become_helper(parent);
    let mut body = Vec::new();
    let mut fds = Vec::new();
    let mut stack = vec![0u8; CHILD_STACK];
    loop {
        fds.clear();
        let answer = match read_request(sock.as_fd(), &mut body, &mut fds) {
            Ok(true) => match (decode_spawn(&body), fds.as_slice()) {
                (Some(req), [stdin, stdout, stderr, dir]) => {
                    start_job(&req, [stdin, stdout, stderr], dir, &mut stack)
                }
                _ => (-1, libc::EINVAL),
            },
            Ok(false) => break,
            Err(e) => (-1, e.raw_os_error().unwrap_or(libc::EIO)),
        };
        fds.clear();
        if reply(sock.as_fd(), answer, None).is_err() {
            break;
        }
    }
    // SAFETY: as in `serve_zygote`.
    unsafe { libc::_exit(0) }
}

/// What the job's process reads between `clone` and `exec`, and the `errno` it leaves.
#[repr(C)]
struct ChildArgs {
    stdio: [libc::c_int; 3],
    dir: libc::c_int,
    cwd: *const libc::c_char,
    /// NULL-terminated.
    paths: *const *const libc::c_char,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
    err: libc::c_int,
}

/// Starts one job: `clone` shares this process's memory and suspends it until the child has
/// `exec`ed or failed. Returns the child's pid and the `errno` of a failed start (the child
/// then exited with 127 and batchrun reaps it), or -1 if no child was made.
fn start_job(req: &Decoded, stdio: [&OwnedFd; 3], dir: &OwnedFd, stack: &mut [u8]) -> Reply {
    let mut paths: Vec<*const libc::c_char> = req.paths.iter().map(|p| p.as_ptr()).collect();
    paths.push(std::ptr::null());
    let mut args = ChildArgs {
        stdio: stdio.map(|f| f.as_raw_fd()),
        dir: dir.as_raw_fd(),
        cwd: req.cwd.unwrap_or(std::ptr::null()),
        paths: paths.as_ptr(),
        argv: req.argv.as_ptr(),
        envp: req.envp.as_ptr(),
        err: 0,
    };
    // SAFETY: the stack is ours and unused while the child runs (CLONE_VFORK suspends us);
    // every pointer in `args` is live until `clone` returns. All signals are blocked around
    // `clone` so no handler of ours runs on the child's stack.
    unsafe {
        let end = stack.as_mut_ptr().add(stack.len());
        let top = end.sub(end as usize % 16).cast::<libc::c_void>();
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        let pid = libc::clone(
            child,
            top,
            libc::CLONE_VM | libc::CLONE_VFORK | libc::CLONE_PARENT | libc::SIGCHLD,
            (&raw mut args).cast(),
        );
        let clone_err = errno();
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        if pid < 0 {
            (-1, clone_err)
        } else {
            (pid, std::ptr::read_volatile(&args.err))
        }
    }
}

/// The job's process before `exec`: in this spawner's memory, so it only makes system calls.
/// What `posix_spawnp` with batchrun's attributes did: a new process group, SIGPIPE and
/// SIGUSR1 back to their default action, no signal blocked, the three streams, the working
/// directory, then `execve` over the search path with `execvp`'s rules for errors.
extern "C" fn child(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the `ChildArgs` of `start_job`, alive while the parent is suspended;
    // every call below is a system call wrapper on this process.
    unsafe {
        let a = &mut *arg.cast::<ChildArgs>();
        let mut dfl: libc::sigaction = std::mem::zeroed();
        dfl.sa_sigaction = libc::SIG_DFL;
        for sig in [libc::SIGPIPE, libc::SIGUSR1, libc::SIGSEGV, libc::SIGBUS] {
            libc::sigaction(sig, &dfl, std::ptr::null_mut());
        }
        let fail = |a: &mut ChildArgs| -> libc::c_int {
            a.err = errno();
            libc::_exit(127)
        };
        if libc::setpgid(0, 0) != 0 {
            return fail(a);
        }
        for (target, fd) in a.stdio.into_iter().enumerate() {
            if libc::dup2(fd, target as libc::c_int) < 0 {
                return fail(a);
            }
        }
        if libc::fchdir(a.dir) != 0 || (!a.cwd.is_null() && libc::chdir(a.cwd) != 0) {
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
        a.err = if eacces && (*p).is_null() {
            libc::EACCES
        } else {
            err
        };
        libc::_exit(127)
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

    #[test]
    fn a_request_reads_back_as_it_was_written() {
        let argv = [c"/bin/echo", c"a b", c""];
        let envp = [c"PATH=/x", c"A=1", c"PATH=/y"];
        let mut buf = Vec::new();
        encode_spawn(&mut buf, &argv, &envp, Some(c"sub"));
        let len = u32::from_ne_bytes(buf[..4].try_into().unwrap()) as usize;
        assert_eq!(len, buf.len() - 4);
        let d = decode_spawn(&buf[4..]).unwrap();
        // SAFETY: the pointers point into `buf`, alive and unchanged.
        let read = |p: &[*const libc::c_char]| -> Vec<String> {
            p[..p.len() - 1]
                .iter()
                .map(|&s| unsafe { CStr::from_ptr(s) }.to_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(read(&d.argv), ["/bin/echo", "a b", ""]);
        assert_eq!(read(&d.envp), ["PATH=/x", "A=1", "PATH=/y"]);
        assert!(d.argv.last().unwrap().is_null() && d.envp.last().unwrap().is_null());
        // SAFETY: as above.
        assert_eq!(unsafe { CStr::from_ptr(d.cwd.unwrap()) }, c"sub");
        assert_eq!(names(&d.paths), ["/bin/echo"]);

        encode_spawn(&mut buf, &[c"tool"], &envp, None);
        let d = decode_spawn(&buf[4..]).unwrap();
        assert!(d.cwd.is_none());
        // The first PATH, as getenv would find it in a block where it is set twice.
        assert_eq!(names(&d.paths), ["/x/tool"]);
        // Cut short, or with a count that does not match: refused, not misread.
        assert!(decode_spawn(&buf[4..buf.len() - 1]).is_none());
        assert!(decode_spawn(&buf[4..10]).is_none());
    }
}
