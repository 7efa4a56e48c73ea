//! One viewer as a writer thread holds it: its socket, its hub cursor and the frames
//! still to write; writing without blocking, reading (and discarding) what it sends.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::time::Instant;

use tiny_http::UpgradedStream;
use tungstenite::protocol::frame::coding::CloseCode;

use super::frames::{Bytes, ClientFrames, close_frame};
use crate::hub::{Message as HubMessage, Subscription};

/// Reads of client data per readiness event (the rest waits for the next round).
const MAX_READS_PER_EVENT: usize = 16;

/// A viewer handed from an HTTP worker to a writer thread.
pub struct NewViewer {
    /// The upgraded connection, TCP or TLS (blocking; the writer makes it non-blocking).
    pub socket: UpgradedStream,
    /// The `snapshot` message, sent first (shared by the viewers that join between
    /// two updates).
    pub snapshot: HubMessage,
    /// The hub cursor right after the snapshot.
    pub subscription: Subscription,
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
}

/// What happened to a viewer.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Status {
    Open,
    Gone,
}

impl Viewer {
    /// A viewer with nothing queued yet, at the cursor of `subscription`.
    pub(super) fn new(socket: UpgradedStream, subscription: Subscription, now: Instant) -> Viewer {
        Viewer {
            socket,
            subscription,
            pending: VecDeque::new(),
            closing: false,
            wants_write: false,
            last_queued: now,
            last_progress: now,
            incoming: ClientFrames::default(),
        }
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
        self.queue(close_frame(code, reason).into(), now);
        self.closing = true;
    }

    /// Writes what it can without blocking (for TLS, also the encrypted records still
    /// queued in the session).
    pub(super) fn write_pending(&mut self, now: Instant) -> Status {
        while let Some((bytes, written)) = self.pending.front_mut() {
            match self.socket.write(&bytes[*written..]) {
                Ok(0) => return Status::Gone,
                Ok(n) => {
                    *written += n;
                    self.last_progress = now;
                    if *written == bytes.len() {
                        self.pending.pop_front();
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
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
