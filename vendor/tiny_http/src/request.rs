use std::io::Error as IoError;
use std::io::{self, Cursor, ErrorKind, Read, Write};

use std::fmt;
use std::net::{SocketAddr, TcpStream};
use std::str::FromStr;

use std::sync::mpsc::Sender;
use std::sync::Arc;

use crate::util::{
    BodyTracker, ConnectionState, EqualReader, FusedReader, Handover, TrackedBody,
};
use crate::{HTTPVersion, Header, HeaderField, Method, Response, StatusCode};
use chunked_transfer::Decoder;

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
    data_reader: Option<Box<dyn Read + Send + 'static>>,

    // if this writer is empty, then the request has been answered
    response_writer: Option<Box<dyn Write + Send + 'static>>,

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

    // If Some, a message must be sent after responding
    notify_when_responded: Option<Sender<()>>,

    // state of the client connection this request was read from (None for `TestRequest`)
    connection: Option<Arc<ConnectionState>>,

    // how much of the body is still unread on the socket (None if nothing is left on the
    // socket: no body, a small body already buffered, or `Connection: upgrade`)
    body_tracker: Option<Arc<BodyTracker>>,

    // a clone of the plain TCP socket, for `upgrade_tcp` (only for `Connection: upgrade`)
    handover: Option<Handover>,
}

/// Why [`Request::upgrade_tcp`] could not hand the socket over.
pub enum UpgradeTcpError<R> {
    /// The connection is not plain TCP (TLS, a Unix socket) or its socket could not be
    /// duplicated: nothing was written; the request and the response are given back, e.g.
    /// for [`Request::upgrade`].
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

struct NotifyOnDrop<R> {
    sender: Sender<()>,
    inner: R,
}

impl<R: Read> Read for NotifyOnDrop<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}
impl<R: Write> Write for NotifyOnDrop<R> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
impl<R> Drop for NotifyOnDrop<R> {
    fn drop(&mut self) {
        self.sender.send(()).unwrap();
    }
}

/// Error that can happen when building a `Request` object.
#[derive(Debug)]
pub enum RequestCreationError {
    /// The client sent an `Expect` header that was not recognized by tiny-http.
    ExpectationFailed,

    /// The `Content-Length` header is not a number (BenchBoard patch: it used to be
    /// ignored, leaving the body on the connection to be read as the next request).
    InvalidContentLength,

    /// The `Transfer-Encoding` does not end with `chunked`, the only coding tiny-http
    /// decodes (BenchBoard patch: the body used to be read as chunked anyway).
    UnsupportedTransferEncoding,

    /// Error while reading data from the socket during the creation of the `Request`.
    CreationIoError(IoError),
}

impl From<IoError> for RequestCreationError {
    fn from(err: IoError) -> RequestCreationError {
        RequestCreationError::CreationIoError(err)
    }
}

/// Builds a new request.
///
/// After the request line and headers have been read from the socket, a new `Request` object
/// is built.
///
/// You must pass a `Read` that will allow the `Request` object to read from the incoming data.
/// It is the responsibility of the `Request` to read only the data of the request and not further.
///
/// The `Write` object will be used by the `Request` to write the response.
///
/// `connection` is the state of the client connection the request was read from; `None`
/// (e.g. for `TestRequest`) disables the tracking of unread bodies.
#[allow(clippy::too_many_arguments)]
pub fn new_request<R, W>(
    secure: bool,
    method: Method,
    path: String,
    version: HTTPVersion,
    headers: Vec<Header>,
    remote_addr: Option<SocketAddr>,
    mut source_data: R,
    writer: W,
    connection: Option<Arc<ConnectionState>>,
) -> Result<Request, RequestCreationError>
where
    R: Read + Send + 'static,
    W: Write + Send + 'static,
{
    // finding the transfer-encoding header
    let transfer_encoding = headers
        .iter()
        .find(|h: &&Header| h.field.equiv("Transfer-Encoding"))
        .map(|h| h.value.clone());

    // only `chunked` can be decoded; any other final coding cannot be framed (RFC 7230 3.3.3)
    if let Some(ref coding) = transfer_encoding {
        let last = coding.as_str().rsplit(',').next().unwrap_or("").trim();
        if !last.eq_ignore_ascii_case("chunked") {
            return Err(RequestCreationError::UnsupportedTransferEncoding);
        }
    }

    // finding the content-length header
    let content_length = if transfer_encoding.is_some() {
        // if transfer-encoding is specified, the Content-Length
        // header must be ignored (RFC2616 #4.4)
        None
    } else {
        // digits only (`+5` is not a length), and several headers must agree
        // (RFC 7230 3.3.2): anything else would frame the body ambiguously
        let mut lengths = headers
            .iter()
            .filter(|h: &&Header| h.field.equiv("Content-Length"))
            .map(|h| h.value.as_str().trim());
        match lengths.next() {
            None => None,
            Some(first) => {
                let digits = !first.is_empty() && first.bytes().all(|b| b.is_ascii_digit());
                match (digits, FromStr::from_str(first)) {
                    (true, Ok(length)) if lengths.all(|other| other == first) => Some(length),
                    _ => return Err(RequestCreationError::InvalidContentLength),
                }
            }
        }
    };

    // true if the client sent a `Expect: 100-continue` header
    let expects_continue = {
        match headers
            .iter()
            .find(|h: &&Header| h.field.equiv("Expect"))
            .map(|h| h.value.as_str())
        {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("100-continue") => true,
            _ => return Err(RequestCreationError::ExpectationFailed),
        }
    };

    // true if the client sent a `Connection: upgrade` header
    let connection_upgrade = {
        match headers
            .iter()
            .find(|h: &&Header| h.field.equiv("Connection"))
            .map(|h| h.value.as_str())
        {
            Some(v) if v.to_ascii_lowercase().contains("upgrade") => true,
            _ => false,
        }
    };

    // a body that is still (partly) on the socket is read through a `TrackedBody`, so that
    // whatever the application leaves unread can be skipped or can close the connection
    let mut body_tracker = None;
    let mut track = |reader: Box<dyn Read + Send + 'static>, length: Option<usize>| match connection
    {
        Some(ref connection) => {
            let tracker = BodyTracker::new(connection.clone(), length);
            body_tracker = Some(tracker.clone());
            Box::new(TrackedBody::new(reader, tracker)) as Box<dyn Read + Send + 'static>
        }
        None => reader,
    };

    // we wrap `source_data` around a reading whose nature depends on the transfer-encoding and
    // content-length headers
    let reader = if connection_upgrade {
        // if we have a `Connection: upgrade`, always keeping the whole reader
        Box::new(source_data) as Box<dyn Read + Send + 'static>
    } else if let Some(content_length) = content_length {
        if content_length == 0 {
            Box::new(io::empty()) as Box<dyn Read + Send + 'static>
        } else if content_length <= 1024 && !expects_continue {
            // if the content-length is small enough, we just read everything into a buffer

            let mut buffer = vec![0; content_length];
            let mut offset = 0;

            while offset != content_length {
                let read = source_data.read(&mut buffer[offset..])?;
                if read == 0 {
                    // the socket returned EOF, but we were before the expected content-length
                    // aborting
                    let info = "Connection has been closed before we received enough data";
                    let err = IoError::new(ErrorKind::ConnectionAborted, info);
                    return Err(RequestCreationError::CreationIoError(err));
                }

                offset += read;
            }

            Box::new(Cursor::new(buffer)) as Box<dyn Read + Send + 'static>
        } else {
            let data_reader = EqualReader::new(source_data, content_length);
            track(
                Box::new(FusedReader::new(data_reader)),
                Some(content_length),
            )
        }
    } else if transfer_encoding.is_some() {
        // if a transfer-encoding was specified, then "chunked" is ALWAYS applied
        // over the message (RFC2616 #3.6)
        track(Box::new(FusedReader::new(Decoder::new(source_data))), None)
    } else {
        // if we have neither a Content-Length nor a Transfer-Encoding,
        // assuming that we have no data
        // TODO: could also be multipart/byteranges
        Box::new(io::empty()) as Box<dyn Read + Send + 'static>
    };

    Ok(Request {
        data_reader: Some(reader),
        response_writer: Some(Box::new(writer) as Box<dyn Write + Send + 'static>),
        remote_addr,
        secure,
        method,
        path,
        http_version: version,
        headers,
        non_ascii_headers: Vec::new(),
        body_length: content_length,
        must_send_continue: expects_continue,
        notify_when_responded: None,
        connection,
        body_tracker,
        handover: None,
    })
}

impl Request {
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
        use crate::util::CustomStream;

        response
            .raw_print(
                self.response_writer.as_mut().unwrap().by_ref(),
                self.http_version.clone(),
                &self.headers,
                false,
                Some(protocol),
            )
            .ok(); // TODO: unused result

        self.response_writer.as_mut().unwrap().flush().ok(); // TODO: unused result

        let stream = CustomStream::new(self.extract_reader_impl(), self.extract_writer_impl());
        if let Some(sender) = self.notify_when_responded.take() {
            let stream = NotifyOnDrop {
                sender,
                inner: stream,
            };
            Box::new(stream) as Box<dyn ReadWrite + Send>
        } else {
            Box::new(stream) as Box<dyn ReadWrite + Send>
        }
    }

    /// Like [`Request::upgrade`], but hands over the connection's own
    /// [`std::net::TcpStream`]: writes `response` (with `Upgrade: <protocol>`), flushes it,
    /// and gives the socket to the application, which can then make it non-blocking, poll
    /// it, or split it with `try_clone`. tiny_http lets go of the connection: its
    /// connection thread ends without shutting the socket down, and the socket is closed
    /// when the application drops the returned stream. The socket keeps the timeouts set by
    /// [`ConnectionOptions`](crate::ConnectionOptions).
    ///
    /// Only for a plain-TCP request with a `Connection: upgrade` header; otherwise (TLS, a
    /// Unix socket, or no file descriptor left to duplicate the socket) nothing is written
    /// and [`UpgradeTcpError::NotPlainTcp`] gives the request and the response back.
    ///
    /// Bytes the client sent after its request head and before the response (which a
    /// WebSocket client must not do) may already be in tiny_http's buffer and are lost.
    pub fn upgrade_tcp<R: Read>(
        mut self,
        protocol: &str,
        response: Response<R>,
    ) -> Result<TcpStream, UpgradeTcpError<R>> {
        let handover = match self.handover.take() {
            Some(handover) => handover,
            None => return Err(UpgradeTcpError::NotPlainTcp(Box::new(self), response)),
        };
        let mut writer = self.extract_writer_impl();
        let written = response
            .raw_print(
                writer.by_ref(),
                self.http_version.clone(),
                &self.headers,
                false,
                Some(protocol),
            )
            .and_then(|()| writer.flush());
        if let Err(e) = written {
            // tiny_http's handles shut the socket down as usual when they are dropped
            if let Some(ref connection) = self.connection {
                connection.close();
            }
            drop(writer);
            if let Some(sender) = self.notify_when_responded.take() {
                sender.send(()).ok();
            }
            return Err(UpgradeTcpError::Io(e));
        }
        let socket = handover.detach();
        // the connection thread sees no more requests (`Connection: upgrade`) and ends
        drop(writer);
        drop(self.data_reader.take());
        if let Some(sender) = self.notify_when_responded.take() {
            sender.send(()).ok();
        }
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
    #[inline]
    pub fn as_reader(&mut self) -> &mut dyn Read {
        if self.must_send_continue {
            let msg = Response::new_empty(StatusCode(100));
            msg.raw_print(
                self.response_writer.as_mut().unwrap().by_ref(),
                self.http_version.clone(),
                &self.headers,
                true,
                None,
            )
            .ok();
            self.response_writer.as_mut().unwrap().flush().ok();
            self.must_send_continue = false;
        }

        self.data_reader.as_mut().unwrap()
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
        if self.must_close_connection() {
            if let Some(ref connection) = self.connection {
                connection.close();
            }
        }
        let writer = self.extract_writer_impl();
        if let Some(sender) = self.notify_when_responded.take() {
            let writer = NotifyOnDrop {
                sender,
                inner: writer,
            };
            Box::new(writer) as Box<dyn Write + Send + 'static>
        } else {
            writer
        }
    }

    /// Extract the response `Writer` object from the Request, dropping this `Writer` has the same side effects
    /// as the object returned by `into_writer` above.
    ///
    /// This may only be called once on a single request.
    fn extract_writer_impl(&mut self) -> Box<dyn Write + Send + 'static> {
        use std::mem;

        assert!(self.response_writer.is_some());

        let mut writer = None;
        mem::swap(&mut self.response_writer, &mut writer);
        writer.unwrap()
    }

    /// Extract the body `Reader` object from the Request.
    ///
    /// This may only be called once on a single request.
    fn extract_reader_impl(&mut self) -> Box<dyn Read + Send + 'static> {
        use std::mem;

        assert!(self.data_reader.is_some());

        let mut reader = None;
        mem::swap(&mut self.data_reader, &mut reader);
        reader.unwrap()
    }

    /// True if the connection cannot be used for another request after this one: the
    /// application left more than `util::MAX_SKIP` bytes of the body unread (or a chunked
    /// body unfinished, or a body whose reading failed), it did not read the body of an
    /// `Expect: 100-continue` request (the client waits for a `100 Continue` that will never
    /// come), or the connection is already closing.
    fn must_close_connection(&self) -> bool {
        let connection = match self.connection {
            Some(ref connection) => connection,
            None => return false,
        };
        if connection.is_closing() {
            return true;
        }
        match self.body_tracker {
            Some(ref body) => {
                body.forces_close() || (self.must_send_continue && body.unread() != Some(0))
            }
            None => false,
        }
    }

    /// Attaches the socket clone used by [`Request::upgrade_tcp`].
    pub(crate) fn with_handover(mut self, handover: Option<Handover>) -> Request {
        self.handover = handover;
        self
    }

    /// Sends a response to this request.
    ///
    /// The application does not need to read the body first. If it left a large part of it
    /// unread (more than 64 KiB, e.g. when answering `413 Payload Too Large` to a request
    /// announcing a huge `Content-Length`), the response is sent with `Connection: close`
    /// and the connection is shut down afterwards; the unread bytes are never read. A
    /// smaller remainder is skipped (read and discarded by the connection's own thread, not
    /// the caller's) so that the connection can be kept alive.
    #[inline]
    pub fn respond<R>(mut self, response: Response<R>) -> Result<(), IoError>
    where
        R: Read,
    {
        let res = self.respond_impl(response);
        if let Some(sender) = self.notify_when_responded.take() {
            sender.send(()).unwrap();
        }
        res
    }

    fn respond_impl<R>(&mut self, response: Response<R>) -> Result<(), IoError>
    where
        R: Read,
    {
        let mut writer = self.extract_writer_impl();

        let do_not_send_body = self.method == Method::Head;

        let response = if self.must_close_connection() {
            if let Some(ref connection) = self.connection {
                connection.close();
            }
            response.with_connection_close()
        } else {
            response
        };

        let result = response
            .raw_print(
                writer.by_ref(),
                self.http_version.clone(),
                &self.headers,
                do_not_send_body,
                None,
            )
            .and_then(|()| writer.flush());
        if result.is_err() {
            // a partly written response (e.g. write timeout) leaves the connection unusable
            if let Some(ref connection) = self.connection {
                connection.close();
            }
        }

        Self::ignore_client_closing_errors(result)
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

    pub(crate) fn with_non_ascii_headers(mut self, fields: Vec<HeaderField>) -> Self {
        self.non_ascii_headers = fields;
        self
    }

    pub(crate) fn with_notify_sender(mut self, sender: Sender<()>) -> Self {
        self.notify_when_responded = Some(sender);
        self
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
        if self.response_writer.is_some() {
            let response = Response::empty(500);
            let _ = self.respond_impl(response); // ignoring any potential error
            if let Some(sender) = self.notify_when_responded.take() {
                sender.send(()).unwrap();
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
