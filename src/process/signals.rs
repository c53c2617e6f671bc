/*!
The one signal source: SIGINT, SIGTERM, SIGHUP and SIGUSR1, caught on one `signal-hook` thread
and delivered as typed [`SignalEvent`]s on one channel. The dispatcher decides what each means
(drain, terminate, print the status); nothing is done in a signal handler.

The handler is installed first thing in `main`, before the manifest is read, so a SIGUSR1 sent
early (a monitoring script) never kills batchrun with the signal's default action.

A SIGHUP ignored when batchrun starts (`nohup`) is left ignored, as make(1) and sort(1) leave
it, so the run and its jobs survive the hangup they were started to survive. SIGINT and SIGTERM
are caught whatever their disposition: a script's background command starts with SIGINT
ignored, and `kill -INT $!` must still stop the run (as timeout(1) and GNU parallel do).
*/

use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

/// A signal that asks batchrun to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// SIGINT (Ctrl+C).
    Interrupt,
    /// SIGTERM.
    Terminate,
    /// SIGHUP (the terminal went away).
    Hangup,
}

impl StopSignal {
    /// The signal's name, as `kill -l` prints it with the `SIG` prefix.
    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Interrupt => "SIGINT",
            StopSignal::Terminate => "SIGTERM",
            StopSignal::Hangup => "SIGHUP",
        }
    }

    /// The signal's number (`2` for SIGINT).
    pub fn number(self) -> i32 {
        match self {
            StopSignal::Interrupt => libc::SIGINT,
            StopSignal::Terminate => libc::SIGTERM,
            StopSignal::Hangup => libc::SIGHUP,
        }
    }
}

/// One signal delivered to batchrun.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalEvent {
    /// SIGINT, SIGTERM or SIGHUP: the first drains the run, the second terminates its jobs.
    Stop(StopSignal),
    /// SIGUSR1: print the status of the running jobs.
    Status,
}

/// Where signals come from: real ones ([`install_signal_handler`]), or a channel fed by hand
/// (tests, embedding programs: [`SignalSource::manual`]).
#[derive(Debug)]
pub struct SignalSource {
    /// Receives one message per signal delivered.
    pub events: Receiver<SignalEvent>,
    /// Kept so the channel stays open for a source with no handler ([`SignalSource::manual`]).
    _keep: Option<Sender<SignalEvent>>,
    /// The signal thread: closed and joined when the source is dropped.
    thread: Option<(signal_hook::iterator::Handle, JoinHandle<()>)>,
}

impl SignalSource {
    /// A source that never fires, plus the sender to fire it by hand.
    pub fn manual() -> (Self, Sender<SignalEvent>) {
        let (tx, rx) = crossbeam_channel::unbounded();
        (
            Self {
                events: rx,
                _keep: Some(tx.clone()),
                thread: None,
            },
            tx,
        )
    }

    /// The next stop signal already delivered, if any; status requests before it are
    /// dropped (there is no run to report on).
    pub fn pending_stop(&self) -> Option<StopSignal> {
        self.events.try_iter().find_map(|e| match e {
            SignalEvent::Stop(s) => Some(s),
            SignalEvent::Status => None,
        })
    }
}

impl Drop for SignalSource {
    fn drop(&mut self) {
        if let Some((handle, thread)) = self.thread.take() {
            handle.close();
            let _ = thread.join();
        }
    }
}

/// Ignores SIGUSR1 until [`install_signal_handler`] catches it: call first thing in `main`, so
/// a status request sent while batchrun starts (a monitoring script) never kills it with the
/// signal's default action. Jobs get the default disposition back when they are spawned
/// (`POSIX_SPAWN_SETSIGDEF`), and a caught signal is reset by `exec` anyway.
pub fn ignore_status_requests() {
    // SAFETY: SIG_IGN is a valid disposition, and no handler of ours is replaced (this runs
    // before any is installed).
    unsafe { libc::signal(libc::SIGUSR1, libc::SIG_IGN) };
}

/// Whether `sig` is ignored (`SIG_IGN`) in this process.
fn ignored(sig: libc::c_int) -> bool {
    // SAFETY: a null new action only reads the current one into `old`, plain data.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(sig, std::ptr::null(), &mut old) == 0 && old.sa_sigaction == libc::SIG_IGN
    }
}

/// The signals batchrun catches: SIGINT, SIGTERM, SIGUSR1, and SIGHUP unless it is ignored
/// (see the module's doc).
fn caught() -> Vec<libc::c_int> {
    let mut all = vec![libc::SIGINT, libc::SIGTERM, libc::SIGUSR1];
    if !ignored(libc::SIGHUP) {
        all.insert(2, libc::SIGHUP);
    }
    all
}

/// Installs the process-wide handler for SIGINT, SIGTERM, SIGHUP (unless ignored at start)
/// and SIGUSR1 and returns the channel their events arrive on. Call it once. The signals are
/// registered on the signal thread itself, so when no thread can be started (`ulimit -u`)
/// nothing is registered and the signals keep their dispositions.
pub fn install_signal_handler() -> std::io::Result<SignalSource> {
    let caught = caught();
    let (tx, rx) = crossbeam_channel::unbounded();
    let (ready_tx, ready_rx) = crossbeam_channel::bounded(1);
    let thread = std::thread::Builder::new()
        .name("batchrun-signals".into())
        .spawn(move || {
            let registered = signal_hook::iterator::Signals::new(caught);
            let mut signals = match registered {
                Ok(s) => {
                    let _ = ready_tx.send(Ok(s.handle()));
                    s
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            for signal in signals.forever() {
                let event = match signal {
                    libc::SIGUSR1 => SignalEvent::Status,
                    libc::SIGTERM => SignalEvent::Stop(StopSignal::Terminate),
                    libc::SIGHUP => SignalEvent::Stop(StopSignal::Hangup),
                    _ => SignalEvent::Stop(StopSignal::Interrupt),
                };
                if tx.send(event).is_err() {
                    break;
                }
            }
        })?;
    let handle = match ready_rx.recv() {
        Ok(Ok(handle)) => handle,
        Ok(Err(e)) => {
            let _ = thread.join();
            return Err(e);
        }
        Err(_) => {
            let _ = thread.join();
            return Err(std::io::Error::other("the signal thread ended at once"));
        }
    };
    Ok(SignalSource {
        events: rx,
        _keep: None,
        thread: Some((handle, thread)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_source_delivers_typed_events() {
        let (source, tx) = SignalSource::manual();
        tx.send(SignalEvent::Status).unwrap();
        tx.send(SignalEvent::Stop(StopSignal::Hangup)).unwrap();
        assert_eq!(source.pending_stop(), Some(StopSignal::Hangup));
        assert_eq!(source.pending_stop(), None);
        assert_eq!(StopSignal::Terminate.name(), "SIGTERM");
    }
}
