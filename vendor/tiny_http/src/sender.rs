//! The writer thread (BenchBoard patch): finishes the responses a client did not take at
//! once, writing whenever its socket has room, so that a slow reader of a large answer
//! holds no application thread. A client that takes less than the minimum rate in a whole
//! window is cut off.

use std::io::ErrorKind;
use std::net::Shutdown;
use std::os::fd::AsFd;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use polling::{Event, Events, Poller};

use crate::conn::{Conn, Job, Outgoing, Pump};
use crate::reactor::watch;

/// How often the rates are checked.
const SWEEP: Duration = Duration::from_millis(100);
/// Most bytes written to one client before the others get their turn.
const ROUND_BUDGET: usize = 256 * 1024;

struct Active {
    conn: Arc<Conn>,
    out: Outgoing,
}

pub(crate) struct Sender {
    poller: Arc<Poller>,
    jobs: Receiver<Job>,
    active: Vec<Option<Active>>,
    free: Vec<usize>,
}

impl Sender {
    pub(crate) fn new(poller: Arc<Poller>, jobs: Receiver<Job>) -> Sender {
        Sender {
            poller,
            jobs,
            active: Vec::new(),
            free: Vec::new(),
        }
    }

    /// Runs until every connection of the server is gone (the job channel closes) and no
    /// response is left.
    pub(crate) fn run(mut self) {
        let mut events = Events::new();
        let mut ready = Vec::new();
        let mut last_sweep = Instant::now();
        loop {
            let open = loop {
                match self.jobs.try_recv() {
                    Ok(job) => self.start(job),
                    Err(TryRecvError::Empty) => break true,
                    Err(TryRecvError::Disconnected) => break false,
                }
            };
            if !open && self.free.len() == self.active.len() {
                return;
            }
            events.clear();
            if let Err(e) = self.poller.wait(&mut events, Some(SWEEP)) {
                if e.kind() != ErrorKind::Interrupted {
                    log::error!("Waiting for client sockets failed: {}", e);
                    std::thread::sleep(SWEEP);
                }
            }
            ready.clear();
            ready.extend(events.iter().map(|event| event.key));
            for &key in &ready {
                self.pump(key);
            }
            let now = Instant::now();
            if now.saturating_duration_since(last_sweep) >= SWEEP {
                last_sweep = now;
                self.sweep(now);
            }
        }
    }

    fn start(&mut self, job: Job) {
        let key = self.free.pop().unwrap_or(self.active.len());
        if let Err(e) = watch(&self.poller, job.conn.socket.as_fd(), Event::writable(key)) {
            log::warn!("Cannot finish a response: cannot watch the socket: {}", e);
            self.free.push(key);
            job.conn.end_turn(job.out.seq, true, true);
            return;
        }
        let active = Active {
            conn: job.conn,
            out: job.out,
        };
        if key == self.active.len() {
            self.active.push(Some(active));
        } else {
            self.active[key] = Some(active);
        }
    }

    fn pump(&mut self, key: usize) {
        loop {
            let active = match self.active.get_mut(key).and_then(Option::as_mut) {
                Some(active) => active,
                None => return,
            };
            match active.out.pump(&active.conn.socket, ROUND_BUDGET) {
                Pump::Blocked => {
                    let event = Event::writable(key);
                    if self.poller.modify(&active.conn.socket, event).is_err() {
                        self.finish(key, true);
                    }
                    return;
                }
                Pump::Failed => {
                    self.finish(key, true);
                    return;
                }
                Pump::Done => {
                    let (seq, close) = (active.out.seq, active.out.close_after);
                    match active.conn.end_turn(seq, close, false) {
                        // the next response of the same connection, in its turn now
                        Some(next) => active.out = next,
                        None => {
                            self.finish(key, false);
                            return;
                        }
                    }
                }
            }
        }
    }

    /// Forgets a response; `failed`: it could not be finished, the connection is cut.
    fn finish(&mut self, key: usize, failed: bool) {
        if let Some(active) = self.active.get_mut(key).and_then(Option::take) {
            let _ = self.poller.delete(&active.conn.socket);
            if failed {
                let _ = active.conn.socket.shutdown(Shutdown::Both);
                active.conn.end_turn(active.out.seq, true, true);
            }
            self.free.push(key);
        }
    }

    fn sweep(&mut self, now: Instant) {
        for key in 0..self.active.len() {
            let slow = match self.active[key] {
                Some(ref active) => active.out.rate.expired(now),
                None => false,
            };
            if slow {
                log::debug!("Dropping a client that reads its response too slowly");
                if let Some(ref active) = self.active[key] {
                    // BenchBoard: reset, not closed: a close leaves what the kernel holds
                    // of the answer queued (an orphan socket), still sent at the pace of
                    // the very reader that was too slow.
                    let _ = rustix::net::sockopt::set_socket_linger(
                        &active.conn.socket,
                        Some(Duration::ZERO),
                    );
                }
                self.finish(key, true);
            }
        }
    }
}
