//! One client connection, shared by the reactor (which reads request heads), the requests
//! read from it (which may read a body and write a response) and the writer thread (which
//! finishes responses a slow client does not take at once). BenchBoard patch.
//!
//! - **Turns.** Responses go out in the order of the requests (pipelining). Request `n`
//!   writes when `OutState::next == n` and nobody else is writing. A response given with
//!   `respond_detached` never makes its caller wait: it is queued, written inline as far as
//!   the socket takes it without blocking, and finished by the writer thread.
//! - **Minimum rate.** Every response must be taken at `Limits::min_send_rate` bytes per
//!   second, measured over windows of `ConnectionOptions::write_timeout`; a slower reader
//!   is cut off.
//! - **Read side.** The bytes received but not yet parsed (`buf`) belong to the reactor,
//!   or to the body reader of the current request, which sends them back when the body
//!   is done (or the request dropped).

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use polling::Poller;

use crate::connection::Connection;
use crate::head::{ChunkedDecoder, Refusal};
use crate::response::OutBody;
use crate::{BodyTooLarge, ConnectionOptions, Limits};

/// Largest unread remainder of a request body that is skipped (read and discarded by the
/// reactor) to keep a keep-alive connection open. Anything larger closes the connection.
pub(crate) const MAX_SKIP: u64 = 64 * 1024;

/// Most bytes a caller of `respond_detached` writes itself before handing the rest of a
/// response to the writer thread, even to a client that takes it all at once.
const INLINE_BUDGET: usize = 1024 * 1024;

/// Most bytes of request bodies read ahead by the reactor and not yet released, over all
/// connections. Past it, a body is handed to the application unread.
const PREREAD_BUDGET: usize = 32 * 1024 * 1024;

/// Marks an unknown number of unread bytes.
const UNKNOWN: u64 = u64::MAX;

/// A channel to a thread that waits on a poller: every message wakes the poller up.
pub(crate) struct Link<T> {
    tx: Mutex<Sender<T>>,
    poller: Arc<Poller>,
}

impl<T> Link<T> {
    pub(crate) fn new(tx: Sender<T>, poller: Arc<Poller>) -> Link<T> {
        Link {
            tx: Mutex::new(tx),
            poller,
        }
    }

    /// Sends `msg`; gives it back if the thread has ended.
    pub(crate) fn send(&self, msg: T) -> Result<(), T> {
        let sent = match self.tx.lock() {
            Ok(tx) => tx.send(msg).map_err(|e| e.0),
            Err(_) => Err(msg),
        };
        if sent.is_ok() {
            let _ = self.poller.notify();
        }
        sent
    }
}

/// What the server's connections share.
pub(crate) struct Shared {
    pub(crate) options: ConnectionOptions,
    pub(crate) limits: Limits,
    /// An HTTPS server's TLS configuration.
    pub(crate) tls: Option<Arc<rustls::ServerConfig>>,
    /// Client connections open now (each `Conn` counts once, until its socket is closed).
    pub(crate) open: AtomicUsize,
    preread: AtomicUsize,
    pub(crate) reactor: Link<ToReactor>,
    pub(crate) sender: Link<Job>,
}

impl Shared {
    pub(crate) fn new(
        options: ConnectionOptions,
        limits: Limits,
        tls: Option<Arc<rustls::ServerConfig>>,
        reactor: Link<ToReactor>,
        sender: Link<Job>,
    ) -> Shared {
        Shared {
            options,
            limits,
            tls,
            open: AtomicUsize::new(0),
            preread: AtomicUsize::new(0),
            reactor,
            sender,
        }
    }

    /// Reserves room for `bytes` of a body read ahead; `None` when the budget is spent.
    pub(crate) fn charge(self: &Arc<Self>, bytes: usize) -> Option<Charge> {
        self.preread
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                used.checked_add(bytes).filter(|&n| n <= PREREAD_BUDGET)
            })
            .ok()?;
        Some(Charge {
            shared: Arc::clone(self),
            bytes,
        })
    }

    fn min_window_bytes(&self) -> u64 {
        let window = self.options.write_timeout.unwrap_or_default();
        (self.limits.min_send_rate as f64 * window.as_secs_f64()).ceil() as u64
    }
}

/// Room taken in the read-ahead budget, given back when dropped (with the request).
pub(crate) struct Charge {
    shared: Arc<Shared>,
    bytes: usize,
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.shared.preread.fetch_sub(self.bytes, Ordering::SeqCst);
    }
}

/// Messages to the reactor.
pub(crate) enum ToReactor {
    /// A request body is done with the read side; `buf` holds what was received after it.
    ReadSide {
        key: usize,
        id: u64,
        buf: Vec<u8>,
        leftover: Leftover,
    },
    /// A response is out (or given up): the reactor may read on, or close.
    Done { key: usize, id: u64 },
}

/// What is left of a request body when its reader gives the read side back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Leftover {
    Nothing,
    /// Read and discard this many bytes before the next request.
    Skip(u64),
    /// Where the next request would start is unknown (or too far): no more requests.
    Close,
}

/// A response for the writer thread.
pub(crate) struct Job {
    pub(crate) conn: Arc<Conn>,
    pub(crate) out: Outgoing,
}

pub(crate) struct Conn {
    pub(crate) socket: Connection,
    pub(crate) remote_addr: Option<SocketAddr>,
    /// The reactor's key for this connection, and a number no other connection has.
    pub(crate) key: usize,
    pub(crate) id: u64,
    pub(crate) shared: Arc<Shared>,
    out: Mutex<OutState>,
    turn: Condvar,
    /// Requests (and tiny_http's own answers) whose turn to write has not ended yet.
    pub(crate) in_flight: AtomicUsize,
    /// The application owns a duplicate of the socket (`upgrade_tcp`): never shut it down.
    pub(crate) detached: AtomicBool,
    /// No more requests: close once the responses are out.
    pub(crate) closing: AtomicBool,
}

#[derive(Default)]
struct OutState {
    /// The request whose response goes out next.
    next: u64,
    /// Someone writes a response right now.
    busy: bool,
    /// Detached responses waiting for their turn.
    queued: BTreeMap<u64, Outgoing>,
    /// A write failed or the connection is closing: nothing more is written.
    broken: bool,
}

impl Conn {
    pub(crate) fn new(
        socket: Connection,
        remote_addr: Option<SocketAddr>,
        key: usize,
        id: u64,
        shared: Arc<Shared>,
    ) -> Conn {
        shared.open.fetch_add(1, Ordering::SeqCst);
        Conn {
            socket,
            remote_addr,
            key,
            id,
            shared,
            out: Mutex::new(OutState::default()),
            turn: Condvar::new(),
            in_flight: AtomicUsize::new(0),
            detached: AtomicBool::new(false),
            closing: AtomicBool::new(false),
        }
    }

    fn state(&self) -> MutexGuard<'_, OutState> {
        // the state stays consistent even if a holder panicked: every update is one step
        self.out.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }

    /// Queues a response for its turn; writes it right away if it is its turn, as far as
    /// the socket takes it without blocking, and leaves the rest to the writer thread.
    pub(crate) fn send_detached(self: &Arc<Self>, out: Outgoing) {
        let mut state = self.state();
        if state.broken {
            drop(state);
            self.turn_ended(1);
            return;
        }
        if state.next == out.seq && !state.busy {
            state.busy = true;
            drop(state);
            self.run(out);
        } else {
            state.queued.insert(out.seq, out);
        }
    }

    /// Writes `out` inline; hands it to the writer thread if the socket is full.
    fn run(self: &Arc<Self>, mut out: Outgoing) {
        loop {
            match out.pump(&self.socket, INLINE_BUDGET) {
                Pump::Done => match self.end_turn(out.seq, out.close_after, false) {
                    Some(next) => out = next,
                    None => return,
                },
                Pump::Failed => {
                    self.end_turn(out.seq, true, true);
                    return;
                }
                Pump::Blocked => {
                    let job = Job {
                        conn: Arc::clone(self),
                        out,
                    };
                    if let Err(job) = self.shared.sender.send(job) {
                        // the writer thread is gone (server shutting down)
                        self.end_turn(job.out.seq, true, true);
                    }
                    return;
                }
            }
        }
    }

    /// Waits for the turn of request `seq` to write (blocking writers). Returns false if
    /// the connection is broken: the caller writes nothing, and still ends its turn.
    pub(crate) fn wait_turn(&self, seq: u64) -> bool {
        let mut state = self.state();
        loop {
            if state.broken {
                return false;
            }
            if state.next == seq && !state.busy {
                state.busy = true;
                return true;
            }
            state = self.turn.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Gives the turn back without ending it (after an interim `100 Continue`).
    pub(crate) fn pause_turn(&self) {
        self.state().busy = false;
        self.turn.notify_all();
    }

    /// Ends the turn of `seq` after its response was written (or given up: `failed`).
    /// Returns the next detached response if it is queued, now in its turn.
    pub(crate) fn end_turn(
        self: &Arc<Self>,
        seq: u64,
        close: bool,
        failed: bool,
    ) -> Option<Outgoing> {
        let mut state = self.state();
        let mut ended = 1;
        state.busy = false;
        if state.next == seq {
            state.next = seq + 1;
        }
        if close || failed {
            self.closing.store(true, Ordering::SeqCst);
            state.broken = true;
        }
        let next = if state.broken {
            ended += state.queued.len();
            state.queued.clear();
            None
        } else {
            let next_seq = state.next;
            let next = state.queued.remove(&next_seq);
            state.busy = next.is_some();
            next
        };
        drop(state);
        self.turn.notify_all();
        self.turn_ended(ended);
        next
    }

    /// Ends the turn of a request that writes nothing because the connection is broken.
    pub(crate) fn skip_turn(self: &Arc<Self>) {
        self.turn_ended(1);
    }

    fn turn_ended(&self, n: usize) {
        self.in_flight.fetch_sub(n, Ordering::SeqCst);
        let _ = self.shared.reactor.send(ToReactor::Done {
            key: self.key,
            id: self.id,
        });
    }

    /// Sends the read side back to the reactor.
    pub(crate) fn give_back(&self, buf: Vec<u8>, leftover: Leftover) {
        let _ = self.shared.reactor.send(ToReactor::ReadSide {
            key: self.key,
            id: self.id,
            buf,
            leftover,
        });
    }

    /// Ends a turn and writes the next detached response if it is queued.
    pub(crate) fn end_turn_and_continue(self: &Arc<Self>, seq: u64, close: bool, failed: bool) {
        if let Some(next) = self.end_turn(seq, close, failed) {
            self.run(next);
        }
    }

    /// A blocking write of request `seq` failed (a client too slow, or gone): cut the
    /// connection and end the turn.
    pub(crate) fn fail(self: &Arc<Self>, seq: u64) {
        let _ = self.socket.shutdown(std::net::Shutdown::Both);
        self.end_turn(seq, true, true);
    }

    /// A blocking writer for the turn this caller holds, with the minimum rate.
    pub(crate) fn rate_writer(self: &Arc<Self>) -> RateWriter {
        RateWriter {
            conn: Arc::clone(self),
            rate: RateWindow::new(&self.shared),
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.shared.open.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Checks that a response is taken fast enough: at least `min_bytes` in every `window`.
pub(crate) struct RateWindow {
    window: Option<Duration>,
    min_bytes: u64,
    start: Instant,
    bytes: u64,
}

impl RateWindow {
    pub(crate) fn new(shared: &Shared) -> RateWindow {
        RateWindow {
            window: shared.options.write_timeout,
            min_bytes: shared.min_window_bytes(),
            start: Instant::now(),
            bytes: 0,
        }
    }

    fn restart(&mut self, now: Instant) {
        self.start = now;
        self.bytes = 0;
    }

    fn progress(&mut self, n: usize, now: Instant) {
        self.bytes += n as u64;
        if self.bytes >= self.min_bytes {
            self.restart(now);
        }
    }

    /// The client took less than the minimum in a whole window.
    pub(crate) fn expired(&self, now: Instant) -> bool {
        self.window
            .is_some_and(|w| now.saturating_duration_since(self.start) > w)
    }

    /// Time left in the current window (`None`: no limit).
    fn left(&self, now: Instant) -> Option<Duration> {
        self.window.map(|w| {
            (self.start + w)
                .saturating_duration_since(now)
                .max(Duration::from_millis(1))
        })
    }
}

fn too_slow() -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        "the client takes the response slower than the minimum rate",
    )
}

/// Blocking writes for `respond`, `into_writer` and `upgrade`, cut off below the minimum
/// rate. Writes straight to the socket (callers buffer).
pub(crate) struct RateWriter {
    conn: Arc<Conn>,
    rate: RateWindow,
}

impl Write for RateWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let now = Instant::now();
        if self.rate.expired(now) {
            return Err(too_slow());
        }
        self.conn.socket.set_write_timeout(self.rate.left(now))?;
        match self.conn.socket.send_blocking(buf) {
            Ok(n) => {
                self.rate.progress(n, Instant::now());
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(too_slow()),
            Err(e) => Err(e),
        }
    }

    /// Waits until a TLS session's queued records are out (nothing to do for plain TCP).
    fn flush(&mut self) -> io::Result<()> {
        let now = Instant::now();
        if self.rate.expired(now) {
            return Err(too_slow());
        }
        self.conn.socket.set_write_timeout(self.rate.left(now))?;
        match self.conn.socket.flush_blocking() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(too_slow()),
            other => other,
        }
    }
}

/// A response on its way out without blocking anyone.
pub(crate) struct Outgoing {
    pub(crate) seq: u64,
    wire: Vec<u8>,
    pos: usize,
    body: Option<OutBody<Box<dyn Read + Send>>>,
    pub(crate) close_after: bool,
    started: bool,
    pub(crate) rate: RateWindow,
}

pub(crate) enum Pump {
    Done,
    /// The socket is full (or this round's budget is spent): wait until it is writable.
    Blocked,
    Failed,
}

impl Outgoing {
    pub(crate) fn new(
        shared: &Shared,
        seq: u64,
        head: Vec<u8>,
        body: Option<OutBody<Box<dyn Read + Send>>>,
        close_after: bool,
    ) -> Outgoing {
        Outgoing {
            seq,
            wire: head,
            pos: 0,
            body,
            close_after,
            started: false,
            rate: RateWindow::new(shared),
        }
    }

    /// Writes what the socket takes without blocking, up to `budget` bytes.
    pub(crate) fn pump(&mut self, socket: &Connection, budget: usize) -> Pump {
        let mut sent = 0;
        if !self.started {
            self.started = true;
            self.rate.restart(Instant::now());
        }
        loop {
            if self.pos == self.wire.len() {
                self.wire.clear();
                self.pos = 0;
                if let Some(ref mut body) = self.body {
                    if let Err(e) = body.fill(&mut self.wire) {
                        log::debug!("Response body failed: {}", e);
                        return Pump::Failed;
                    }
                }
                if self.wire.is_empty() {
                    self.body = None;
                    // for TLS, done once the last records are on the wire
                    return match socket.flush_now() {
                        Ok(()) => Pump::Done,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Pump::Blocked,
                        Err(_) => Pump::Failed,
                    };
                }
            }
            if sent >= budget {
                return Pump::Blocked;
            }
            match socket.send_now(&self.wire[self.pos..]) {
                Ok(n) => {
                    self.pos += n;
                    sent += n;
                    self.rate.progress(n, Instant::now());
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Pump::Blocked,
                Err(_) => return Pump::Failed,
            }
        }
    }
}

/// How much of a request body is still on the socket, shared by its reader and the request
/// (to decide at `respond` time whether the connection can be kept).
#[derive(Debug)]
pub(crate) struct BodyStatus {
    unread: AtomicU64,
}

impl BodyStatus {
    fn new(unread: Option<u64>) -> Arc<BodyStatus> {
        Arc::new(BodyStatus {
            unread: AtomicU64::new(unread.unwrap_or(UNKNOWN)),
        })
    }

    pub(crate) fn unread(&self) -> Option<u64> {
        match self.unread.load(Ordering::SeqCst) {
            UNKNOWN => None,
            n => Some(n),
        }
    }

    /// Giving up on the rest of the body would make the connection unusable.
    pub(crate) fn forces_close(&self) -> bool {
        self.unread().is_none_or(|n| n > MAX_SKIP)
    }

    fn set(&self, unread: Option<u64>) {
        self.unread
            .store(unread.unwrap_or(UNKNOWN), Ordering::SeqCst);
    }
}

/// How a streamed body ends.
enum BodyKind {
    /// This many bytes are left.
    Length(u64),
    Chunked(ChunkedDecoder),
    /// An upgraded connection: everything, until the client closes.
    Raw,
}

/// The reader of a request body that is (partly) still on the socket, used on the
/// application's thread: blocking reads, all bounded by the request's deadline. At the end
/// of the body the read side goes back to the reactor at once, so the next pipelined
/// request is parsed while this one is answered.
pub(crate) struct StreamBody {
    conn: Arc<Conn>,
    /// Received and not yet consumed; `None` once given back to the reactor.
    buf: Option<Vec<u8>>,
    kind: BodyKind,
    deadline: Option<Instant>,
    max_wire: Option<u64>,
    status: Arc<BodyStatus>,
    /// A 100 Continue was owed and not sent: the body may never come.
    pub(crate) unsent_continue: bool,
    failed: bool,
}

impl StreamBody {
    pub(crate) fn length(
        conn: Arc<Conn>,
        buf: Vec<u8>,
        length: u64,
        deadline: Option<Instant>,
    ) -> (StreamBody, Arc<BodyStatus>) {
        Self::new(conn, buf, BodyKind::Length(length), Some(length), deadline)
    }

    pub(crate) fn chunked(
        conn: Arc<Conn>,
        buf: Vec<u8>,
        deadline: Option<Instant>,
    ) -> (StreamBody, Arc<BodyStatus>) {
        let kind = BodyKind::Chunked(ChunkedDecoder::default());
        Self::new(conn, buf, kind, None, deadline)
    }

    pub(crate) fn raw(conn: Arc<Conn>, buf: Vec<u8>) -> (StreamBody, Arc<BodyStatus>) {
        Self::new(conn, buf, BodyKind::Raw, None, None)
    }

    fn new(
        conn: Arc<Conn>,
        buf: Vec<u8>,
        kind: BodyKind,
        unread: Option<u64>,
        deadline: Option<Instant>,
    ) -> (StreamBody, Arc<BodyStatus>) {
        let status = BodyStatus::new(unread);
        let max_wire = conn.shared.limits.max_chunked_body;
        let body = StreamBody {
            conn,
            buf: Some(buf),
            kind,
            deadline,
            max_wire,
            status: Arc::clone(&status),
            unsent_continue: false,
            failed: false,
        };
        (body, status)
    }

    /// Blocking read from the socket, within the deadline.
    fn recv(&self, out: &mut [u8]) -> io::Result<usize> {
        let timeout = match (&self.kind, self.deadline) {
            (BodyKind::Raw, _) => self.conn.shared.options.read_timeout,
            (_, None) => None,
            (_, Some(deadline)) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(body_timeout());
                }
                Some(left.max(Duration::from_millis(1)))
            }
        };
        self.conn.socket.set_read_timeout(timeout)?;
        match self.conn.socket.recv_blocking(out) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && self.deadline.is_some() => {
                Err(body_timeout())
            }
            other => other,
        }
    }

    fn read_inner(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let buf = match self.buf {
            Some(ref mut buf) => buf,
            None => return Ok(0),
        };
        match self.kind {
            BodyKind::Length(0) => Ok(0),
            BodyKind::Length(left) => {
                let want = (left.min(out.len() as u64)) as usize;
                let n = if !buf.is_empty() {
                    let n = want.min(buf.len());
                    out[..n].copy_from_slice(&buf[..n]);
                    buf.drain(..n);
                    n
                } else {
                    self.recv(&mut out[..want])?
                };
                if n == 0 && want > 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the client closed the connection before the end of the body",
                    ));
                }
                self.kind = BodyKind::Length(left - n as u64);
                self.status.set(Some(left - n as u64));
                Ok(n)
            }
            BodyKind::Raw => {
                if !buf.is_empty() {
                    let n = out.len().min(buf.len());
                    out[..n].copy_from_slice(&buf[..n]);
                    buf.drain(..n);
                    return Ok(n);
                }
                self.recv(out)
            }
            BodyKind::Chunked(_) => self.read_chunked(out),
        }
    }

    fn read_chunked(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            let mut buf = self.buf.take().unwrap_or_default();
            let decoder = match self.kind {
                BodyKind::Chunked(ref mut decoder) => decoder,
                _ => unreachable!("read_chunked is only called for chunked bodies"),
            };
            if decoder.is_done() || out.is_empty() {
                self.buf = Some(buf);
                return Ok(0);
            }
            if buf.is_empty() {
                let mut piece = [0u8; 8 * 1024];
                self.buf = Some(buf);
                let n = self.recv(&mut piece)?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the client closed the connection before the end of the chunked body",
                    ));
                }
                self.buf
                    .as_mut()
                    .expect("just put back")
                    .extend_from_slice(&piece[..n]);
                continue;
            }
            let result = decoder.decode(&buf, out);
            let (consumed, produced) = match result {
                Ok(done) => done,
                Err(refusal) => {
                    self.buf = Some(buf);
                    return Err(bad_chunk(refusal));
                }
            };
            buf.drain(..consumed);
            let (wire, done) = (decoder.wire, decoder.is_done());
            self.buf = Some(buf);
            if let Some(limit) = self.max_wire {
                if wire > limit {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        BodyTooLarge { limit },
                    ));
                }
            }
            if done {
                self.status.set(Some(0));
            }
            if produced > 0 || done {
                return Ok(produced);
            }
        }
    }

    /// Sends the read side back to the reactor.
    fn go_home(&mut self, leftover: Leftover) {
        if let Some(buf) = self.buf.take() {
            self.conn.give_back(buf, leftover);
        }
    }

    fn finished(&self) -> bool {
        match self.kind {
            BodyKind::Length(left) => left == 0,
            BodyKind::Chunked(ref decoder) => decoder.is_done(),
            BodyKind::Raw => false,
        }
    }
}

fn body_timeout() -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        "request timeout: the body did not arrive in time",
    )
}

fn bad_chunk(refusal: Refusal) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, refusal.message)
}

impl Read for StreamBody {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.failed {
            return Err(io::Error::other("the request body already failed"));
        }
        match self.read_inner(out) {
            Ok(n) => {
                if self.finished() && !matches!(self.kind, BodyKind::Raw) {
                    self.go_home(Leftover::Nothing);
                }
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => {
                self.failed = true;
                self.status.set(None);
                Err(e)
            }
        }
    }
}

impl Drop for StreamBody {
    fn drop(&mut self) {
        let leftover = match self.kind {
            _ if self.failed || self.unsent_continue => Leftover::Close,
            BodyKind::Length(0) => Leftover::Nothing,
            BodyKind::Length(left) if left <= MAX_SKIP => Leftover::Skip(left),
            BodyKind::Chunked(ref decoder) if decoder.is_done() => Leftover::Nothing,
            _ => Leftover::Close,
        };
        self.go_home(leftover);
    }
}
