use std::io::Error as IoError;
use std::io::{self, BufWriter, ErrorKind, Read, Write};

use std::convert::TryFrom;
use std::fmt;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::conn::{BodyStatus, Charge, Conn, Outgoing, RateWriter, StreamBody};
use crate::head::{BodyFraming, Framing, Head};
use crate::reactor::Incoming;
use crate::util::CustomStream;
use crate::{HTTPVersion, Header, HeaderField, Method, Response, StatusCode, UpgradedStream};

/// Represents an HTTP request made by a client.
///
/// A `Request` object is what is produced by the server, and is your what
/// your code must analyse and answer.
///
/// This object implements the `Send` trait, therefore you can dispatch your requests to
/// worker threads.
///
/// # Pipelining
///
/// If a client sends multiple requests in a row (without waiting for the response), then you will
/// get multiple `Request` objects simultaneously. This is called *requests pipelining*.
/// Tiny-http automatically reorders the responses so that you don't need to worry about the order
/// in which you call `respond` or `into_writer`.
///
/// This mechanic is disabled if:
///
///  - The body of a request is large enough (handling requires pipelining requires storing the
///    body of the request in a buffer ; if the body is too big, tiny-http will avoid doing that)
///  - A request sends a `Expect: 100-continue` header (which means that the client waits to
///    know whether its body will be processed before sending it)
///  - A request sends a `Connection: close` header or `Connection: upgrade` header (used for
///    websockets), which indicates that this is the last request that will be received on this
///    connection
///
/// # Automatic cleanup
///
/// If a `Request` object is destroyed without `into_writer` or `respond` being called,
/// an empty response with a 500 status code (internal server error) will automatically be
/// sent back to the client.
/// This means that if your code fails during the handling of a request, this "internal server
/// error" response will automatically be sent during the stack unwinding.
///
/// # Testing
///
/// If you want to build fake requests to test your server, use [`TestRequest`](crate::test::TestRequest).
pub struct Request {
    // where to read the body from
    data_reader: Option<Body>,

    // where the response goes
    wire: Wire,

    remote_addr: Option<SocketAddr>,

    // true if HTTPS, false if HTTP
    secure: bool,

    method: Method,

    path: String,

    http_version: HTTPVersion,

    headers: Vec<Header>,

    // names of the headers left out of `headers` because their value is not ASCII
    non_ascii_headers: Vec<HeaderField>,

    body_length: Option<usize>,

    // true if a `100 Continue` response must be sent when `as_reader()` is called
    must_send_continue: bool,

    // how much of the body is still unread on the socket (None if nothing is left on the
    // socket: no body, or a body read ahead by tiny_http)
    body_status: Option<Arc<BodyStatus>>,

    // room a body read ahead takes in tiny_http's read-ahead budget
    _charge: Option<Charge>,

    // `Connection: upgrade`: the rest of the connection belongs to the application
    is_upgrade: bool,
}

/// Where a request's response goes.
enum Wire {
    /// A [`TestRequest`](crate::TestRequest): nowhere (`None` once answered).
    Test(Option<Box<dyn Write + Send + 'static>>),
    /// A client connection; `seq` is the request's place in the order of responses.
    Conn {
        conn: Arc<Conn>,
        seq: u64,
        answered: bool,
    },
}

/// A request body.
enum Body {
    Boxed(Box<dyn Read + Send + 'static>),
    Stream(StreamBody),
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Body::Boxed(r) => r.read(buf),
            Body::Stream(s) => s.read(buf),
        }
    }
}

/// Why [`Request::upgrade_tcp`] could not hand the socket over.
pub enum UpgradeTcpError<R> {
    /// The connection is not plain TCP (a Unix socket, a `TestRequest`) or its socket could
    /// not be duplicated: nothing was written; the request and the response are given
    /// back, e.g. for [`Request::upgrade`].
    NotPlainTcp(Box<Request>, Response<R>),
    /// Writing the response failed: the client is gone.
    Io(IoError),
}

impl<R> std::fmt::Debug for UpgradeTcpError<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UpgradeTcpError::NotPlainTcp(..) => f.write_str("NotPlainTcp"),
            UpgradeTcpError::Io(e) => write!(f, "Io({:?})", e),
        }
    }
}

/// Size of the buffer of blocking writers (`respond`, `into_writer`, `upgrade`).
const WRITE_BUFFER: usize = 16 * 1024;

impl Request {
    /// A request read from a client connection by the reactor.
    pub(crate) fn from_connection(
        conn: Arc<Conn>,
        seq: u64,
        head: Head,
        framing: Framing,
        body: Incoming,
    ) -> Request {
        let (data_reader, body_status, charge) = match body {
            Incoming::Whole(reader, charge) => (Body::Boxed(reader), None, charge),
            Incoming::Streamed(stream, status) => (Body::Stream(stream), Some(status), None),
        };
        let body_length = match framing.body {
            BodyFraming::Length(n) => usize::try_from(n).ok(),
            _ => None,
        };
        let secure = conn.socket.is_tls();
        Request {
            data_reader: Some(data_reader),
            remote_addr: conn.remote_addr,
            wire: Wire::Conn {
                conn,
                seq,
                answered: false,
            },
            secure,
            method: head.method,
            path: head.path,
            http_version: head.version,
            headers: head.headers,
            non_ascii_headers: head.non_ascii_headers,
            body_length,
            must_send_continue: framing.expect_continue,
            body_status,
            _charge: charge,
            is_upgrade: framing.body == BodyFraming::Upgrade,
        }
    }

    /// A fake request whose response goes nowhere (see [`TestRequest`](crate::TestRequest)).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn for_test(
        secure: bool,
        method: Method,
        path: String,
        http_version: HTTPVersion,
        headers: Vec<Header>,
        non_ascii_headers: Vec<HeaderField>,
        remote_addr: SocketAddr,
        body: &'static [u8],
    ) -> Request {
        let body_length = headers
            .iter()
            .find(|h| h.field.equiv("Content-Length"))
            .and_then(|h| h.value.as_str().trim().parse::<usize>().ok());
        let body = &body[..body_length.unwrap_or(0).min(body.len())];
        Request {
            data_reader: Some(Body::Boxed(Box::new(body))),
            wire: Wire::Test(Some(Box::new(io::sink()))),
            remote_addr: Some(remote_addr),
            secure,
            method,
            path,
            http_version,
            headers,
            non_ascii_headers,
            body_length,
            must_send_continue: false,
            body_status: None,
            _charge: None,
            is_upgrade: false,
        }
    }

    /// Returns true if the request was made through HTTPS.
    #[inline]
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// Returns the method requested by the client (eg. `GET`, `POST`, etc.).
    #[inline]
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// Returns the resource requested by the client.
    #[inline]
    pub fn url(&self) -> &str {
        &self.path
    }

    /// Returns a list of all headers sent by the client.
    ///
    /// Headers whose value contains raw non-ASCII bytes are not in this list: see
    /// [`Request::non_ascii_headers`].
    #[inline]
    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    /// Returns the names of the headers whose value contained raw non-ASCII bytes (for
    /// example UTF-8 sent unencoded, as `curl -H 'X-Team-Name: 团队A'` does), in the order
    /// they were received. Such headers cannot be represented as a [`Header`] (whose value is
    /// ASCII), so they are left out of [`Request::headers`] and their values are discarded;
    /// the request itself is still delivered, so that the application can answer it (e.g.
    /// with a 400 asking the client to percent-encode the value).
    ///
    /// Not part of upstream tiny_http, which silently closed the connection instead. A raw
    /// non-ASCII value in `Content-Length`, `Transfer-Encoding`, `Connection` or `Expect`,
    /// a non-ASCII header name, or non-ASCII bytes in the request line are still answered
    /// with `400 Bad Request` by tiny_http itself.
    #[inline]
    pub fn non_ascii_headers(&self) -> &[HeaderField] {
        &self.non_ascii_headers
    }

    /// Returns the HTTP version of the request.
    #[inline]
    pub fn http_version(&self) -> &HTTPVersion {
        &self.http_version
    }

    /// Returns the length of the body in bytes.
    ///
    /// Returns `None` if the length is unknown.
    #[inline]
    pub fn body_length(&self) -> Option<usize> {
        self.body_length
    }

    /// Returns the address of the client that sent this request.
    ///
    /// The address is always `Some` for TCP listeners, but always `None` for UNIX listeners
    /// (as the remote address of a UNIX client is almost always unnamed).
    ///
    /// Note that this is gathered from the socket. If you receive the request from a proxy,
    /// this function will return the address of the proxy and not the address of the actual
    /// user.
    #[inline]
    pub fn remote_addr(&self) -> Option<&SocketAddr> {
        self.remote_addr.as_ref()
    }

    /// Sends a response with a `Connection: upgrade` header, then turns the `Request` into a `Stream`.
    ///
    /// The main purpose of this function is to support websockets.
    /// If you detect that the request wants to use some kind of protocol upgrade, you can
    ///  call this function to obtain full control of the socket stream.
    ///
    /// If you call this on a non-websocket request, tiny-http will wait until this `Stream` object
    ///  is destroyed before continuing to read or write on the socket. Therefore you should always
    ///  destroy it as soon as possible.
    pub fn upgrade<R: Read>(
        mut self,
        protocol: &str,
        response: Response<R>,
    ) -> Box<dyn ReadWrite + Send> {
        self.mark_unsent_continue();
        let reader = self.data_reader.take().expect("the body reader is there");
        let mut writer: Box<dyn Write + Send> = match self.wire {
            Wire::Test(ref mut writer) => writer.take().expect("not answered yet"),
            Wire::Conn {
                ref conn,
                seq,
                ref mut answered,
            } => {
                *answered = true;
                Box::new(TurnWriter::new(Arc::clone(conn), seq, true))
            }
        };
        response
            .raw_print(
                writer.by_ref(),
                self.http_version.clone(),
                &self.headers,
                false,
                Some(protocol),
            )
            .ok(); // TODO: unused result
        writer.flush().ok(); // TODO: unused result
        Box::new(CustomStream::new(reader, writer))
    }

    /// Like [`Request::upgrade`], but hands over the connection's own
    /// [`std::net::TcpStream`]: writes `response` (with `Upgrade: <protocol>`), flushes it,
    /// and gives a handle of the socket to the application, which can then make it
    /// non-blocking, poll it, or split it with `try_clone`. tiny_http lets go of the
    /// connection without shutting the socket down; it is closed when the application
    /// drops the returned stream. The socket keeps the timeouts of
    /// [`ConnectionOptions`](crate::ConnectionOptions) as per-read and per-write timeouts.
    ///
    /// Only for a plain-TCP request with a `Connection: upgrade` header; otherwise (a Unix
    /// socket, an HTTPS connection — see [`Request::upgrade_stream`] —, a `TestRequest`, or
    /// no file descriptor left to duplicate the socket) nothing is written and
    /// [`UpgradeTcpError::NotPlainTcp`] gives the request and the response back.
    ///
    /// Bytes the client sent after its request head and before the response (which a
    /// WebSocket client must not do) may already be in tiny_http's buffer and are lost.
    pub fn upgrade_tcp<R: Read>(
        self,
        protocol: &str,
        response: Response<R>,
    ) -> Result<TcpStream, UpgradeTcpError<R>> {
        let tls = matches!(self.wire, Wire::Conn { ref conn, .. } if conn.socket.is_tls());
        if tls {
            return Err(UpgradeTcpError::NotPlainTcp(Box::new(self), response));
        }
        match self.upgrade_stream(protocol, response)? {
            UpgradedStream::Tcp(socket) => Ok(socket),
            UpgradedStream::Tls(_) => unreachable!("TLS connections are refused above"),
        }
    }

    /// Like [`Request::upgrade_tcp`], for plain TCP and HTTPS connections alike
    /// (BenchBoard patch): an HTTPS connection is handed over as a
    /// [`TlsStream`](crate::TlsStream) that keeps its TLS session going (reads and writes
    /// are decrypted and encrypted; with `set_nonblocking(true)`, `flush` what
    /// [`UpgradedStream::has_unsent`] says is still queued when the socket is writable).
    /// [`UpgradeTcpError::NotPlainTcp`] here means a Unix socket, a `TestRequest` or no
    /// file descriptor left to duplicate the socket.
    pub fn upgrade_stream<R: Read>(
        mut self,
        protocol: &str,
        response: Response<R>,
    ) -> Result<UpgradedStream, UpgradeTcpError<R>> {
        let upgrade = self.is_upgrade;
        let (conn, seq, socket) = match self.wire {
            Wire::Conn { ref conn, seq, .. } if upgrade => match conn.socket.try_clone_upgraded() {
                Some(Ok(socket)) => (Arc::clone(conn), seq, socket),
                _ => return Err(UpgradeTcpError::NotPlainTcp(Box::new(self), response)),
            },
            _ => return Err(UpgradeTcpError::NotPlainTcp(Box::new(self), response)),
        };
        if let Wire::Conn {
            ref mut answered, ..
        } = self.wire
        {
            *answered = true;
        }
        if !conn.wait_turn(seq) {
            conn.skip_turn();
            let gone = IoError::new(ErrorKind::BrokenPipe, "the connection is closed");
            return Err(UpgradeTcpError::Io(gone));
        }
        let mut writer = BufWriter::with_capacity(WRITE_BUFFER, conn.rate_writer());
        let written = response
            .raw_print(
                &mut writer,
                self.http_version.clone(),
                &self.headers,
                false,
                Some(protocol),
            )
            .and_then(|()| writer.flush());
        drop(writer);
        if let Err(e) = written {
            conn.fail(seq);
            return Err(UpgradeTcpError::Io(e));
        }
        let options = conn.shared.options;
        let timeouts = socket
            .set_read_timeout(options.read_timeout)
            .and_then(|()| socket.set_write_timeout(options.write_timeout));
        if let Err(e) = timeouts {
            conn.fail(seq);
            return Err(UpgradeTcpError::Io(e));
        }
        // from now on, tiny_http closes only its own descriptor of the socket
        conn.detached.store(true, Ordering::SeqCst);
        conn.end_turn_and_continue(seq, true, false);
        drop(self.data_reader.take());
        Ok(socket)
    }

    /// Allows to read the body of the request.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # extern crate rustc_serialize;
    /// # extern crate tiny_http;
    /// # use rustc_serialize::json::Json;
    /// # use std::io::Read;
    /// # fn get_content_type(_: &tiny_http::Request) -> &'static str { "" }
    /// # fn main() {
    /// # let server = tiny_http::Server::http("0.0.0.0:0").unwrap();
    /// let mut request = server.recv().unwrap();
    ///
    /// if get_content_type(&request) == "application/json" {
    ///     let mut content = String::new();
    ///     request.as_reader().read_to_string(&mut content).unwrap();
    ///     let json: Json = content.parse().unwrap();
    /// }
    /// # }
    /// ```
    ///
    /// If the client sent a `Expect: 100-continue` header with the request, calling this
    ///  function will send back a `100 Continue` response.
    ///
    /// BenchBoard patch: a body that is still on the socket is read with blocking reads
    /// bounded by the request's deadline (`ConnectionOptions::read_timeout` from the first
    /// byte of the request); past it, a read fails with `ErrorKind::TimedOut`. A chunked
    /// body larger on the wire than `Limits::max_chunked_body` fails with an error whose
    /// inner error is a [`BodyTooLarge`](crate::BodyTooLarge).
    #[inline]
    pub fn as_reader(&mut self) -> &mut dyn Read {
        if self.must_send_continue {
            self.must_send_continue = false;
            let continue_ = Response::new_empty(StatusCode(100));
            match self.wire {
                Wire::Test(Some(ref mut writer)) => {
                    let _ = continue_.raw_print(writer, self.http_version.clone(), &[], true, None);
                }
                Wire::Test(None) => (),
                Wire::Conn { ref conn, seq, .. } => {
                    if conn.wait_turn(seq) {
                        let mut writer = conn.rate_writer();
                        let version = self.http_version.clone();
                        if continue_
                            .raw_print(&mut writer, version, &[], true, None)
                            .is_err()
                        {
                            conn.closing.store(true, Ordering::SeqCst);
                        }
                        conn.pause_turn();
                    }
                }
            }
        }
        self.data_reader.as_mut().expect("the body reader is there")
    }

    /// Turns the `Request` into a writer.
    ///
    /// The writer has a raw access to the stream to the user.
    /// This function is useful for things like CGI.
    ///
    /// Note that the destruction of the `Writer` object may trigger
    /// some events. For exemple if a client has sent multiple requests and the requests
    /// have been processed in parallel, the destruction of a writer will trigger
    /// the writing of the next response.
    /// Therefore you should always destroy the `Writer` as soon as possible.
    ///
    /// If the application left a large part of the request body unread, the connection is
    /// closed after this writer is dropped (the raw response cannot carry a
    /// `Connection: close` header added by tiny_http: add one yourself).
    #[inline]
    pub fn into_writer(mut self) -> Box<dyn Write + Send + 'static> {
        self.mark_unsent_continue();
        let close = self.must_close_connection();
        match self.wire {
            Wire::Test(ref mut writer) => writer.take().expect("not answered yet"),
            Wire::Conn {
                ref conn,
                seq,
                ref mut answered,
            } => {
                *answered = true;
                Box::new(TurnWriter::new(Arc::clone(conn), seq, close))
            }
        }
    }

    /// True if the connection cannot be used for another request after this one: the
    /// application left more than 64 KiB of the body unread (or a chunked body unfinished,
    /// or a body whose reading failed), it did not read the body of an
    /// `Expect: 100-continue` request (the client waits for a `100 Continue` that will never
    /// come), or the connection is already closing.
    fn must_close_connection(&self) -> bool {
        let conn = match self.wire {
            Wire::Conn { ref conn, .. } => conn,
            Wire::Test(_) => return false,
        };
        if conn.is_closing() {
            return true;
        }
        match self.body_status {
            Some(ref body) => {
                body.forces_close() || (self.must_send_continue && body.unread() != Some(0))
            }
            None => false,
        }
    }

    /// The client was never asked for the body it announced: where the next request would
    /// start is unknown.
    fn mark_unsent_continue(&mut self) {
        if self.must_send_continue {
            if let Some(Body::Stream(ref mut stream)) = self.data_reader {
                stream.unsent_continue = true;
            }
        }
    }

    /// Sends a response to this request.
    ///
    /// The application does not need to read the body first. If it left a large part of it
    /// unread (more than 64 KiB, e.g. when answering `413 Payload Too Large` to a request
    /// announcing a huge `Content-Length`), the response is sent with `Connection: close`
    /// and the connection is closed afterwards, after reading and discarding what the
    /// client still sends for a bounded time and size (lingering close, so that the client
    /// reads the answer instead of a reset). A smaller remainder is skipped (read and
    /// discarded by tiny_http's reactor, not the caller's thread) so that the connection
    /// can be kept alive.
    ///
    /// This call blocks until the response is written (after the responses to earlier
    /// pipelined requests of the same connection). With a
    /// [`write_timeout`](crate::ConnectionOptions::write_timeout), a client that takes the
    /// response slower than [`Limits::min_send_rate`](crate::Limits::min_send_rate) is cut
    /// off and this returns an error. [`Request::respond_detached`] never blocks.
    #[inline]
    pub fn respond<R>(mut self, response: Response<R>) -> Result<(), IoError>
    where
        R: Read,
    {
        self.mark_unsent_continue();
        let close = self.must_close_connection();
        let (conn, seq) = match self.wire {
            Wire::Test(ref mut writer) => {
                let mut writer = writer.take().expect("not answered yet");
                let result = response
                    .raw_print(
                        writer.by_ref(),
                        self.http_version.clone(),
                        &self.headers,
                        self.method == Method::Head,
                        None,
                    )
                    .and_then(|()| writer.flush());
                return Self::ignore_client_closing_errors(result);
            }
            Wire::Conn {
                ref conn,
                seq,
                ref mut answered,
            } => {
                *answered = true;
                (Arc::clone(conn), seq)
            }
        };
        let response = if close {
            response.with_connection_close()
        } else {
            response
        };
        if !conn.wait_turn(seq) {
            conn.skip_turn();
            return Ok(()); // the client is gone
        }
        let mut writer = BufWriter::with_capacity(WRITE_BUFFER, conn.rate_writer());
        let result = response
            .raw_print(
                &mut writer,
                self.http_version.clone(),
                &self.headers,
                self.method == Method::Head,
                None,
            )
            .and_then(|()| writer.flush());
        drop(writer);
        match result {
            Ok(()) => conn.end_turn_and_continue(seq, close, false),
            Err(_) => conn.fail(seq),
        }
        Self::ignore_client_closing_errors(result)
    }

    /// Like [`Request::respond`], but never waits for the client (BenchBoard patch): the
    /// response is written right away as far as the socket takes it without blocking, and
    /// tiny_http's writer thread finishes the rest (after the responses to earlier pipelined
    /// requests of the same connection). A client that takes it slower than
    /// [`Limits::min_send_rate`](crate::Limits::min_send_rate) (over each
    /// [`write_timeout`](crate::ConnectionOptions::write_timeout)) is cut off. So a slow
    /// reader of a large answer holds none of the application's threads.
    ///
    /// The body is read on tiny_http's writer thread, a piece at a time when the client has
    /// room for it: it must not block for long (a file, a buffer, a computation are fine).
    ///
    /// Returns an error only if preparing the response failed (e.g. reading a body of
    /// unknown length for an HTTP/1.0 client, which needs a `Content-Length`).
    pub fn respond_detached<R>(mut self, response: Response<R>) -> Result<(), IoError>
    where
        R: Read + Send + 'static,
    {
        if let Wire::Test(_) = self.wire {
            return self.respond(response);
        }
        self.mark_unsent_continue();
        let close = self.must_close_connection();
        let (conn, seq) = match self.wire {
            Wire::Conn {
                ref conn,
                seq,
                ref mut answered,
            } => {
                *answered = true;
                (Arc::clone(conn), seq)
            }
            Wire::Test(_) => unreachable!("handled above"),
        };
        let response = if close {
            response.with_connection_close()
        } else {
            response
        };
        let prepared = response.prepare(
            self.http_version.clone(),
            &self.headers,
            self.method == Method::Head,
            None,
        );
        let (out, result) = match prepared {
            Ok(prepared) => {
                let body = Some(prepared.body.boxed());
                let out = Outgoing::new(&conn.shared, seq, prepared.head, body, close);
                (out, Ok(()))
            }
            // nothing can be sent: close the connection in this request's turn
            Err(e) => (
                Outgoing::new(&conn.shared, seq, Vec::new(), None, true),
                Err(e),
            ),
        };
        conn.send_detached(out);
        result
    }

    fn ignore_client_closing_errors(result: io::Result<()>) -> io::Result<()> {
        result.or_else(|err| match err.kind() {
            ErrorKind::BrokenPipe => Ok(()),
            ErrorKind::ConnectionAborted => Ok(()),
            ErrorKind::ConnectionRefused => Ok(()),
            ErrorKind::ConnectionReset => Ok(()),
            _ => Err(err),
        })
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> Result<(), fmt::Error> {
        write!(
            formatter,
            "Request({} {} from {:?})",
            self.method, self.path, self.remote_addr
        )
    }
}

impl Drop for Request {
    fn drop(&mut self) {
        let unanswered = match self.wire {
            Wire::Test(ref writer) => writer.is_some(),
            Wire::Conn { answered, .. } => !answered,
        };
        if unanswered {
            let request = std::mem::replace(self, placeholder());
            let _ = request.respond_detached(Response::empty(500)); // ignoring any error
        }
    }
}

/// What a dropped request leaves in its place while its 500 goes out.
fn placeholder() -> Request {
    Request {
        data_reader: None,
        wire: Wire::Test(None),
        remote_addr: None,
        secure: false,
        method: Method::Get,
        path: String::new(),
        http_version: HTTPVersion(1, 1),
        headers: Vec::new(),
        non_ascii_headers: Vec::new(),
        body_length: None,
        must_send_continue: false,
        body_status: None,
        _charge: None,
        is_upgrade: false,
    }
}

/// The raw writer of `into_writer` and `upgrade`: waits for the request's turn at the first
/// write, ends it when dropped.
struct TurnWriter {
    conn: Arc<Conn>,
    seq: u64,
    close: bool,
    state: TurnState,
}

enum TurnState {
    Waiting,
    Writing(BufWriter<RateWriter>),
    Failed,
    /// The connection was broken before the turn came: nothing is written.
    Skipped,
}

impl TurnWriter {
    fn new(conn: Arc<Conn>, seq: u64, close: bool) -> TurnWriter {
        TurnWriter {
            conn,
            seq,
            close,
            state: TurnState::Waiting,
        }
    }

    fn writer(&mut self) -> io::Result<&mut BufWriter<RateWriter>> {
        if let TurnState::Waiting = self.state {
            self.state = if self.conn.wait_turn(self.seq) {
                let writer = self.conn.rate_writer();
                TurnState::Writing(BufWriter::with_capacity(WRITE_BUFFER, writer))
            } else {
                self.conn.skip_turn();
                TurnState::Skipped
            };
        }
        match self.state {
            TurnState::Writing(ref mut writer) => Ok(writer),
            _ => Err(IoError::new(
                ErrorKind::BrokenPipe,
                "the connection is closed",
            )),
        }
    }

    fn failed<T>(&mut self, result: io::Result<T>) -> io::Result<T> {
        if result.is_err() {
            if let TurnState::Writing(_) = self.state {
                self.state = TurnState::Failed;
                self.conn.fail(self.seq);
            }
        }
        result
    }
}

impl Write for TurnWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let result = self.writer().and_then(|w| w.write(buf));
        self.failed(result)
    }

    fn flush(&mut self) -> io::Result<()> {
        let result = self.writer().and_then(|w| w.flush());
        self.failed(result)
    }
}

impl Drop for TurnWriter {
    fn drop(&mut self) {
        let _ = self.writer();
        if let TurnState::Writing(ref mut writer) = self.state {
            let flushed = writer.flush().is_ok();
            if flushed {
                self.conn.end_turn_and_continue(self.seq, self.close, false);
            } else {
                self.conn.fail(self.seq);
            }
        }
    }
}

/// Dummy trait that regroups the `Read` and `Write` traits.
///
/// Automatically implemented on all types that implement both `Read` and `Write`.
pub trait ReadWrite: Read + Write {}
impl<T> ReadWrite for T where T: Read + Write {}

#[cfg(test)]
mod tests {
    use super::Request;

    #[test]
    fn must_be_send() {
        #![allow(dead_code)]
        fn f<T: Send>(_: &T) {}
        fn bar(rq: &Request) {
            f(rq);
        }
    }
}
