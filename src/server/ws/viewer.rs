//! One viewer as a writer thread holds it: its socket, its hub cursor and the frames
//! still to write; writing without blocking, reading (and discarding) what it sends.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::sync::Arc;
use std::time::Instant;

use tiny_http::UpgradedStream;
use tungstenite::protocol::frame::coding::CloseCode;

use super::frames::{Bytes, ClientFrames, close_frame, outgoing};
use crate::board::encoded::Encoded;
use crate::hub::Subscription;

/// Reads of client data per readiness event (the rest waits for the next round).
const MAX_READS_PER_EVENT: usize = 16;
/// Pieces handed to one vectored write.
const MAX_SLICES_PER_WRITE: usize = 64;

/// A viewer handed from an HTTP worker to a writer thread.
pub struct NewViewer {
    /// The upgraded connection, TCP or TLS (blocking; the writer makes it non-blocking).
    pub socket: UpgradedStream,
    /// The `snapshot` message, sent first (shared by the viewers that join between
    /// two updates; made of the teams' shared entries).
    pub snapshot: Arc<Encoded>,
    /// The hub cursor right after the snapshot.
    pub subscription: Subscription,
    /// Its place in the per-address count, given back when the viewer goes.
    pub slot: Option<super::AddressSlot>,
}

/// One viewer, as a writer thread holds it.
pub(super) struct Viewer {
    pub(super) socket: UpgradedStream,
    pub(super) subscription: Subscription,
    /// Frames still to write, with how much of each is written.
    pub(super) pending: VecDeque<(Bytes, usize)>,
    /// A close frame is queued: send nothing more; drop the viewer once it is out.
    pub(super) closing: bool,
    /// Whether the poller watches the socket for writability.
    pub(super) wants_write: bool,
    /// Last time frames were queued (for pings).
    pub(super) last_queued: Instant,
    /// Last time the socket accepted bytes, or frames were queued on an empty queue.
    pub(super) last_progress: Instant,
    /// Where the frames the client sends stand (only its close frame matters).
    incoming: ClientFrames,
    /// Bytes the socket has accepted so far.
    pub(super) written_total: u64,
    /// Bytes the peer has acknowledged so far, as last seen.
    delivered: u64,
    /// Since when frames have waited for this viewer without a break, and
    /// `delivered` then: its read rate over that time.
    pub(super) waiting_since: Option<(Instant, u64)>,
    /// When the server began closing this viewer.
    pub(super) closing_since: Option<Instant>,
    /// This viewer's place in the per-address count (`--max-viewers-per-ip`).
    _slot: Option<super::AddressSlot>,
}

/// What happened to a viewer.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Status {
    Open,
    Gone,
    /// Gone because it took nothing for too long.
    Stalled,
}

impl Viewer {
    /// A viewer with nothing queued yet, at the cursor of `subscription`.
    pub(super) fn new(
        socket: UpgradedStream,
        subscription: Subscription,
        slot: Option<super::AddressSlot>,
        now: Instant,
    ) -> Viewer {
        Viewer {
            socket,
            subscription,
            pending: VecDeque::new(),
            closing: false,
            wants_write: false,
            last_queued: now,
            last_progress: now,
            incoming: ClientFrames::default(),
            written_total: 0,
            delivered: 0,
            waiting_since: None,
            closing_since: None,
            _slot: slot,
        }
    }

    /// Notes what the peer has taken since the last look (acknowledged bytes, not
    /// only bytes the kernel accepted: its buffers hide a slow reader for a long
    /// time); taking something counts as progress.
    pub(super) fn note_delivery(&mut self, now: Instant) {
        let queued = super::super::sockopt::unacknowledged_bytes(self.socket.tcp()).unwrap_or(0);
        let delivered = self.written_total.saturating_sub(queued);
        if delivered > self.delivered {
            self.delivered = delivered;
            self.last_progress = now;
        }
    }

    /// True when the viewer has had frames waiting for at least `window` and took
    /// (acknowledged) fewer than `min_bytes_per_sec` on average over that time. A
    /// viewer with nothing waiting is never too slow; each window starts afresh.
    pub(super) fn reads_too_slowly(
        &mut self,
        now: Instant,
        window: std::time::Duration,
        min_bytes_per_sec: u64,
    ) -> bool {
        if self.pending.is_empty() || self.closing {
            self.waiting_since = None;
            return false;
        }
        let (since, delivered_then) = *self.waiting_since.get_or_insert((now, self.delivered));
        let waited = now.duration_since(since);
        if waited < window {
            return false;
        }
        let taken = self.delivered - delivered_then;
        self.waiting_since = Some((now, self.delivered));
        (taken as f64) < min_bytes_per_sec as f64 * waited.as_secs_f64()
    }

    /// Queues frames to write after those already queued.
    pub(super) fn queue(&mut self, bytes: Bytes, now: Instant) {
        if self.pending.is_empty() {
            self.last_progress = now;
        }
        self.pending.push_back((bytes, 0));
        self.last_queued = now;
    }

    /// Queues a close frame (dropping queued frames not yet started) and sends no more.
    pub(super) fn close(&mut self, code: CloseCode, reason: &str, now: Instant) {
        if self.closing {
            return;
        }
        match self.pending.front() {
            Some((_, written)) if *written > 0 => self.pending.truncate(1),
            _ => self.pending.clear(),
        }
        self.queue(outgoing(close_frame(code, reason)), now);
        self.closing = true;
        self.closing_since = Some(now);
    }

    /// Writes what it can without blocking (for TLS, also the encrypted records still
    /// queued in the session).
    pub(super) fn write_pending(&mut self, now: Instant) -> Status {
        while let Some((bytes, written)) = self.pending.front_mut() {
            let slices = bytes.slices_from(*written, MAX_SLICES_PER_WRITE);
            match self.socket.write_vectored(&slices) {
                Ok(0) => return Status::Gone,
                Ok(n) => {
                    *written += n;
                    self.written_total += n as u64;
                    self.last_progress = now;
                    if *written == bytes.len() {
                        self.pending.pop_front();
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // TCP_USER_TIMEOUT: the kernel gave up on a peer that left its window
                // shut (or vanished) for twice --request-timeout.
                Err(e) if e.kind() == ErrorKind::TimedOut => return Status::Stalled,
                Err(_) => return Status::Gone, // EPIPE, ECONNRESET: the viewer left
            }
        }
        if self.pending.is_empty() && self.socket.has_unsent() {
            match self.socket.flush() {
                Ok(()) => self.last_progress = now,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Status::Open,
                Err(_) => return Status::Gone,
            }
        }
        if self.closing && self.pending.is_empty() {
            let _ = self.socket.shutdown(Shutdown::Both);
            return Status::Gone;
        }
        Status::Open
    }

    /// Bytes wait to be written: frames, or (TLS) encrypted records.
    pub(super) fn has_unsent(&self) -> bool {
        !self.pending.is_empty() || self.socket.has_unsent()
    }

    /// Reads and discards what the client sent; its close frame or end of stream
    /// ends the viewer (after our close frame, when it still fits).
    pub(super) fn read_incoming(&mut self, scratch: &mut [u8], now: Instant) -> Status {
        for _ in 0..MAX_READS_PER_EVENT {
            match self.socket.read(scratch) {
                Ok(0) => return Status::Gone,
                Ok(n) => {
                    if self.incoming.feed(&scratch[..n]) {
                        self.close(CloseCode::Normal, "", now);
                        return Status::Open;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Status::Open,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return Status::Gone,
            }
        }
        Status::Open
    }
}
