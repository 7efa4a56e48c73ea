//! The reactor thread (BenchBoard patch): accepts connections and reads every request head
//! (and small bodies) without blocking, so a connection costs no thread while it is idle
//! or while a slow client trickles its request. Only a complete request reaches the
//! application's queue.
//!
//! One thread waits on a poller holding the listener and every connection that waits for
//! bytes. A connection is in one [`Phase`]: waiting between requests, reading a head,
//! reading a body ahead, lending its read side to a request body the application reads,
//! closing once its responses are out, or lingering (reading and discarding what the client
//! still sends after the server's last answer, so that the client reads that answer
//! instead of a reset).

use std::collections::BTreeSet;
use std::io::{self, Cursor, ErrorKind};
use std::net::Shutdown;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant};

use polling::{Event, Events, Poller};

use crate::common::HTTPVersion;
use crate::conn::{Charge, Conn, Leftover, Outgoing, Shared, StreamBody, ToReactor};
use crate::connection::{Connection, Listener};
use crate::head::{self, BodyFraming, ChunkedDecoder, Framing, Head, HeadCursor, HeadScan};
use crate::head::{Refusal, REQUEST_TIMEOUT};
use crate::tls::TlsSocket;
use crate::util::MessagesQueue;
use crate::{Message, Request};

/// Poller key of the listener.
const LISTENER: usize = usize::MAX - 1;
/// How often deadlines are checked.
const SWEEP: Duration = Duration::from_millis(50);
/// Most requests of one connection parsed and not yet answered (pipelining).
const MAX_PIPELINE: usize = 16;
/// Most connections accepted per wake-up, so that reading is not starved by a flood.
const ACCEPT_BATCH: usize = 256;
/// Pause after the process ran out of descriptors (or memory) while accepting.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// Connections refused with a 503 still read (and discarded) briefly: most at once.
const MAX_REFUSED: usize = 256;
/// How long a refused connection is read before it is closed.
const REFUSED_LINGER: Duration = Duration::from_secs(1);
/// Read at most this much at once.
const READ_PIECE: usize = 16 * 1024;
/// Bodies read ahead by default (upstream: `Content-Length` bodies up to 1 KiB).
const DEFAULT_PREREAD: usize = 1024;

/// Safe wrapper around `Poller::add`.
#[allow(unsafe_code)]
pub(crate) fn watch(
    poller: &Poller,
    fd: std::os::fd::BorrowedFd<'_>,
    event: Event,
) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: every caller keeps the descriptor open while it is registered and deletes
    // it from the poller before closing it (`Reactor::remove`, the writer thread's
    // `finish`, and the final clean-up of both threads).
    unsafe { poller.add(fd.as_raw_fd(), event) }
}

enum Phase {
    /// Between requests (or before the first one).
    Waiting { since: Instant },
    /// Part of a request head has arrived.
    Head {
        deadline: Option<Instant>,
        cursor: HeadCursor,
    },
    /// The head is parsed; its body is read ahead before the request is handed over.
    Body(Box<Ahead>),
    /// A request body reader has the read side.
    Lent,
    /// No more requests: close when the responses are out and the read side is back.
    Closing,
    /// The server's last answer is out: discard what still comes, briefly.
    Lingering { until: Instant, left: u64 },
}

struct Ahead {
    head: Head,
    framing: Framing,
    deadline: Option<Instant>,
    /// for chunked bodies: the decoder, and how many bytes of `buf` it has checked
    chunked: Option<(ChunkedDecoder, usize)>,
    charge: Charge,
}

struct Entry {
    conn: Arc<Conn>,
    /// Received, not yet parsed. `None` while lent to a body reader.
    buf: Option<Vec<u8>>,
    phase: Phase,
    /// Sequence number of the next request.
    seq: u64,
    /// Ticket in `Reactor::idle` while idle.
    idle: Option<u64>,
    /// The client closed its side.
    eof: bool,
    /// Bytes of an unread body to discard before the next request.
    skip: u64,
}

/// What to do after one step of a connection's state machine.
enum Step {
    Again,
    /// Wait until the socket is readable.
    Wait,
    /// Wait for a message (response done, read side back).
    Hold,
    Gone,
}

/// Writes one log line per second at most, counting the ones left out.
struct RateLimitedLog {
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimitedLog {
    fn new() -> RateLimitedLog {
        RateLimitedLog {
            last: None,
            suppressed: 0,
        }
    }

    fn warn(&mut self, message: std::fmt::Arguments<'_>) {
        let now = Instant::now();
        if self.last.is_some_and(|t| now - t < Duration::from_secs(1)) {
            self.suppressed += 1;
            return;
        }
        if self.suppressed > 0 {
            log::warn!("{} ({} similar lines suppressed)", message, self.suppressed);
        } else {
            log::warn!("{}", message);
        }
        self.last = Some(now);
        self.suppressed = 0;
    }
}

pub(crate) struct Reactor {
    poller: Arc<Poller>,
    listener: Option<Listener>,
    /// The listener is paused until then (out of descriptors).
    backoff: Option<Instant>,
    shared: Arc<Shared>,
    messages: Arc<MessagesQueue<Message>>,
    inbox: Receiver<ToReactor>,
    close: Arc<AtomicBool>,
    entries: Vec<Option<Entry>>,
    free: Vec<usize>,
    /// Idle connections, oldest first: (ticket, key).
    idle: BTreeSet<(u64, usize)>,
    tickets: u64,
    next_id: u64,
    refused: Vec<(Connection, Instant)>,
    last_sweep: Instant,
    accept_log: RateLimitedLog,
    busy_log: RateLimitedLog,
}

impl Reactor {
    pub(crate) fn new(
        poller: Arc<Poller>,
        listener: Listener,
        shared: Arc<Shared>,
        messages: Arc<MessagesQueue<Message>>,
        inbox: Receiver<ToReactor>,
        close: Arc<AtomicBool>,
    ) -> io::Result<Reactor> {
        listener.set_nonblocking()?;
        watch(&poller, listener.as_fd(), Event::readable(LISTENER))?;
        Ok(Reactor {
            poller,
            listener: Some(listener),
            backoff: None,
            shared,
            messages,
            inbox,
            close,
            entries: Vec::new(),
            free: Vec::new(),
            idle: BTreeSet::new(),
            tickets: 0,
            next_id: 0,
            refused: Vec::new(),
            last_sweep: Instant::now(),
            accept_log: RateLimitedLog::new(),
            busy_log: RateLimitedLog::new(),
        })
    }

    pub(crate) fn run(mut self) {
        let mut events = Events::new();
        let mut ready = Vec::new();
        while !self.close.load(Ordering::SeqCst) {
            events.clear();
            if let Err(e) = self.poller.wait(&mut events, Some(SWEEP)) {
                if e.kind() != ErrorKind::Interrupted {
                    log::error!("Waiting for client connections failed: {}", e);
                    std::thread::sleep(SWEEP);
                }
            }
            ready.clear();
            ready.extend(events.iter().map(|event| event.key));
            for &key in &ready {
                if key == LISTENER {
                    self.accept();
                } else {
                    self.progress(key);
                }
            }
            while let Ok(message) = self.inbox.try_recv() {
                self.message(message);
            }
            let now = Instant::now();
            if now.saturating_duration_since(self.last_sweep) >= SWEEP {
                self.last_sweep = now;
                self.sweep(now);
            }
        }
        self.shut_down();
    }

    fn shut_down(&mut self) {
        if let Some(listener) = self.listener.take() {
            let _ = self.poller.delete(&listener);
        }
        for key in 0..self.entries.len() {
            if self.entries[key].is_some() {
                self.remove(key);
            }
        }
        log::debug!("Terminating the reactor thread");
    }

    // ---- accepting ----

    fn accept(&mut self) {
        for _ in 0..ACCEPT_BATCH {
            let accepted = match self.listener {
                Some(ref listener) => listener.accept(),
                None => return,
            };
            match accepted {
                Ok((socket, addr)) => self.admit(socket, addr),
                Err(ref e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(ref e) if is_per_connection_accept_error(e) => continue,
                Err(e) if is_fatal_accept_error(&e) => {
                    log::error!("The listening socket failed, no more connections: {}", e);
                    if let Some(listener) = self.listener.take() {
                        let _ = self.poller.delete(&listener);
                    }
                    self.messages.push(e.into());
                    return;
                }
                Err(e) => {
                    // EMFILE, ENFILE, ENOBUFS, ENOMEM: make room and retry a little later
                    self.accept_log.warn(format_args!(
                        "Cannot accept a client connection ({}, {} open): closing the oldest idle one and pausing for {:?}",
                        e,
                        self.shared.open.load(Ordering::SeqCst),
                        ACCEPT_BACKOFF
                    ));
                    self.evict_oldest_idle();
                    self.backoff = Some(Instant::now() + ACCEPT_BACKOFF);
                    return;
                }
            }
        }
        self.arm_listener();
    }

    fn arm_listener(&mut self) {
        if let Some(ref listener) = self.listener {
            if let Err(e) = self.poller.modify(listener, Event::readable(LISTENER)) {
                log::error!("Cannot watch the listening socket: {}", e);
                self.backoff = Some(Instant::now() + ACCEPT_BACKOFF);
            }
        }
    }

    fn admit(&mut self, socket: Connection, addr: Option<std::net::SocketAddr>) {
        let max = self.shared.limits.max_connections;
        // the connections this thread keeps (not `open`, which still counts one it has
        // closed while a worker drops its last handle)
        let kept = self.entries.len().saturating_sub(self.free.len());
        if kept >= max && !self.evict_oldest_idle() {
            self.refuse_busy(socket);
            return;
        }
        let socket = match (socket, &self.shared.tls) {
            (Connection::Tcp(tcp), Some(config)) => match TlsSocket::new(tcp, config) {
                Ok(tls) => Connection::Tls(Box::new(tls)),
                Err(e) => {
                    log::warn!("Dropping a new client connection: no TLS session: {}", e);
                    return;
                }
            },
            (socket, _) => socket,
        };
        let key = self.free.pop().unwrap_or(self.entries.len());
        let id = self.next_id;
        self.next_id += 1;
        let conn = Arc::new(Conn::new(socket, addr, key, id, Arc::clone(&self.shared)));
        if let Err(e) = watch(&self.poller, conn.socket.as_fd(), Event::readable(key)) {
            log::warn!("Dropping a new client connection: cannot watch it: {}", e);
            self.free.push(key);
            return;
        }
        let entry = Entry {
            conn,
            buf: Some(Vec::new()),
            phase: Phase::Waiting {
                since: Instant::now(),
            },
            seq: 0,
            idle: None,
            eof: false,
            skip: 0,
        };
        if key == self.entries.len() {
            self.entries.push(Some(entry));
        } else {
            self.entries[key] = Some(entry);
        }
        self.update_idle(key);
    }

    /// Over `max_connections` with no idle connection to close: a quick 503 (an HTTPS
    /// server closes the connection instead: a 503 would cost a TLS handshake).
    fn refuse_busy(&mut self, socket: Connection) {
        self.busy_log.warn(format_args!(
            "Refusing a client connection: {} connections open (the maximum), none idle",
            self.shared.open.load(Ordering::SeqCst)
        ));
        if self.shared.tls.is_some() {
            return;
        }
        let body = format!(
            "{{\"error\":\"the server has too many connections open ({}); retry in a few seconds\"}}",
            self.shared.limits.max_connections
        );
        let answer = format!(
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\nAccess-Control-Allow-Origin: *\r\nRetry-After: 5\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{}",
            body.len(),
            body
        );
        let _ = socket.send_now(answer.as_bytes());
        let _ = socket.shutdown(Shutdown::Write);
        if self.refused.len() < MAX_REFUSED {
            self.refused.push((socket, Instant::now() + REFUSED_LINGER));
        }
    }

    /// Closes the connection idle for the longest time; false if none is idle.
    fn evict_oldest_idle(&mut self) -> bool {
        match self.idle.iter().next().copied() {
            Some((_, key)) => {
                log::debug!("Closing the oldest idle connection to make room");
                self.remove(key);
                true
            }
            None => false,
        }
    }

    // ---- the state machine of one connection ----

    fn entry(&mut self, key: usize) -> Option<&mut Entry> {
        self.entries.get_mut(key).and_then(Option::as_mut)
    }

    fn progress(&mut self, key: usize) {
        loop {
            let step = match self.entry(key) {
                Some(_) => self.step(key),
                None => return,
            };
            match step {
                Step::Again => continue,
                Step::Wait => {
                    self.arm(key);
                    self.update_idle(key);
                    return;
                }
                Step::Hold => {
                    self.update_idle(key);
                    return;
                }
                Step::Gone => return,
            }
        }
    }

    fn step(&mut self, key: usize) -> Step {
        let e = self.entry(key).expect("checked by progress");
        if e.conn.is_closing()
            && matches!(
                e.phase,
                Phase::Waiting { .. } | Phase::Head { .. } | Phase::Body(_)
            )
        {
            e.phase = Phase::Closing;
        }
        match e.phase {
            Phase::Lent => Step::Hold,
            Phase::Closing => {
                if e.buf.is_some() && e.conn.in_flight.load(Ordering::SeqCst) == 0 {
                    self.finish_close(key)
                } else {
                    Step::Hold
                }
            }
            Phase::Lingering { .. } => self.linger(key),
            Phase::Waiting { .. } | Phase::Head { .. } | Phase::Body(_) => self.read_step(key),
        }
    }

    fn read_step(&mut self, key: usize) -> Step {
        let e = self.entry(key).expect("checked by progress");
        let buf = e.buf.as_mut().expect("the read side is home");
        if e.skip > 0 {
            let n = (e.skip.min(buf.len() as u64)) as usize;
            buf.drain(..n);
            e.skip -= n as u64;
            if e.skip > 0 {
                return self.fill(key);
            }
        }
        if e.conn.in_flight.load(Ordering::SeqCst) >= MAX_PIPELINE {
            return Step::Hold;
        }
        match e.phase {
            Phase::Waiting { .. } if buf.is_empty() => self.fill(key),
            Phase::Waiting { .. } => {
                let deadline = self.shared.options.read_timeout.map(|t| Instant::now() + t);
                let e = self.entry(key).expect("checked by progress");
                e.phase = Phase::Head {
                    deadline,
                    cursor: HeadCursor::default(),
                };
                Step::Again
            }
            Phase::Head { ref mut cursor, .. } => match head::scan_head(buf, cursor) {
                HeadScan::Incomplete => self.fill(key),
                HeadScan::Refused(refusal) => self.refuse(key, refusal),
                HeadScan::Complete(end) => self.on_head(key, end),
            },
            Phase::Body(_) => self.body_step(key),
            _ => unreachable!("read_step is only called while reading"),
        }
    }

    /// Reads what the socket has (without waiting).
    fn fill(&mut self, key: usize) -> Step {
        let e = self.entry(key).expect("checked by progress");
        let buf = e.buf.as_mut().expect("the read side is home");
        let start = buf.len();
        let want = match e.phase {
            _ if e.skip > 0 => (e.skip.min(READ_PIECE as u64)) as usize,
            Phase::Body(ref ahead) => match ahead.framing.body {
                BodyFraming::Length(n) => (n as usize).saturating_sub(start).max(1),
                _ => READ_PIECE,
            },
            _ => READ_PIECE.min(head::MAX_HEAD + 2 - start.min(head::MAX_HEAD)),
        };
        // read into scratch space, so that a buffer only ever holds what arrived
        let mut scratch = [0u8; READ_PIECE];
        let result = e.conn.socket.recv_now(&mut scratch[..want.min(READ_PIECE)]);
        if let Ok(n) = result {
            buf.extend_from_slice(&scratch[..n]);
        }
        match result {
            Err(ref err) if err.kind() == ErrorKind::WouldBlock => {
                if buf.is_empty() {
                    // an idle connection keeps no buffer
                    *buf = Vec::new();
                }
                Step::Wait
            }
            Ok(n) if n > 0 => {
                if let Phase::Waiting { .. } = e.phase {
                    // skip the empty lines a client may send before a request
                    let n = head::leading_empty_lines(buf);
                    buf.drain(..n);
                }
                Step::Again
            }
            _ => {
                // the client closed (or reset) its side; a partial request is dropped
                e.eof = true;
                e.conn.closing.store(true, Ordering::SeqCst);
                e.phase = Phase::Closing;
                Step::Again
            }
        }
    }

    fn on_head(&mut self, key: usize, end: usize) -> Step {
        let preread = self.shared.limits.preread_body;
        let max_chunked = self.shared.limits.max_chunked_body;
        let shared = Arc::clone(&self.shared);
        let e = self.entry(key).expect("checked by progress");
        let deadline = match e.phase {
            Phase::Head { deadline, .. } => deadline,
            _ => None,
        };
        let buf = e.buf.as_mut().expect("the read side is home");
        let parsed = head::parse_head(&buf[..end]).and_then(|h| head::framing(&h).map(|f| (h, f)));
        let (head, framing) = match parsed {
            Ok(parsed) => parsed,
            Err(refusal) => return self.refuse(key, refusal),
        };
        buf.drain(..end);
        let conn = Arc::clone(&e.conn);
        let no_continue = !framing.expect_continue;
        let chunked_limit = preread
            .unwrap_or(0)
            .min(max_chunked.unwrap_or(u64::MAX).min(usize::MAX as u64) as usize);
        let (charge, chunked) = match framing.body {
            BodyFraming::Empty => {
                let body = Box::new(io::empty());
                return self.dispatch(key, head, framing, Incoming::Whole(body, None));
            }
            BodyFraming::Upgrade => {
                let buf = e.buf.take().expect("the read side is home");
                let (body, status) = StreamBody::raw(conn, buf);
                return self.dispatch(key, head, framing, Incoming::Streamed(body, status));
            }
            BodyFraming::Length(n)
                if no_continue && n <= preread.unwrap_or(DEFAULT_PREREAD) as u64 =>
            {
                (shared.charge(n as usize), None)
            }
            BodyFraming::Chunked if no_continue && chunked_limit > 0 => (
                shared.charge(chunked_limit),
                Some((ChunkedDecoder::default(), 0)),
            ),
            _ => (None, None),
        };
        match charge {
            Some(charge) => {
                e.phase = Phase::Body(Box::new(Ahead {
                    head,
                    framing,
                    deadline,
                    chunked,
                    charge,
                }));
                Step::Again
            }
            None => self.lend(key, head, framing, deadline),
        }
    }

    /// The body is read ahead: hand the request over once it is all there.
    fn body_step(&mut self, key: usize) -> Step {
        let preread = self.shared.limits.preread_body.unwrap_or(0);
        let max_chunked = self.shared.limits.max_chunked_body.unwrap_or(u64::MAX);
        let e = self.entry(key).expect("checked by progress");
        let buf = e.buf.as_mut().expect("the read side is home");
        let ahead = match e.phase {
            Phase::Body(ref mut ahead) => ahead,
            _ => unreachable!("body_step is only called while reading a body ahead"),
        };
        let complete = match (ahead.framing.body, ahead.chunked.as_mut()) {
            (BodyFraming::Length(n), _) => buf.len() as u64 >= n,
            (_, Some((decoder, checked))) => match decoder.skim(&buf[*checked..]) {
                Err(refusal) => return self.refuse(key, refusal),
                Ok(consumed) => {
                    *checked += consumed;
                    if !decoder.is_done()
                        && (decoder.wire > preread as u64 || decoder.wire > max_chunked)
                    {
                        // too large to read ahead: the application reads it
                        let Ahead {
                            head,
                            framing,
                            deadline,
                            ..
                        } = *take_ahead(e);
                        return self.lend(key, head, framing, deadline);
                    }
                    decoder.is_done()
                }
            },
            _ => unreachable!("only Content-Length and chunked bodies are read ahead"),
        };
        if !complete {
            return self.fill(key);
        }
        let Ahead {
            head,
            framing,
            chunked,
            charge,
            ..
        } = *take_ahead(e);
        let buf = e.buf.as_mut().expect("the read side is home");
        let body = match (framing.body, chunked) {
            (BodyFraming::Length(n), _) => buf.drain(..n as usize).collect(),
            (_, Some((_, checked))) => {
                let mut decoded = vec![0u8; checked];
                let mut decoder = ChunkedDecoder::default();
                let (_, n) = decoder
                    .decode(&buf[..checked], &mut decoded)
                    .expect("checked by skim");
                decoded.truncate(n);
                buf.drain(..checked);
                decoded
            }
            _ => unreachable!("only Content-Length and chunked bodies are read ahead"),
        };
        let body = Box::new(Cursor::new(body));
        self.dispatch(key, head, framing, Incoming::Whole(body, Some(charge)))
    }

    /// Hands the request over with its body still (partly) on the socket.
    fn lend(
        &mut self,
        key: usize,
        head: Head,
        framing: Framing,
        deadline: Option<Instant>,
    ) -> Step {
        let e = self.entry(key).expect("checked by progress");
        let buf = e.buf.take().expect("the read side is home");
        let conn = Arc::clone(&e.conn);
        let (body, status) = match framing.body {
            BodyFraming::Length(n) => StreamBody::length(conn, buf, n, deadline),
            _ => StreamBody::chunked(conn, buf, deadline),
        };
        self.dispatch(key, head, framing, Incoming::Streamed(body, status))
    }

    fn dispatch(&mut self, key: usize, head: Head, framing: Framing, body: Incoming) -> Step {
        let e = self.entry(key).expect("checked by progress");
        let seq = e.seq;
        e.seq += 1;
        e.conn.in_flight.fetch_add(1, Ordering::SeqCst);
        let lent = e.buf.is_none();
        e.phase = if framing.last {
            Phase::Closing
        } else if lent {
            Phase::Lent
        } else {
            Phase::Waiting {
                since: Instant::now(),
            }
        };
        let request = Request::from_connection(Arc::clone(&e.conn), seq, head, framing, body);
        self.messages.push(Message::NewRequest(request));
        Step::Again
    }

    /// Answers with an error of tiny_http's own and closes the connection.
    fn refuse(&mut self, key: usize, refusal: Refusal) -> Step {
        let shared = Arc::clone(&self.shared);
        let e = self.entry(key).expect("checked by progress");
        let seq = e.seq;
        e.seq += 1;
        e.phase = Phase::Closing;
        let conn = Arc::clone(&e.conn);
        conn.closing.store(true, Ordering::SeqCst);
        conn.in_flight.fetch_add(1, Ordering::SeqCst);
        log::debug!(
            "Refusing a request with {}: {}",
            refusal.status,
            refusal.message
        );
        let response =
            head::error_response(refusal.status, refusal.message).with_connection_close();
        match response.prepare(HTTPVersion(1, 1), &[], false, None) {
            Ok(prepared) => {
                let body = Some(prepared.body.boxed());
                conn.send_detached(Outgoing::new(&shared, seq, prepared.head, body, true));
            }
            Err(_) => conn.skip_turn(),
        }
        Step::Again
    }

    /// The responses are out and the read side is home: close, lingering if the client
    /// may still be sending.
    fn finish_close(&mut self, key: usize) -> Step {
        let linger_time = self.shared.limits.linger_time;
        let linger_bytes = self.shared.limits.linger_bytes;
        let e = self.entry(key).expect("checked by progress");
        if e.eof || e.conn.detached.load(Ordering::SeqCst) || linger_time.is_zero() {
            self.remove(key);
            return Step::Gone;
        }
        let _ = e.conn.socket.shutdown(Shutdown::Write);
        e.buf = Some(Vec::new());
        e.phase = Phase::Lingering {
            until: Instant::now() + linger_time,
            left: linger_bytes,
        };
        Step::Again
    }

    fn linger(&mut self, key: usize) -> Step {
        let e = self.entry(key).expect("checked by progress");
        let mut scratch = [0u8; READ_PIECE];
        loop {
            let left = match e.phase {
                Phase::Lingering { ref mut left, .. } => left,
                _ => unreachable!("linger is only called while lingering"),
            };
            match e.conn.socket.recv_now(&mut scratch) {
                Ok(n) if n > 0 && (n as u64) < *left => *left -= n as u64,
                Err(ref err) if err.kind() == ErrorKind::WouldBlock => return Step::Wait,
                _ => {
                    self.remove(key);
                    return Step::Gone;
                }
            }
        }
    }

    /// Waits for the connection to be readable, and writable too while TLS records wait.
    fn arm(&mut self, key: usize) {
        let e = self.entries[key].as_ref().expect("checked by progress");
        let event = Event::new(key, true, e.conn.socket.has_unsent());
        if let Err(err) = self.poller.modify(&e.conn.socket, event) {
            log::warn!("Closing a client connection: cannot watch it: {}", err);
            self.remove(key);
        }
    }

    fn update_idle(&mut self, key: usize) {
        let e = match self.entries.get_mut(key).and_then(Option::as_mut) {
            Some(e) => e,
            None => return,
        };
        // a lingering connection has had its last answer and only discards input: as
        // good as idle when room is needed
        let waiting = matches!(e.phase, Phase::Waiting { .. })
            && e.skip == 0
            && e.buf.as_ref().is_some_and(Vec::is_empty)
            && e.conn.in_flight.load(Ordering::SeqCst) == 0;
        let idle = waiting || matches!(e.phase, Phase::Lingering { .. });
        match (idle, e.idle) {
            (true, None) => {
                self.tickets += 1;
                e.idle = Some(self.tickets);
                self.idle.insert((self.tickets, key));
            }
            (false, Some(ticket)) => {
                e.idle = None;
                self.idle.remove(&(ticket, key));
            }
            _ => (),
        }
    }

    fn remove(&mut self, key: usize) {
        if let Some(e) = self.entries.get_mut(key).and_then(Option::take) {
            if let Some(ticket) = e.idle {
                self.idle.remove(&(ticket, key));
            }
            let _ = self.poller.delete(&e.conn.socket);
            self.free.push(key);
        }
    }

    // ---- messages and time ----

    fn message(&mut self, message: ToReactor) {
        let (key, id) = match message {
            ToReactor::ReadSide { key, id, .. } | ToReactor::Done { key, id } => (key, id),
        };
        let e = match self.entry(key) {
            Some(e) if e.conn.id == id => e,
            _ => return,
        };
        match message {
            ToReactor::ReadSide { buf, leftover, .. } => {
                e.buf = Some(buf);
                match leftover {
                    Leftover::Nothing => (),
                    Leftover::Skip(n) => e.skip = n,
                    Leftover::Close => e.conn.closing.store(true, Ordering::SeqCst),
                }
                if let Phase::Lent = e.phase {
                    e.phase = Phase::Waiting {
                        since: Instant::now(),
                    };
                }
            }
            ToReactor::Done { .. } => {
                if let Phase::Waiting { ref mut since } = e.phase {
                    *since = Instant::now();
                }
            }
        }
        self.progress(key);
    }

    fn sweep(&mut self, now: Instant) {
        if self.backoff.is_some_and(|until| now >= until) {
            self.backoff = None;
            self.arm_listener();
        }
        let idle_timeout = self.shared.options.read_timeout;
        for key in 0..self.entries.len() {
            let e = match self.entries[key].as_mut() {
                Some(e) => e,
                None => continue,
            };
            let quiet = e.conn.in_flight.load(Ordering::SeqCst) == 0;
            match e.phase {
                Phase::Waiting { since }
                    if quiet && idle_timeout.is_some_and(|t| now - since > t) =>
                {
                    self.remove(key);
                }
                Phase::Head { deadline, .. } if deadline.is_some_and(|d| now > d) => {
                    self.refuse(key, REQUEST_TIMEOUT);
                    self.progress(key);
                }
                Phase::Body(ref ahead) if ahead.deadline.is_some_and(|d| now > d) => {
                    self.refuse(key, REQUEST_TIMEOUT);
                    self.progress(key);
                }
                Phase::Lingering { until, .. } if now > until => self.remove(key),
                _ => (),
            }
        }
        let mut scratch = [0u8; READ_PIECE];
        self.refused.retain(|(socket, until)| {
            now < *until
                && loop {
                    match socket.recv_now(&mut scratch) {
                        Ok(0) => break false,
                        Ok(_) => continue,
                        Err(ref e) if e.kind() == ErrorKind::WouldBlock => break true,
                        Err(_) => break false,
                    }
                }
        });
    }
}

/// A request body as handed to the application.
pub(crate) enum Incoming {
    /// All read (or none): the reader, and the room it takes in the read-ahead budget.
    Whole(Box<dyn io::Read + Send>, Option<Charge>),
    /// Still (partly) on the socket.
    Streamed(StreamBody, Arc<crate::conn::BodyStatus>),
}

fn take_ahead(e: &mut Entry) -> Box<Ahead> {
    match std::mem::replace(&mut e.phase, Phase::Lent) {
        Phase::Body(ahead) => ahead,
        _ => unreachable!("called while reading a body ahead"),
    }
}

/// `accept()` errors caused by one connection attempt (the listener itself is fine).
fn is_per_connection_accept_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::ConnectionAborted
            | ErrorKind::ConnectionReset
            | ErrorKind::ConnectionRefused
            | ErrorKind::Interrupted
            | ErrorKind::TimedOut
    ) || e.raw_os_error() == Some(rustix::io::Errno::PROTO.raw_os_error())
}

/// `accept()` errors meaning that the listening socket itself is unusable.
fn is_fatal_accept_error(e: &io::Error) -> bool {
    use rustix::io::Errno;
    let fatal = [
        Errno::BADF,
        Errno::FAULT,
        Errno::INVAL,
        Errno::NOTSOCK,
        Errno::OPNOTSUPP,
    ];
    e.raw_os_error()
        .is_some_and(|code| fatal.iter().any(|f| f.raw_os_error() == code))
}
