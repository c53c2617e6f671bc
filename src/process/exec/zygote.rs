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
kind byte, then for [`SPAWN`] the asking worker's CPU (`u32`, all ones for none; see
[`Placement`]), two `u32` counts (arguments, variables), a byte saying whether a directory
follows, and the NUL-terminated strings in that order; four descriptors ride along
(`SCM_RIGHTS`): stdin, stdout, stderr and batchrun's working directory. [`CLONE`] carries the
new spawner's [`Slot`] number (`u32`), no strings and no descriptors; the zygote's reply is two
`i32`s, a pid (or -1) and an `errno` (or 0), with the new spawner's socket.

A [`SPAWN`] has no reply on the socket: its outcome is in the spawner's [`Slot`], memory that
batchrun and every helper share (mapped before the zygote is forked). The job's process is
made with `CLONE_PARENT_SETTID`, so the kernel writes its pid there, and with
`CLONE_CHILD_CLEARTID`, so the kernel zeroes the slot's `busy` word and wakes the worker
waiting on it (a futex) when the process has `exec`ed or died. The worker is woken by the
job's `exec` itself, as by a `vfork` of its own, not by the spawner after it: one wake-up
fewer on the way to every job's start.
*/

use std::ffi::{CStr, CString};
use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::time::Duration;

use super::child::{child, errno, search_paths, ChildArgs, CHILD_STACK};
use crate::util::sys::CStrArray;
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

/// Where a spawner leaves the outcome of a start for the worker that asked: in memory shared
/// by batchrun and its helpers ([`map_slots`]), one cache line per spawner.
#[derive(Debug)]
#[repr(C, align(64))]
pub(super) struct Slot {
    /// Non-zero while a start is under way. The kernel zeroes it and wakes the waiter when the
    /// job's process has `exec`ed or died (`CLONE_CHILD_CLEARTID`); the spawner does so itself
    /// when it made no process.
    busy: AtomicU32,
    /// The job's pid, written by the kernel (`CLONE_PARENT_SETTID`), or -1.
    pid: AtomicI32,
    /// The `errno` of a start that failed, or 0.
    err: AtomicI32,
}

/// Maps `n` zeroed [`Slot`]s shared with every process forked from this one afterwards. They
/// stay mapped for the life of the process.
pub(super) fn map_slots(n: usize) -> io::Result<&'static [Slot]> {
    let len = n.max(1) * size_of::<Slot>();
    // SAFETY: a new anonymous mapping, placed by the kernel, touched by no one else.
    let at = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if at == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the mapping is page-aligned, zeroed (a valid `Slot`: atomics at 0) and never
    // unmapped, so `'static` holds.
    Ok(unsafe { std::slice::from_raw_parts(at.cast::<Slot>(), n.max(1)) })
}

impl Slot {
    /// batchrun's side, before it sends a [`SPAWN`]: a start is under way.
    pub(super) fn begin(&self) {
        self.pid.store(0, Ordering::Relaxed);
        self.err.store(0, Ordering::Relaxed);
        self.busy.store(1, Ordering::Release);
    }

    /// batchrun's side: waits up to `timeout` for the start to end; its [`Reply`] if it did.
    pub(super) fn wait(&self, timeout: Duration) -> Option<Reply> {
        let ts = libc::timespec {
            tv_sec: timeout.as_secs() as libc::time_t,
            tv_nsec: libc::c_long::from(timeout.subsec_nanos() as i32),
        };
        if self.busy.load(Ordering::Acquire) != 0 {
            // SAFETY: a shared futex wait (the kernel's wake at `exec` is not private) on a
            // live word; it returns at once if the word is no longer 1.
            unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    self.busy.as_ptr(),
                    libc::FUTEX_WAIT,
                    1u32,
                    &raw const ts,
                    std::ptr::null::<u32>(),
                    0u32,
                );
            }
        }
        (self.busy.load(Ordering::Acquire) == 0).then(|| {
            (
                self.pid.load(Ordering::Relaxed),
                self.err.load(Ordering::Relaxed),
            )
        })
    }

    /// The spawner's side when it made no process: the outcome, and the waiter woken.
    fn finish(&self, (pid, err): Reply) {
        self.pid.store(pid, Ordering::Relaxed);
        self.err.store(err, Ordering::Relaxed);
        self.busy.store(0, Ordering::Release);
        // SAFETY: a shared futex wake on a live word.
        unsafe {
            libc::syscall(libc::SYS_futex, self.busy.as_ptr(), libc::FUTEX_WAKE, 1u32);
        }
    }
}

/// Appends a [`SPAWN`] request for `argv`, `envp` and `cwd` to `buf` (emptied first), asked
/// from `cpu` (see [`Decoded::cpu`]).
pub(super) fn encode_spawn(
    buf: &mut Vec<u8>,
    argv: &[&CStr],
    envp: &[&CStr],
    cwd: Option<&CStr>,
    cpu: Option<u32>,
) {
    buf.clear();
    buf.extend_from_slice(&[0; 4]);
    buf.push(SPAWN);
    buf.extend_from_slice(&cpu.unwrap_or(u32::MAX).to_ne_bytes());
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
pub(super) struct Decoded<'a> {
    /// `argv`.
    argv: CStrArray<'a>,
    /// `envp`.
    envp: CStrArray<'a>,
    /// The job's own directory, relative to batchrun's.
    cwd: Option<&'a CStr>,
    /// Where to look for the program, in order (`execvp`'s `PATH` search).
    paths: Vec<CString>,
    /// The CPU of the worker that asks (see [`Placement`]).
    cpu: Option<u32>,
}

/// Reads the body of a [`SPAWN`] request; `None` when it is malformed. The strings are
/// borrowed from `body`.
pub(super) fn decode_spawn(body: &[u8]) -> Option<Decoded<'_>> {
    let (&kind, rest) = body.split_first()?;
    if kind != SPAWN || rest.len() < 13 {
        return None;
    }
    let cpu = u32::from_ne_bytes(rest[..4].try_into().ok()?);
    let rest = &rest[4..];
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
    let env = &all[nargs..nargs + nenv];
    let path_var = env.iter().find_map(|v| v.to_bytes().strip_prefix(b"PATH="));
    Some(Decoded {
        argv: CStrArray::new(all[..nargs].iter().copied()),
        envp: CStrArray::new(env.iter().copied()),
        cwd: has_cwd.then(|| all[nargs + nenv]),
        paths: search_paths(all[0].to_bytes(), path_var),
        cpu: (cpu != u32::MAX).then_some(cpu),
    })
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

/// The zygote's life: make spawners, each with one of `slots`, until batchrun closes `sock`.
/// Runs in a process just forked from batchrun's single thread; never returns.
pub(super) fn serve_zygote(sock: OwnedFd, parent: libc::pid_t, slots: &'static [Slot]) -> ! {
    become_helper(parent);
    let mut body = Vec::new();
    let mut fds = Vec::new();
    while let Ok(true) = read_request(sock.as_fd(), &mut body, &mut fds) {
        fds.clear();
        let slot = match body.as_slice() {
            [CLONE, n @ ..] => <[u8; 4]>::try_from(n)
                .ok()
                .and_then(|n| slots.get(u32::from_ne_bytes(n) as usize)),
            _ => None,
        };
        let sent = match slot {
            Some(slot) => clone_spawner(&sock, parent, slot),
            None => reply(sock.as_fd(), (-1, libc::EINVAL), None),
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
fn clone_spawner(zygote: &OwnedFd, parent: libc::pid_t, slot: &'static Slot) -> io::Result<()> {
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
        serve_spawner(ours, parent, slot);
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

/// A spawner's life: start jobs until batchrun closes `sock`, each start's outcome in `slot`;
/// never returns.
fn serve_spawner(sock: OwnedFd, parent: libc::pid_t, slot: &Slot) -> ! {
    become_helper(parent);
    let mut body = Vec::new();
    let mut fds = Vec::new();
    let mut stack = vec![0u8; CHILD_STACK];
    let mut place = Placement::new();
    loop {
        fds.clear();
        match read_request(sock.as_fd(), &mut body, &mut fds) {
            Ok(true) => match (decode_spawn(&body), fds.as_slice()) {
                (Some(req), [stdin, stdout, stderr, dir]) => {
                    place.follow(req.cpu);
                    let stdio = [stdin, stdout, stderr];
                    start_job(&req, stdio, dir, &mut stack, slot, place.own());
                }
                _ => slot.finish((-1, libc::EINVAL)),
            },
            Ok(false) => break,
            // Descriptors cut off: the request was read whole, the next one starts in step.
            Err(e) if e.raw_os_error() == truncated().raw_os_error() => {
                slot.finish((-1, libc::EMFILE));
            }
            Err(e) => {
                slot.finish((-1, e.raw_os_error().unwrap_or(libc::EIO)));
                break;
            }
        }
    }
    // SAFETY: as in `serve_zygote`.
    unsafe { libc::_exit(0) }
}

/// Where a spawner runs: bound to the CPU of the worker that asked last, so that the worker's
/// next request wakes it there, where the worker is about to wait. Unbound, Linux wakes it on
/// whichever CPU is idle, its job then runs and ends there, and the worker is woken across
/// CPUs: on a VM, where waking an idle CPU costs tens of µs, W1 took 1.33× the floor's time
/// against 1.06× bound. A job gets the spawner's own CPUs back before `exec`.
struct Placement {
    /// The CPUs this spawner was given (batchrun's at start).
    own: libc::cpu_set_t,
    /// Whether `own` was read (nothing is bound otherwise).
    known: bool,
    /// The one CPU the spawner is bound to, if any.
    bound: Option<u32>,
}

impl Placement {
    fn new() -> Placement {
        // SAFETY: a plain bit set for the kernel to fill, of the size given.
        unsafe {
            let mut own: libc::cpu_set_t = std::mem::zeroed();
            let known = libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut own) == 0;
            Placement {
                own,
                known,
                bound: None,
            }
        }
    }

    /// Binds this spawner to `cpu` (back to its own CPUs for `None`) unless it is so already.
    fn follow(&mut self, cpu: Option<u32>) {
        if !self.known || cpu == self.bound {
            return;
        }
        let set = match cpu {
            Some(c) if (c as usize) < libc::CPU_SETSIZE as usize => {
                // SAFETY: a plain bit set, and a CPU number within it.
                unsafe {
                    let mut one: libc::cpu_set_t = std::mem::zeroed();
                    libc::CPU_SET(c as usize, &mut one);
                    one
                }
            }
            _ => self.own,
        };
        // SAFETY: `set` is a `cpu_set_t` of the size given.
        let done = unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) } == 0;
        self.bound = if done { cpu } else { None };
    }

    /// The CPUs a job must get back, when this spawner is bound to one.
    fn own(&self) -> Option<&libc::cpu_set_t> {
        self.bound.is_some().then_some(&self.own)
    }
}

/// Starts one job: `clone` shares this process's memory and suspends it until the child has
/// `exec`ed or failed. `slot` gets the child's pid and the `errno` of a failed start (the
/// child then exited with 127 and batchrun reaps it), or -1 and the `errno` if no child was
/// made.
fn start_job(
    req: &Decoded<'_>,
    stdio: [&OwnedFd; 3],
    dir: &OwnedFd,
    stack: &mut [u8],
    slot: &Slot,
    cpus: Option<&libc::cpu_set_t>,
) {
    let mut paths: Vec<*const libc::c_char> = req.paths.iter().map(|p| p.as_ptr()).collect();
    paths.push(std::ptr::null());
    let mut args = ChildArgs {
        stdio: stdio.map(|f| f.as_raw_fd()),
        dir: dir.as_raw_fd(),
        cwd: req.cwd.map_or(std::ptr::null(), CStr::as_ptr),
        paths: paths.as_ptr(),
        argv: req.argv.as_ptr(),
        envp: req.envp.as_ptr(),
        err: &raw const slot.err,
        cpus: cpus.map_or(std::ptr::null(), std::ptr::from_ref),
    };
    // SAFETY: the stack is ours and unused while the child runs (CLONE_VFORK suspends us);
    // every pointer in `args` is live until `clone` returns, and the slot's words (where the
    // kernel writes the pid and zeroes `busy`) for the life of the process. All signals are
    // blocked around `clone` so no handler of ours runs on the child's stack.
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
            libc::CLONE_VM
                | libc::CLONE_VFORK
                | libc::CLONE_PARENT
                | libc::CLONE_PARENT_SETTID
                | libc::CLONE_CHILD_CLEARTID
                | libc::SIGCHLD,
            (&raw mut args).cast(),
            slot.pid.as_ptr(),
            std::ptr::null_mut::<libc::c_void>(),
            slot.busy.as_ptr(),
        );
        let clone_err = errno();
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        if pid < 0 {
            slot.finish((-1, clone_err));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_says_when_its_start_ends_and_what_came_of_it() {
        let slot = &map_slots(1).unwrap()[0];
        slot.begin();
        assert_eq!(slot.wait(Duration::from_millis(5)), None);
        std::thread::scope(|s| {
            s.spawn(|| slot.finish((42, libc::ENOENT)));
            let reply = loop {
                if let Some(r) = slot.wait(Duration::from_secs(1)) {
                    break r;
                }
            };
            assert_eq!(reply, (42, libc::ENOENT));
        });
        // The next start begins afresh.
        slot.begin();
        assert_eq!(slot.wait(Duration::ZERO), None);
    }

    #[test]
    fn a_request_reads_back_as_it_was_written() {
        let argv = [c"/bin/echo", c"a b", c""];
        let envp = [c"PATH=/x", c"A=1", c"PATH=/y"];
        let mut buf = Vec::new();
        encode_spawn(&mut buf, &argv, &envp, Some(c"sub"), Some(3));
        let len = u32::from_ne_bytes(buf[..4].try_into().unwrap()) as usize;
        assert_eq!(len, buf.len() - 4);
        let d = decode_spawn(&buf[4..]).unwrap();
        assert!(d.argv.iter().eq(argv));
        assert!(d.envp.iter().eq(envp));
        assert_eq!(d.cwd, Some(c"sub"));
        assert_eq!(d.paths, [c"/bin/echo".to_owned()]);
        assert_eq!(d.cpu, Some(3));

        encode_spawn(&mut buf, &[c"tool"], &envp, None, None);
        let d = decode_spawn(&buf[4..]).unwrap();
        assert_eq!(d.cpu, None);
        assert!(d.cwd.is_none());
        // The first PATH, as getenv would find it in a block where it is set twice.
        assert_eq!(d.paths, [c"/x/tool".to_owned()]);
        // Cut short, or with a count that does not match: refused, not misread.
        assert!(decode_spawn(&buf[4..buf.len() - 1]).is_none());
        assert!(decode_spawn(&buf[4..10]).is_none());
    }
}
