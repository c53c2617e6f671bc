/*!
The dispatcher's loop: hand out work, wait for the next thing to happen, and read the results
the workers send back, one at a time or in batches.

**Batches with a bounded hold.** When no result can change which job starts next
([`RunSettings::start_order_is_fixed`](crate::run::context::RunSettings::start_order_is_fixed)),
each worker has [`QUEUE_PER_WORKER`] tasks queued and runs them back to back. Once results are
coming in, the loop stops waiting on the results channel, so a worker's result wakes nobody:
the loop reads every result that arrived when its timer fires, at most [`HOLD`] after it last
read them, or at once when a worker is about to wait for work ([`Dispatch::idle`]), a signal
arrives or the printer drains. A wake that finds no result goes back to waiting on results
(the next one wakes the loop at once), so a run of long jobs is not woken every [`HOLD`]. With
jobs as short as `/bin/true` this wakes the dispatcher once per batch instead of once per job
(each wake is two context switches taken from the children). A finished job's result, and so
its joblog line and progress, is at most [`HOLD`] late (plus the time the system takes to run
the dispatcher).

Otherwise (jobs wait on others, groups are limited, retries, `--max-failures`), the loop waits
on the results and handles each as it arrives, as it always did.
*/

use std::time::{Duration, Instant};

use crossbeam_channel::{never, select, Receiver, TryRecvError};

use crate::process::signals::{SignalEvent, SignalSource};
use crate::run::dispatcher::Dispatcher;
use crate::run::pool::{Dispatch, Done};
use crate::run::worker::{Task, TaskEnd};

/// The longest a result may wait unread while results are read in batches.
pub(crate) const HOLD: Duration = Duration::from_millis(10);

/// Tasks queued per worker when results are read in batches: more than a worker runs in
/// [`HOLD`] with jobs as short as `/bin/true` (about 20 on two CPUs), so that no worker waits
/// for work between two reads.
pub(crate) const QUEUE_PER_WORKER: usize = 32;

/// What the workers send back.
type Results = Receiver<Done<(usize, TaskEnd)>>;

impl Dispatcher<'_> {
    /// One message from a worker.
    fn on_done(&mut self, done: Done<(usize, TaskEnd)>) {
        match done {
            Done::Finished((i, end)) => self.attempt_done(i, end),
            Done::Panicked(m) => {
                self.in_flight -= 1;
                self.internal_error(&format!("a worker thread panicked: {m}"));
            }
        }
    }

    /// Handles every result that has arrived; `None` when every worker has stopped.
    fn read_results(&mut self, results: &Results) -> Option<usize> {
        let mut read = 0;
        loop {
            match results.try_recv() {
                Ok(done) => {
                    read += 1;
                    self.on_done(done);
                }
                Err(TryRecvError::Empty) => return Some(read),
                Err(TryRecvError::Disconnected) => {
                    self.internal_error("every worker thread has stopped");
                    return None;
                }
            }
        }
    }

    fn on_signal_event(&mut self, signal: Result<SignalEvent, crossbeam_channel::RecvError>) {
        match signal {
            Ok(SignalEvent::Stop(sig)) => self.on_signal(sig),
            Ok(SignalEvent::Status) => self.on_status_request(),
            Err(_) => {}
        }
    }

    /// The loop: hand out work, wait for the next thing to happen, until every job is done.
    /// `batch`: results may be read in batches (see the module's doc).
    pub(super) fn run_loop(
        &mut self,
        dispatch: &Dispatch<Task, (usize, TaskEnd)>,
        window: usize,
        batch: bool,
        signals: &SignalSource,
    ) {
        let drained = self.sink.drained().unwrap_or_else(never);
        let starts = self
            .board
            .and_then(|b| b.starts())
            .cloned()
            .unwrap_or_else(never);
        // While results keep coming: when they must be read at the latest.
        let mut hold: Option<Instant> = None;
        loop {
            let now = Instant::now();
            if self.settings.deadline.is_some_and(|d| now >= d) && !self.deadline_reached {
                self.on_deadline();
            }
            if self.stalled_until.is_some_and(|t| now >= t) {
                self.stalled_until = None;
            }
            self.on_monitor(now);
            // Held deaths whose second has passed go on as they are (`failed`).
            let expired = self.stop_deaths.expired(now);
            self.release(expired);
            // What the last message settled is written out before anything new starts.
            self.flush_sinks();
            if self.may_start() {
                self.start_ready(&dispatch.jobs, window);
            }
            let nothing_can_start = self.stopping() || self.table.idle();
            if self.in_flight == 0 && self.stop_deaths.is_empty() && nothing_can_start {
                break;
            }
            let wake = self.next_wake().into_iter().chain(hold).min();
            let timer = wake.map_or_else(never, crossbeam_channel::at);
            let mut read = 0;
            if hold.is_some() {
                // Results are read below, whatever woke the loop.
                select! {
                    recv(dispatch.idle) -> _ => {},
                    recv(signals.events) -> signal => self.on_signal_event(signal),
                    recv(drained) -> _ => {}
                    recv(timer) -> _ => {}
                }
                self.drain_starts();
            } else {
                select! {
                    recv(dispatch.results) -> msg => match msg {
                        Ok(done) => {
                            read += 1;
                            self.on_done(done);
                        }
                        Err(_) => {
                            self.internal_error("every worker thread has stopped");
                            break;
                        }
                    },
                    recv(starts) -> s => if let Ok(s) = s {
                        self.emit(&crate::event::Event::from(&s));
                    },
                    recv(signals.events) -> signal => self.on_signal_event(signal),
                    recv(drained) -> _ => {}
                    recv(timer) -> _ => {}
                }
                if !batch {
                    continue;
                }
            }
            // A worker's notice that it waits for work is answered by this read and the
            // `start_ready` that follows; one that comes later wakes the loop again.
            while dispatch.idle.try_recv().is_ok() {}
            let Some(more) = self.read_results(&dispatch.results) else {
                break;
            };
            // Results are coming in: read the next ones in a batch, at most `HOLD` from now.
            // None came: the next one wakes the loop.
            hold = (read + more > 0).then(|| Instant::now() + HOLD);
        }
    }
}
