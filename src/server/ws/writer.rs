//! The writer threads ([`WRITER_THREADS`]) that serve every viewer: each waits on a
//! poller (epoll) over its viewers' non-blocking sockets, woken by the hub when
//! something is published, and writes each batch encoded once for all the viewers
//! at the same cursor.

use std::io::ErrorKind;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use polling::{Event, Events, PollMode, Poller};
use tungstenite::protocol::frame::coding::{CloseCode, Control, OpCode};

use super::frames::{Bytes, frame, outgoing, text_frame_of, text_frames};
use super::slots::{AddressSlot, AddressSlots};
use super::viewer::{NewViewer, Status, Viewer};
use crate::board::encoded::Encoded;
use crate::hub::{Hub, Missed};
use crate::server::telemetry::Telemetry;

/// How often an idle viewer is pinged: keeps proxies from closing it, and finds a
/// peer that left without a word (the write fails or draws no progress).
pub const PING_INTERVAL: Duration = Duration::from_secs(10);
/// Writer threads serving all viewers (viewers are dealt out in turn). One writer
/// keeps the push to at most one core, leaving the other to ingest on a 2-core host.
pub const WRITER_THREADS: usize = 1;
/// Share of the gap between two batches per connected viewer (see [`send_interval`]).
const SEND_COST_PER_VIEWER: Duration = Duration::from_micros(50);
/// Longest gap between two batches of a writer.
const MAX_SEND_INTERVAL: Duration = Duration::from_millis(50);
/// How often a writer looks for viewers to ping, stuck viewers and lagged ones.
const SWEEP_INTERVAL: Duration = Duration::from_millis(500);
/// How long a shutting-down writer waits for the close frames to leave.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);
/// Scratch buffer of a writer for the client data it discards.
const READ_SCRATCH_BYTES: usize = 4096;
/// Close reason of a viewer that fell out of the hub's ring.
pub(super) const FELL_BEHIND: &str = "viewer fell behind; reconnect for a fresh snapshot";
/// Close reason when the server stops.
const SHUTTING_DOWN: &str = "server shutting down";
/// Close reason of a viewer that reads too slowly.
pub(super) const TOO_SLOW: &str = "viewer reads too slowly; reconnect on a better link";
/// Least a viewer must take while frames wait for it, by default, in bytes per
/// second on average over `--request-timeout` (the HTTP answers' minimum rate): a
/// viewer that reads a byte now and then to keep its slot is closed, with [`TOO_SLOW`].
pub const MIN_READ_BYTES_PER_SEC: u64 = 1024;

/// The frames after one cursor (`None`: nothing new) and the cursor after them.
type Batch = Result<(Option<Bytes>, u64), Missed>;

/// Gap a writer leaves between two batches: `SEND_COST_PER_VIEWER` per connected
/// viewer, up to `MAX_SEND_INTERVAL` (0.5 ms at 10 viewers, 5 ms at 100, 50 ms at
/// 1,000: reports of six teams every few seconds always go out at once). A report
/// after a quiet spell goes out at once; a flood of reports is gathered, so the push
/// costs a few batches a second rather than a write per report and viewer, and
/// cannot starve ingest.
pub fn send_interval(viewers: usize) -> Duration {
    (SEND_COST_PER_VIEWER * viewers.min(u32::MAX as usize) as u32).min(MAX_SEND_INTERVAL)
}

/// The writer threads, started with the first viewer.
pub struct Viewers {
    hub: Arc<Hub>,
    stall_timeout: Duration,
    min_read_rate: u64,
    lanes: Mutex<Vec<Lane>>,
    next_lane: AtomicUsize,
    slots: AddressSlots,
    telemetry: Arc<Telemetry>,
}

/// One writer thread and the ways to reach it.
struct Lane {
    poller: Arc<Poller>,
    incoming: Sender<NewViewer>,
    thread: std::thread::JoinHandle<()>,
}

impl Viewers {
    /// Writers for the viewers of `hub`; a viewer whose socket accepts nothing for
    /// `stall_timeout` while data waits for it is dropped, one that takes less than
    /// `min_read_rate` bytes a second over that time is closed. `slots` counts the
    /// viewers per address; `telemetry` counts the viewers dropped.
    pub fn new(
        hub: Arc<Hub>,
        (stall_timeout, min_read_rate): (Duration, u64),
        slots: AddressSlots,
        telemetry: Arc<Telemetry>,
    ) -> Viewers {
        Viewers {
            hub,
            stall_timeout,
            min_read_rate,
            lanes: Mutex::new(Vec::new()),
            next_lane: AtomicUsize::new(0),
            slots,
            telemetry,
        }
    }

    /// A place for one more viewer of `client` (`--max-viewers-per-ip`), or the
    /// limit it has reached.
    pub fn address_slot(
        &self,
        client: Option<std::net::IpAddr>,
    ) -> Result<Option<AddressSlot>, usize> {
        self.slots.take(client)
    }

    /// Hands a viewer to a writer thread (starting the writers if needed). If that
    /// fails (no thread or poller could be made, or the server is stopping), the
    /// viewer is closed.
    pub fn add(&self, viewer: NewViewer) {
        let mut lanes = self.lanes.lock().expect("viewer lanes poisoned");
        if lanes.is_empty() {
            match self.start_lanes() {
                Ok(started) => *lanes = started,
                Err(e) => {
                    log::error!("cannot start the WebSocket writer threads: {e}");
                    return;
                }
            }
        }
        let lane = &lanes[self.next_lane.fetch_add(1, Ordering::Relaxed) % lanes.len()];
        if lane.incoming.send(viewer).is_ok() {
            let _ = lane.poller.notify();
        }
    }

    fn start_lanes(&self) -> std::io::Result<Vec<Lane>> {
        (0..WRITER_THREADS)
            .map(|i| {
                let poller = Arc::new(Poller::new()?);
                let (incoming, receiver) = crossbeam_channel::unbounded();
                let woken = Arc::new(AtomicBool::new(true));
                let mut writer = Writer::new(
                    Arc::clone(&self.hub),
                    Arc::clone(&poller),
                    receiver,
                    Arc::clone(&woken),
                    self.stall_timeout,
                );
                writer.telemetry = Some(Arc::clone(&self.telemetry));
                writer.min_read_rate = self.min_read_rate;
                let waker_poller = Arc::clone(&poller);
                self.hub.add_waker(Box::new(move || {
                    if !woken.swap(true, Ordering::SeqCst) {
                        let _ = waker_poller.notify();
                    }
                }));
                let thread = std::thread::Builder::new()
                    .name(format!("ws-writer-{i}"))
                    .spawn(move || writer.run_guarded())?;
                Ok(Lane {
                    poller,
                    incoming,
                    thread,
                })
            })
            .collect()
    }

    /// Waits for the writer threads to end; call after [`Hub::close_all`]: every
    /// viewer then gets what was published, and a 1001 "server shutting down" close.
    pub fn join(&self) {
        let lanes = std::mem::take(&mut *self.lanes.lock().expect("viewer lanes poisoned"));
        for lane in lanes {
            let _ = lane.poller.notify();
            drop(lane.incoming);
            let _ = lane.thread.join();
        }
    }
}

/// A writer thread's state: its viewers (by poller key) and the hub.
struct Writer {
    hub: Arc<Hub>,
    poller: Arc<Poller>,
    incoming: Receiver<NewViewer>,
    /// Set by the hub on publish (and cleared before each batch).
    woken: Arc<AtomicBool>,
    stall_timeout: Duration,
    viewers: Vec<Option<Viewer>>,
    free: Vec<usize>,
    last_batch: Instant,
    next_sweep: Instant,
    scratch: Vec<u8>,
    ping: Bytes,
    /// The newest snapshot seen and its encoded frame.
    last_snapshot: Option<(Arc<Encoded>, Bytes)>,
    /// Where dropped viewers are counted.
    telemetry: Option<Arc<Telemetry>>,
    /// Least bytes a second a viewer with frames waiting must take.
    min_read_rate: u64,
}

impl Writer {
    fn new(
        hub: Arc<Hub>,
        poller: Arc<Poller>,
        incoming: Receiver<NewViewer>,
        woken: Arc<AtomicBool>,
        stall_timeout: Duration,
    ) -> Writer {
        Writer {
            hub,
            poller,
            incoming,
            woken,
            stall_timeout,
            viewers: Vec::new(),
            free: Vec::new(),
            last_batch: Instant::now(),
            next_sweep: Instant::now() + SWEEP_INTERVAL,
            scratch: vec![0; READ_SCRATCH_BYTES],
            ping: outgoing(frame(OpCode::Control(Control::Ping), b"")),
            last_snapshot: None,
            telemetry: None,
            min_read_rate: MIN_READ_BYTES_PER_SEC,
        }
    }

    /// Runs the writer; a bug that panics drops its viewers (their pages reconnect and
    /// resync), never the push itself.
    fn run_guarded(mut self) {
        loop {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.run()));
            match outcome {
                Ok(()) => return,
                Err(_) => {
                    log::error!("WebSocket writer: internal error; its viewers were dropped");
                    self.remove_all();
                }
            }
        }
    }

    fn run(&mut self) {
        let mut events = Events::new();
        let mut stop_by: Option<Instant> = None;
        loop {
            events.clear();
            if let Err(e) = self.poller.wait(&mut events, Some(self.timeout(stop_by)))
                && e.kind() != ErrorKind::Interrupted
            {
                log::error!("WebSocket writer: waiting on the sockets failed: {e}");
                std::thread::sleep(Duration::from_millis(10));
            }
            let now = Instant::now();
            for event in events.iter() {
                self.on_event(event, now);
            }
            while let Ok(viewer) = self.incoming.try_recv() {
                self.admit(viewer, now);
            }
            if stop_by.is_none() && self.hub.is_closed() {
                self.deliver(now);
                self.close_every_viewer(now);
                stop_by = Some(now + SHUTDOWN_GRACE);
                self.woken.store(false, Ordering::SeqCst);
            }
            if let Some(deadline) = stop_by {
                if self.viewers.iter().all(Option::is_none) || now >= deadline {
                    self.remove_all();
                    return;
                }
                continue;
            }
            let gap = send_interval(self.hub.len());
            if self.woken.load(Ordering::SeqCst) && now >= self.last_batch + gap {
                self.woken.store(false, Ordering::SeqCst);
                self.last_batch = now;
                self.deliver(now);
            }
            if now >= self.next_sweep {
                self.sweep(now);
                self.next_sweep = now + SWEEP_INTERVAL;
            }
        }
    }

    /// Until the next batch is due (if something was published) or the next sweep;
    /// when stopping, until the close frames are out or the grace period ends.
    fn timeout(&self, stop_by: Option<Instant>) -> Duration {
        let now = Instant::now();
        if let Some(deadline) = stop_by {
            return deadline.saturating_duration_since(now);
        }
        let mut until = self.next_sweep;
        if self.woken.load(Ordering::SeqCst) {
            until = until.min(self.last_batch + send_interval(self.hub.len()));
        }
        until.saturating_duration_since(now)
    }

    fn admit(&mut self, new: NewViewer, now: Instant) {
        if let Err(e) = new.socket.set_nonblocking(true) {
            log::warn!("WebSocket viewer dropped: cannot make its socket non-blocking: {e}");
            return;
        }
        let key = self.free.pop().unwrap_or(self.viewers.len());
        // SAFETY: the socket is removed from the poller (`remove`) before it is dropped.
        let added = unsafe {
            self.poller
                .add_with_mode(&new.socket, Event::readable(key), PollMode::Level)
        };
        if let Err(e) = added {
            log::warn!("WebSocket viewer dropped: cannot watch its socket: {e}");
            self.free.push(key);
            return;
        }
        let mut viewer = Viewer::new(new.socket, new.subscription, new.slot, now);
        let snapshot_frame = self.snapshot_frame(new.snapshot);
        viewer.queue(snapshot_frame, now);
        if key == self.viewers.len() {
            self.viewers.push(Some(viewer));
        } else {
            self.viewers[key] = Some(viewer);
        }
        self.flush(key, now);
        // Something may have been published between the snapshot and now: look.
        self.woken.store(true, Ordering::SeqCst);
    }

    /// The encoded frame of a snapshot, shared with the viewers admitted before it
    /// changed (a burst of connections costs one copy, not one each).
    fn snapshot_frame(&mut self, snapshot: Arc<Encoded>) -> Bytes {
        match &self.last_snapshot {
            Some((message, frame)) if Arc::ptr_eq(message, &snapshot) => frame.clone(),
            _ => {
                let frame = text_frame_of(&snapshot);
                self.last_snapshot = Some((snapshot, frame.clone()));
                frame
            }
        }
    }

    fn on_event(&mut self, event: Event, now: Instant) {
        let Some(Some(viewer)) = self.viewers.get_mut(event.key) else {
            return;
        };
        if event.readable && viewer.read_incoming(&mut self.scratch, now) == Status::Gone {
            return self.remove(event.key);
        }
        self.flush(event.key, now);
    }

    /// Writes what is queued for a viewer and adjusts what the poller watches for.
    fn flush(&mut self, key: usize, now: Instant) {
        let Some(Some(viewer)) = self.viewers.get_mut(key) else {
            return;
        };
        match viewer.write_pending(now) {
            Status::Open => {}
            Status::Gone => return self.remove(key),
            Status::Stalled => {
                count_drop(&self.telemetry, "stalled");
                return self.remove(key);
            }
        }
        let wants_write = viewer.has_unsent();
        if wants_write != viewer.wants_write {
            let interest = Event::new(key, true, wants_write);
            if self
                .poller
                .modify_with_mode(&viewer.socket, interest, PollMode::Level)
                .is_err()
            {
                return self.remove(key);
            }
            viewer.wants_write = wants_write;
        }
    }

    /// Sends every viewer that has written everything what was published since its
    /// cursor: one read of the ring and one encoding per distinct cursor. A viewer
    /// still writing an earlier batch waits; one that fell out of the ring is closed.
    fn deliver(&mut self, now: Instant) {
        let oldest = self.hub.oldest_kept();
        let mut batches: Vec<(u64, Batch)> = Vec::new();
        for key in 0..self.viewers.len() {
            let Some(viewer) = self.viewers[key].as_mut() else {
                continue;
            };
            if viewer.closing {
                continue;
            }
            let cursor = viewer.subscription.cursor();
            if !viewer.pending.is_empty() {
                if cursor < oldest {
                    viewer.close(CloseCode::Again, FELL_BEHIND, now);
                    count_drop(&self.telemetry, "fell_behind");
                    self.flush(key, now);
                }
                continue;
            }
            let batch = match batches.iter().find(|(c, _)| *c == cursor) {
                Some((_, batch)) => batch.clone(),
                None => {
                    let batch = self.hub.batch_after(cursor).map(|(messages, next)| {
                        ((!messages.is_empty()).then(|| text_frames(&messages)), next)
                    });
                    batches.push((cursor, batch.clone()));
                    batch
                }
            };
            match batch {
                Ok((bytes, next)) => {
                    viewer.subscription.advance_to(next);
                    let Some(bytes) = bytes else { continue };
                    viewer.queue(bytes, now);
                }
                Err(_) => {
                    viewer.close(CloseCode::Again, FELL_BEHIND, now);
                    count_drop(&self.telemetry, "fell_behind");
                }
            }
            self.flush(key, now);
        }
    }

    /// Pings idle viewers; drops stuck ones and those whose close frame did not go
    /// out within the stall timeout; closes those that read too slowly or fell out of
    /// the ring.
    fn sweep(&mut self, now: Instant) {
        let oldest = self.hub.oldest_kept();
        for key in 0..self.viewers.len() {
            let Some(viewer) = self.viewers[key].as_mut() else {
                continue;
            };
            viewer.note_delivery(now);
            let closing_too_long = viewer
                .closing_since
                .is_some_and(|since| now.duration_since(since) >= self.stall_timeout);
            if viewer.has_unsent() {
                if now.duration_since(viewer.last_progress) >= self.stall_timeout
                    || closing_too_long
                {
                    log::debug!("WebSocket viewer dropped: its socket accepts (almost) nothing");
                    if !viewer.closing {
                        count_drop(&self.telemetry, "stalled");
                    }
                    self.remove(key);
                    continue;
                }
                if viewer.reads_too_slowly(now, self.stall_timeout, self.min_read_rate) {
                    log::debug!("WebSocket viewer closed: it reads too slowly");
                    viewer.close(CloseCode::Policy, TOO_SLOW, now);
                    count_drop(&self.telemetry, "too_slow");
                } else if !viewer.closing && viewer.subscription.cursor() < oldest {
                    viewer.close(CloseCode::Again, FELL_BEHIND, now);
                    count_drop(&self.telemetry, "fell_behind");
                }
            } else if !viewer.closing && now.duration_since(viewer.last_queued) >= PING_INTERVAL {
                viewer.queue(Arc::clone(&self.ping), now);
            }
            self.flush(key, now);
        }
    }

    fn close_every_viewer(&mut self, now: Instant) {
        for key in 0..self.viewers.len() {
            if let Some(viewer) = self.viewers[key].as_mut() {
                viewer.close(CloseCode::Away, SHUTTING_DOWN, now);
                self.flush(key, now);
            }
        }
    }

    fn remove(&mut self, key: usize) {
        if let Some(viewer) = self.viewers.get_mut(key).and_then(Option::take) {
            let _ = self.poller.delete(&viewer.socket);
            self.free.push(key);
        }
    }

    fn remove_all(&mut self) {
        for key in 0..self.viewers.len() {
            self.remove(key);
        }
    }
}

/// Counts a viewer the server closed, by reason.
fn count_drop(telemetry: &Option<Arc<Telemetry>>, reason: &'static str) {
    if let Some(telemetry) = telemetry {
        telemetry.viewer_dropped(reason);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_interval_grows_with_viewers_up_to_a_cap() {
        assert_eq!(send_interval(0), Duration::ZERO);
        assert_eq!(send_interval(100), Duration::from_millis(5));
        assert_eq!(send_interval(1000), Duration::from_millis(50));
        assert_eq!(send_interval(100_000), MAX_SEND_INTERVAL);
    }
}
