//! `GET /ws`: upgrade to a WebSocket, send a `snapshot`, then forward board events.
//!
//! The HTTP worker answers the handshake, takes the snapshot and a hub cursor under
//! the board lock, takes the plain TCP socket over from tiny_http
//! ([`tiny_http::Request::upgrade_tcp`]) and hands all three to a writer thread.
//! [`WRITER_THREADS`] writer threads serve every viewer: each owns its viewers'
//! non-blocking sockets and waits on a poller (epoll) that the hub wakes when
//! something is published.
//!
//! For each batch from the hub's ring, a writer encodes the WebSocket frames once
//! for all viewers at the same cursor (server frames are unmasked, so the bytes are
//! the same for everyone) and writes that shared buffer to each socket without
//! blocking. A viewer whose socket is full keeps the rest of that one batch (a
//! reference to the shared buffer, not a copy) and is written when it becomes
//! writable; meanwhile its cursor stays put, so when it catches up it gets one
//! batch with only the newest `team_update` of each team. A viewer that falls out of
//! the ring gets a close frame saying so (its page reconnects and resyncs from a
//! fresh snapshot). Under a flood, a writer gathers messages for at most
//! [`send_interval`] between two batches, so the cost of the push stays bounded
//! whatever the report rate.
//!
//! Writers also read and discard what viewers send (pongs, their close frame: a
//! close or end of stream drops the viewer), ping idle viewers every
//! [`PING_INTERVAL`], and drop a viewer whose socket has accepted nothing for
//! `--request-timeout`. A client's own pings are not answered (browsers send none).

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use polling::{Event, Events, PollMode, Poller};
use serde_json::json;
use tiny_http::{Header, Request, Response, UpgradeTcpError};
use tungstenite::protocol::frame::FrameHeader;
use tungstenite::protocol::frame::coding::{CloseCode, Control, Data, OpCode};

use super::App;
use super::reply::{self, Reply, header};
use crate::hub::{Hub, Message as HubMessage, Missed, Subscription};

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
/// Reads of client data per readiness event (the rest waits for the next round).
const MAX_READS_PER_EVENT: usize = 16;
/// Scratch buffer of a writer for the client data it discards.
const READ_SCRATCH_BYTES: usize = 4096;
/// Close reason of a viewer that fell out of the hub's ring.
const FELL_BEHIND: &str = "viewer fell behind; reconnect for a fresh snapshot";
/// Close reason when the server stops.
const SHUTTING_DOWN: &str = "server shutting down";

/// Encoded frames, shared by every viewer they are written to.
type Bytes = Arc<[u8]>;
/// The frames after one cursor (`None`: nothing new) and the cursor after them.
type Batch = Result<(Option<Bytes>, u64), Missed>;

/// Answers `GET /ws`.
pub fn serve(app: &App, request: Request) {
    if !app.config.websocket {
        let reply = Reply::json(
            404,
            &json!({"error": "WebSocket push is turned off (--no-websocket); poll /api/teams"}),
        );
        return respond_plain(request, reply);
    }
    if let Err(reply) = check_handshake(&request) {
        return respond_plain(request, reply);
    }
    let key = header(&request, "Sec-WebSocket-Key")
        .expect("checked by check_handshake")
        .to_string();
    let subscribed = app.board.subscribe();
    let response = Response::empty(101)
        .with_header(Header::from_bytes("Connection", "Upgrade").expect("ASCII header"))
        .with_header(
            Header::from_bytes(
                "Sec-WebSocket-Accept",
                tungstenite::handshake::derive_accept_key(key.as_bytes()),
            )
            .expect("base64 is ASCII"),
        );
    let socket = match request.upgrade_tcp("websocket", response) {
        Ok(socket) => socket,
        Err(UpgradeTcpError::NotPlainTcp(request, _)) => {
            let reply = Reply::json(
                500,
                &json!({"error": "the WebSocket push needs a plain TCP connection"}),
            );
            return respond_plain(*request, reply);
        }
        Err(UpgradeTcpError::Io(e)) => {
            log::debug!("GET /ws: the viewer left during the handshake: {e}");
            return;
        }
    };
    give_up_on_silent_peer(&socket, app.config.request_timeout);
    match subscribed {
        Ok((snapshot, subscription)) => app.viewers.add(NewViewer {
            socket,
            snapshot,
            subscription,
        }),
        Err(refused) => {
            log::warn!("GET /ws -> refused: {refused}");
            refuse(socket, &refused.to_string());
        }
    }
}

/// Checks the upgrade request (RFC 6455 §4.2.1); the error names the header to fix.
fn check_handshake(request: &Request) -> Result<(), Reply> {
    let has_token = |name: &'static str, token: &str| {
        header(request, name).is_some_and(|value| {
            value
                .split(',')
                .any(|part| part.trim().eq_ignore_ascii_case(token))
        })
    };
    let refuse = |status: u16, message: &str| Reply::json(status, &json!({ "error": message }));
    if !has_token("Upgrade", "websocket") {
        return Err(refuse(
            400,
            "expected a WebSocket upgrade: Upgrade: websocket",
        ));
    }
    if !has_token("Connection", "upgrade") {
        return Err(refuse(
            400,
            "expected a WebSocket upgrade: Connection: Upgrade",
        ));
    }
    if header(request, "Sec-WebSocket-Key").is_none_or(|key| key.trim().is_empty()) {
        return Err(refuse(
            400,
            "expected a WebSocket upgrade: Sec-WebSocket-Key is missing",
        ));
    }
    if header(request, "Sec-WebSocket-Version").map(str::trim) != Some("13") {
        let mut reply = refuse(426, "Sec-WebSocket-Version must be 13");
        reply.headers.push(("Sec-WebSocket-Version", "13".into()));
        return Err(reply);
    }
    Ok(())
}

/// Answers like every other endpoint (JSON error, CORS header).
fn respond_plain(request: Request, reply: Reply) {
    reply::send(request, reply);
}

/// Makes the kernel give up on a viewer whose sent data (our pings at least) stays
/// unacknowledged for `timeout`: a peer that vanished without a reset is then noticed
/// by the next write instead of after TCP's retransmissions (about 15 minutes).
fn give_up_on_silent_peer(socket: &TcpStream, timeout: std::time::Duration) {
    use std::os::fd::AsRawFd;
    let millis = libc::c_uint::try_from(timeout.as_millis()).unwrap_or(libc::c_uint::MAX);
    // SAFETY: setsockopt on a socket this function borrows, with a pointer to a
    // c_uint that lives across the call and its exact size.
    let result = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_USER_TIMEOUT,
            (&millis as *const libc::c_uint).cast(),
            std::mem::size_of::<libc::c_uint>() as libc::socklen_t,
        )
    };
    if result != 0 {
        log::debug!(
            "TCP_USER_TIMEOUT not set: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// Sends a close frame on a freshly upgraded (still blocking, write-timed-out)
/// socket and closes it.
fn refuse(mut socket: TcpStream, reason: &str) {
    let _ = socket.write_all(&close_frame(CloseCode::Again, reason));
    let _ = socket.shutdown(Shutdown::Write);
}

/// Gap a writer leaves between two batches: `SEND_COST_PER_VIEWER` per connected
/// viewer, up to `MAX_SEND_INTERVAL` (0.5 ms at 10 viewers, 5 ms at 100, 50 ms at
/// 1,000: reports of six teams every few seconds always go out at once). A report after a quiet spell goes out at once; a flood of reports is
/// gathered, so the push costs a few batches a second rather than a write per report
/// and viewer, and cannot starve ingest.
pub fn send_interval(viewers: usize) -> Duration {
    (SEND_COST_PER_VIEWER * viewers.min(u32::MAX as usize) as u32).min(MAX_SEND_INTERVAL)
}

/// A viewer handed from an HTTP worker to a writer thread.
pub struct NewViewer {
    /// The upgraded socket (blocking; the writer makes it non-blocking).
    pub socket: TcpStream,
    /// The `snapshot` message, sent first (shared by the viewers that join between
    /// two updates).
    pub snapshot: HubMessage,
    /// The hub cursor right after the snapshot.
    pub subscription: Subscription,
}

/// The writer threads, started with the first viewer.
pub struct Viewers {
    hub: Arc<Hub>,
    stall_timeout: Duration,
    lanes: Mutex<Vec<Lane>>,
    next_lane: AtomicUsize,
}

/// One writer thread and the ways to reach it.
struct Lane {
    poller: Arc<Poller>,
    incoming: Sender<NewViewer>,
    thread: std::thread::JoinHandle<()>,
}

impl Viewers {
    /// Writers for the viewers of `hub`; a viewer whose socket accepts nothing for
    /// `stall_timeout` while data waits for it is dropped.
    pub fn new(hub: Arc<Hub>, stall_timeout: Duration) -> Viewers {
        Viewers {
            hub,
            stall_timeout,
            lanes: Mutex::new(Vec::new()),
            next_lane: AtomicUsize::new(0),
        }
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
                let writer = Writer::new(
                    Arc::clone(&self.hub),
                    Arc::clone(&poller),
                    receiver,
                    Arc::clone(&woken),
                    self.stall_timeout,
                );
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

/// One viewer, as a writer thread holds it.
struct Viewer {
    socket: TcpStream,
    subscription: Subscription,
    /// Frames still to write, with how much of each is written.
    pending: VecDeque<(Bytes, usize)>,
    /// A close frame is queued: send nothing more; drop the viewer once it is out.
    closing: bool,
    /// Whether the poller watches the socket for writability.
    wants_write: bool,
    /// Last time frames were queued (for pings).
    last_queued: Instant,
    /// Last time the socket accepted bytes, or frames were queued on an empty queue.
    last_progress: Instant,
    incoming: ClientFrames,
}

/// What happened to a viewer.
#[derive(Debug, PartialEq, Eq)]
enum Status {
    Open,
    Gone,
}

impl Viewer {
    fn queue(&mut self, bytes: Bytes, now: Instant) {
        if self.pending.is_empty() {
            self.last_progress = now;
        }
        self.pending.push_back((bytes, 0));
        self.last_queued = now;
    }

    /// Queues a close frame (dropping queued frames not yet started) and sends no more.
    fn close(&mut self, code: CloseCode, reason: &str, now: Instant) {
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

    /// Writes what it can without blocking.
    fn write_pending(&mut self, now: Instant) -> Status {
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
        if self.closing && self.pending.is_empty() {
            let _ = self.socket.shutdown(Shutdown::Both);
            return Status::Gone;
        }
        Status::Open
    }

    /// Reads and discards what the client sent; its close frame or end of stream
    /// ends the viewer (after our close frame, when it still fits).
    fn read_incoming(&mut self, scratch: &mut [u8], now: Instant) -> Status {
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
    last_snapshot: Option<(HubMessage, Bytes)>,
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
            ping: frame(OpCode::Control(Control::Ping), b"").into(),
            last_snapshot: None,
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
        let mut viewer = Viewer {
            socket: new.socket,
            subscription: new.subscription,
            pending: VecDeque::new(),
            closing: false,
            wants_write: false,
            last_queued: now,
            last_progress: now,
            incoming: ClientFrames::default(),
        };
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
    fn snapshot_frame(&mut self, snapshot: HubMessage) -> Bytes {
        match &self.last_snapshot {
            Some((message, frame)) if Arc::ptr_eq(message, &snapshot) => frame.clone(),
            _ => {
                let frame = text_frames(std::slice::from_ref(&snapshot));
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
        if viewer.write_pending(now) == Status::Gone {
            return self.remove(key);
        }
        let wants_write = !viewer.pending.is_empty();
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
                Err(_) => viewer.close(CloseCode::Again, FELL_BEHIND, now),
            }
            self.flush(key, now);
        }
    }

    /// Pings idle viewers, drops stuck ones, closes those that fell out of the ring.
    fn sweep(&mut self, now: Instant) {
        let oldest = self.hub.oldest_kept();
        for key in 0..self.viewers.len() {
            let Some(viewer) = self.viewers[key].as_mut() else {
                continue;
            };
            if !viewer.pending.is_empty() {
                if now.duration_since(viewer.last_progress) >= self.stall_timeout {
                    log::debug!("WebSocket viewer dropped: its socket accepts nothing");
                    self.remove(key);
                    continue;
                }
                if !viewer.closing && viewer.subscription.cursor() < oldest {
                    viewer.close(CloseCode::Again, FELL_BEHIND, now);
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

/// Server-to-client frame (unmasked): header and payload.
fn frame(opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let header = FrameHeader {
        opcode,
        ..FrameHeader::default()
    };
    let mut bytes = Vec::with_capacity(header.len(payload.len() as u64) + payload.len());
    header
        .format(payload.len() as u64, &mut bytes)
        .expect("writing to a Vec cannot fail");
    bytes.extend_from_slice(payload);
    bytes
}

/// One text frame per message, back to back in one buffer.
fn text_frames(messages: &[HubMessage]) -> Bytes {
    let mut bytes = Vec::with_capacity(messages.iter().map(|m| m.len() + 10).sum());
    for message in messages {
        bytes.extend(frame(OpCode::Data(Data::Text), message.as_bytes()));
    }
    bytes.into()
}

/// A close frame with a code and a reason (cut to fit the 125-byte control frame).
fn close_frame(code: CloseCode, reason: &str) -> Vec<u8> {
    let mut payload = u16::from(code).to_be_bytes().to_vec();
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    payload.extend_from_slice(&reason.as_bytes()[..end]);
    frame(OpCode::Control(Control::Close), &payload)
}

/// Follows the frames a client sends, only to notice its close frame; payloads are
/// skipped unread.
#[derive(Default)]
struct ClientFrames {
    header: [u8; 14],
    have: usize,
    skip: u64,
    /// A close frame (or something unparseable) was seen: the rest is not looked at.
    closed: bool,
}

impl ClientFrames {
    /// Takes the next bytes from the client; true once a close frame started (and for
    /// every call after it: later bytes are ignored).
    fn feed(&mut self, mut data: &[u8]) -> bool {
        if self.closed {
            return true;
        }
        while !data.is_empty() {
            if self.skip > 0 {
                let n = data.len().min(self.skip.min(usize::MAX as u64) as usize);
                data = &data[n..];
                self.skip -= n as u64;
                continue;
            }
            self.header[self.have] = data[0];
            self.have += 1;
            data = &data[1..];
            let mut cursor = std::io::Cursor::new(&self.header[..self.have]);
            match FrameHeader::parse(&mut cursor) {
                Ok(Some((header, length))) => {
                    self.have = 0;
                    if header.opcode == OpCode::Control(Control::Close) {
                        self.closed = true;
                        return true;
                    }
                    self.skip = length;
                }
                Ok(None) if self.have < self.header.len() => {}
                // Not a frame we can follow: treat it like a close.
                _ => {
                    self.have = 0;
                    self.closed = true;
                    return true;
                }
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tungstenite::protocol::frame::{CloseFrame, Frame};

    #[test]
    fn client_bytes_after_a_close_frame_are_ignored() {
        let mut frames = ClientFrames::default();
        let close = client_frame(Frame::close(None));
        assert!(frames.feed(&close));
        // A client that keeps sending after its close (or garbage): never a panic.
        for _ in 0..64 {
            assert!(frames.feed(&[0x81, 0xff, 0x00, 0x01]));
        }
        let mut garbage = ClientFrames::default();
        assert!(garbage.feed(&[0xff; 64]));
        assert!(garbage.feed(&[0x00; 4096]));
    }

    #[test]
    fn send_interval_grows_with_viewers_up_to_a_cap() {
        assert_eq!(send_interval(0), Duration::ZERO);
        assert_eq!(send_interval(100), Duration::from_millis(5));
        assert_eq!(send_interval(1000), Duration::from_millis(50));
        assert_eq!(send_interval(100_000), MAX_SEND_INTERVAL);
    }

    fn parse(bytes: &[u8]) -> Vec<(OpCode, Vec<u8>)> {
        let mut cursor = std::io::Cursor::new(bytes);
        let mut frames = Vec::new();
        while (cursor.position() as usize) < bytes.len() {
            let (header, length) = FrameHeader::parse(&mut cursor).unwrap().unwrap();
            assert_eq!(header.mask, None, "server frames are unmasked");
            let start = cursor.position() as usize;
            let end = start + length as usize;
            frames.push((header.opcode, bytes[start..end].to_vec()));
            cursor.set_position(end as u64);
        }
        frames
    }

    #[test]
    fn text_frames_of_every_length_class_parse_back() {
        let messages: Vec<HubMessage> = [5, 126, 70_000]
            .iter()
            .map(|&n| "x".repeat(n).into())
            .collect();
        let frames = parse(&text_frames(&messages));
        assert_eq!(frames.len(), 3);
        for ((opcode, payload), message) in frames.iter().zip(&messages) {
            assert_eq!(*opcode, OpCode::Data(Data::Text));
            assert_eq!(payload, message.as_bytes());
        }
    }

    #[test]
    fn close_frame_carries_code_and_reason_within_125_bytes() {
        let frames = parse(&close_frame(CloseCode::Again, FELL_BEHIND));
        assert_eq!(frames[0].0, OpCode::Control(Control::Close));
        assert_eq!(&frames[0].1[..2], &1013u16.to_be_bytes());
        assert_eq!(&frames[0].1[2..], FELL_BEHIND.as_bytes());
        let long = close_frame(CloseCode::Away, &"é".repeat(100));
        assert!(parse(&long)[0].1.len() <= 125);
    }

    fn client_frame(frame: Frame) -> Vec<u8> {
        let mut frame = frame;
        frame.header_mut().mask = Some([1, 2, 3, 4]);
        let mut bytes = Vec::new();
        frame.format(&mut bytes).unwrap();
        bytes
    }

    #[test]
    fn client_frames_notice_the_close_after_pongs_and_text_split_anywhere() {
        let mut stream = client_frame(Frame::pong(vec![7; 3]));
        stream.extend(client_frame(Frame::message(
            vec![b'a'; 70_000],
            OpCode::Data(Data::Text),
            true,
        )));
        let before_close = stream.len();
        stream.extend(client_frame(Frame::close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "bye".into(),
        }))));
        for split in [1, 2, 7, 1000] {
            let mut frames = ClientFrames::default();
            let mut seen_at = None;
            for (i, chunk) in stream.chunks(split).enumerate() {
                if frames.feed(chunk) {
                    seen_at = Some(i * split);
                    break;
                }
            }
            let seen_at = seen_at.expect("close noticed");
            // noticed in a chunk holding part of the close frame's 6-byte header
            assert!(seen_at + split > before_close && seen_at < before_close + 6);
        }
    }
}
