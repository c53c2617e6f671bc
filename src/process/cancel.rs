/*!
Cooperative cancellation: a [`CancelToken`] handed to every worker, and the signal source that
feeds it.

The token has two levels, as a careful Unix tool does on Ctrl+C:

* **stop** — nothing new starts; running jobs finish. Workers check it before each job.
* **terminate** — running jobs are terminated (SIGTERM, then SIGKILL after the grace time).
  Reaching it also makes an eventfd readable, which wakes every worker blocked in `ppoll` on
  its job, so cancellation is seen within microseconds and nobody polls a flag.

Signals never touch the token directly: [`crate::process::signals`] turns them into messages on
a channel, and the dispatcher (the one owner of run state) decides what a signal means. Tests
send on that channel, or call the token, without any real signal.
*/

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

const RUNNING: u8 = 0;
const STOPPING: u8 = 1;
const TERMINATING: u8 = 2;

/// A cloneable cancellation token shared by the dispatcher and every worker.
///
/// # Examples
///
/// ```
/// let token = batchrun::CancelToken::new().unwrap();
/// assert!(!token.is_stopped());
/// token.stop();
/// assert!(token.is_stopped() && !token.is_terminating());
/// token.terminate();
/// assert!(token.is_terminating());
/// ```
#[derive(Clone, Debug)]
pub struct CancelToken {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// `RUNNING`, `STOPPING` or `TERMINATING`; only ever raised.
    level: AtomicU8,
    /// Readable once the token reaches `TERMINATING`; workers include it in their `ppoll`.
    wake: OwnedFd,
}

impl CancelToken {
    /// A fresh token at the running level.
    pub fn new() -> std::io::Result<Self> {
        Ok(Self {
            inner: Arc::new(Inner {
                level: AtomicU8::new(RUNNING),
                wake: crate::util::sys::eventfd()?,
            }),
        })
    }

    /// Nothing new may start. Returns true if this call raised the level.
    pub fn stop(&self) -> bool {
        self.inner.level.fetch_max(STOPPING, Ordering::SeqCst) < STOPPING
    }

    /// Running jobs must be terminated (implies [`stop`](Self::stop)); wakes every waiter.
    /// Returns true if this call raised the level.
    pub fn terminate(&self) -> bool {
        let before = self.inner.level.fetch_max(TERMINATING, Ordering::SeqCst);
        crate::util::sys::eventfd_signal(self.inner.wake.as_fd());
        before < TERMINATING
    }

    /// True once [`stop`](Self::stop) or [`terminate`](Self::terminate) was called.
    pub fn is_stopped(&self) -> bool {
        self.inner.level.load(Ordering::SeqCst) >= STOPPING
    }

    /// True once [`terminate`](Self::terminate) was called.
    pub fn is_terminating(&self) -> bool {
        self.inner.level.load(Ordering::SeqCst) >= TERMINATING
    }

    /// A descriptor that becomes readable when the token reaches the terminate level.
    pub fn wake_fd(&self) -> BorrowedFd<'_> {
        self.inner.wake.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn levels_only_rise() {
        let t = CancelToken::new().unwrap();
        assert!(t.terminate());
        assert!(!t.stop());
        assert!(t.is_terminating() && t.is_stopped());
        assert!(!t.terminate());
    }

    #[test]
    fn terminate_wakes_a_blocked_waiter() {
        let t = CancelToken::new().unwrap();
        let t2 = t.clone();
        let waiter = std::thread::spawn(move || {
            crate::util::sys::wait_readable(&[t2.wake_fd()], Some(Duration::from_secs(30))).unwrap()
        });
        t.stop();
        t.terminate();
        assert_eq!(waiter.join().unwrap(), vec![true]);
    }

    #[test]
    fn stop_does_not_wake_waiters() {
        let t = CancelToken::new().unwrap();
        t.stop();
        let r = crate::util::sys::wait_readable(&[t.wake_fd()], Some(Duration::from_millis(20)))
            .unwrap();
        assert_eq!(r, vec![false]);
    }
}
