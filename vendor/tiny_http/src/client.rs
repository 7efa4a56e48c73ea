use std::io::Error as IoError;
use std::io::Result as IoResult;
use std::io::{BufReader, BufWriter, ErrorKind, Read};

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{HTTPVersion, Header, HeaderField, Method};
use crate::util::{ConnectionReader, ConnectionState, RefinedTcpStream};
use crate::util::{SequentialReader, SequentialReaderBuilder, SequentialWriterBuilder};
use crate::Request;

/// A ClientConnection is an object that will store a socket to a client
/// and return Request objects.
pub struct ClientConnection {
    // address of the client
    remote_addr: IoResult<Option<SocketAddr>>,

    // sequence of Readers to the stream, so that the data is not read in
    //  the wrong order
    source: SequentialReaderBuilder<ConnectionReader>,

    // sequence of Writers to the stream, to avoid writing response #2 before
    //  response #1
    sink: SequentialWriterBuilder<BufWriter<RefinedTcpStream>>,

    // Reader to read the next header from
    next_header_source: SequentialReader<ConnectionReader>,

    // shared with the requests: unread bodies to skip, or the connection is closing
    state: Arc<ConnectionState>,

    // set to true if we know that the previous request is the last one
    no_more_requests: bool,

    // true if the connection goes through SSL
    secure: bool,

    // limit for the time spent receiving one request line + headers (the socket's read timeout
    // only limits each single read, which a client trickling bytes would never hit)
    head_timeout: Option<Duration>,

    // when the first byte of the request currently being read arrived
    head_started: Option<Instant>,
}

/// Error that can happen when reading a request.
#[derive(Debug)]
enum ReadError {
    WrongRequestLine,
    WrongHeader(HTTPVersion),
    /// the client sent an unrecognized `Expect` header
    ExpectationFailed(HTTPVersion),
    /// the request cannot be framed: answer with this status and message, then close
    Refused(HTTPVersion, u16, &'static str),
    ReadIoError(IoError),
}

impl ClientConnection {
    /// Creates a new `ClientConnection` that takes ownership of the `TcpStream`.
    pub fn new(
        write_socket: RefinedTcpStream,
        mut read_socket: RefinedTcpStream,
        head_timeout: Option<Duration>,
    ) -> ClientConnection {
        let remote_addr = read_socket.peer_addr();
        let secure = read_socket.secure();

        let state = ConnectionState::new();
        let mut source = SequentialReaderBuilder::new(ConnectionReader::new(
            BufReader::with_capacity(1024, read_socket),
            state.clone(),
        ));
        let first_header = source.next().unwrap();

        ClientConnection {
            source,
            sink: SequentialWriterBuilder::new(BufWriter::with_capacity(1024, write_socket)),
            remote_addr,
            next_header_source: first_header,
            state,
            no_more_requests: false,
            secure,
            head_timeout,
            head_started: None,
        }
    }

    /// true if the connection is HTTPS
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// Reads the next line from self.next_header_source.
    ///
    /// Reads until `CRLF` is reached. The next read will start
    ///  at the first byte of the new line. The line is returned as raw bytes: whether
    ///  non-ASCII bytes are acceptable depends on where they are (see `read`).
    fn read_next_line(&mut self) -> IoResult<Vec<u8>> {
        let mut buf = Vec::new();
        let mut prev_byte_was_cr = false;

        loop {
            let byte = self.next_header_source.by_ref().bytes().next();

            let byte = match byte {
                Some(b) => b?,
                None => return Err(IoError::new(ErrorKind::ConnectionAborted, "Unexpected EOF")),
            };

            match (self.head_started, self.head_timeout) {
                (None, _) => self.head_started = Some(Instant::now()),
                (Some(started), Some(timeout)) if started.elapsed() > timeout => {
                    let msg = "request head not received within the read timeout";
                    return Err(IoError::new(ErrorKind::TimedOut, msg));
                }
                _ => (),
            }

            if byte == b'\n' && prev_byte_was_cr {
                buf.pop(); // removing the '\r'
                return Ok(buf);
            }

            prev_byte_was_cr = byte == b'\r';

            buf.push(byte);
        }
    }

    /// Reads a request from the stream.
    /// Blocks until the header has been read.
    fn read(&mut self) -> Result<Request, ReadError> {
        self.head_started = None;
        let (method, path, version, headers, non_ascii_headers) = {
            // reading the request line; it must be ASCII (a raw non-ASCII path gets a 400)
            let (method, path, version) = {
                let line = self.read_next_line().map_err(ReadError::ReadIoError)?;
                let line = std::str::from_utf8(&line)
                    .ok()
                    .filter(|line| line.is_ascii())
                    .ok_or(ReadError::WrongRequestLine)?;

                parse_request_line(line.trim())?
            };

            // getting all headers
            let mut headers = Vec::new();
            let mut non_ascii_headers = Vec::new();
            loop {
                let line = self.read_next_line().map_err(ReadError::ReadIoError)?;

                if line.is_empty() {
                    break;
                };
                match parse_header_line(&line) {
                    Ok(HeaderLine::Ascii(h)) => headers.push(h),
                    Ok(HeaderLine::NonAsciiValue(field)) => {
                        // never guess at the framing of the message or at the state of the
                        // connection: those headers must be readable
                        if MUST_BE_ASCII.iter().any(|name| field.equiv(name)) {
                            return Err(ReadError::WrongHeader(version));
                        }
                        non_ascii_headers.push(field);
                    }
                    Err(()) => return Err(ReadError::WrongHeader(version)),
                }
            }

            (method, path, version, headers, non_ascii_headers)
        };

        // a plain-TCP upgrade request gets a clone of the socket, which the application can
        // take over with `Request::upgrade_tcp`
        let wants_upgrade = headers.iter().any(|h| {
            h.field.equiv("Connection") && h.value.as_str().to_ascii_lowercase().contains("upgrade")
        });
        let handover = if wants_upgrade && !self.secure {
            self.sink.with_inner(|w| w.get_ref().handover())
        } else {
            None
        };

        // building the writer for the request
        let writer = self.sink.next().unwrap();

        // follow-up for next potential request
        let mut data_source = self.source.next().unwrap();
        std::mem::swap(&mut self.next_header_source, &mut data_source);

        // building the next reader
        let request = crate::request::new_request(
            self.secure,
            method,
            path,
            version.clone(),
            headers,
            *self.remote_addr.as_ref().unwrap(),
            data_source,
            writer,
            Some(self.state.clone()),
        )
        .map_err(|e| {
            use crate::request;
            match e {
                request::RequestCreationError::CreationIoError(e) => ReadError::ReadIoError(e),
                request::RequestCreationError::ExpectationFailed => {
                    ReadError::ExpectationFailed(version)
                }
                request::RequestCreationError::InvalidContentLength => ReadError::Refused(
                    version,
                    400,
                    "Content-Length must be a non-negative integer",
                ),
                request::RequestCreationError::UnsupportedTransferEncoding => ReadError::Refused(
                    version,
                    501,
                    "only the chunked Transfer-Encoding is supported; send chunked or Content-Length",
                ),
            }
        })?
        .with_non_ascii_headers(non_ascii_headers)
        .with_handover(handover);

        // return the request
        Ok(request)
    }
}

/// An error answered by tiny-http itself, before the application sees the request.
/// BenchBoard patch: a JSON body `{"error": ...}` readable from any origin, like every
/// error of the application (it used to be an empty body).
fn error_response(status: u16, message: &str) -> crate::Response<std::io::Cursor<Vec<u8>>> {
    let body = format!("{{\"error\":\"{}\"}}", message.replace('\\', "\\\\").replace('"', "\\\""));
    crate::Response::from_data(body.into_bytes())
        .with_status_code(status)
        .with_header(
            crate::Header::from_bytes(&b"Content-Type"[..], &b"application/json; charset=utf-8"[..])
                .expect("valid header"),
        )
        .with_header(
            crate::Header::from_bytes(&b"Access-Control-Allow-Origin"[..], &b"*"[..])
                .expect("valid header"),
        )
}

impl Iterator for ClientConnection {
    type Item = Request;

    /// Blocks until the next Request is available.
    /// Returns None when no new Requests will come from the client.
    fn next(&mut self) -> Option<Request> {
        use crate::{Response, StatusCode};

        // the client sent a "connection: close" header in this previous request
        //  or is using HTTP 1.0, meaning that no new request will come
        if self.no_more_requests || self.state.is_closing() {
            return None;
        }

        loop {
            let rq = match self.read() {
                Err(ReadError::WrongRequestLine) => {
                    let writer = self.sink.next().unwrap();
                    let response = error_response(400, "malformed HTTP request line");
                    response
                        .raw_print(writer, HTTPVersion(1, 1), &[], false, None)
                        .ok();
                    return None; // we don't know where the next request would start,
                                 // se we have to close
                }

                Err(ReadError::WrongHeader(ver)) => {
                    let writer = self.sink.next().unwrap();
                    let response = error_response(
                        400,
                        "malformed HTTP header line (header values must be ASCII)",
                    );
                    response.raw_print(writer, ver, &[], false, None).ok();
                    return None; // we don't know where the next request would start,
                                 // se we have to close
                }

                Err(ReadError::Refused(ver, status, message)) => {
                    let writer = self.sink.next().unwrap();
                    let response = error_response(status, message);
                    response.raw_print(writer, ver, &[], false, None).ok();
                    return None; // the body cannot be framed: close
                }

                Err(ReadError::ReadIoError(ref err))
                    if is_timeout(err) && self.head_started.is_none() =>
                {
                    // idle keep-alive connection: nothing of a new request has arrived
                    return None;
                }

                Err(ReadError::ReadIoError(ref err)) if is_timeout(err) => {
                    // request timeout (the client stalled in the middle of a request head)
                    let writer = self.sink.next().unwrap();
                    let response = error_response(408, "timed out reading the request head");
                    response
                        .raw_print(writer, HTTPVersion(1, 1), &[], false, None)
                        .ok();
                    return None; // closing the connection
                }

                Err(ReadError::ExpectationFailed(ver)) => {
                    let writer = self.sink.next().unwrap();
                    let response = error_response(417, "unsupported Expect header");
                    response.raw_print(writer, ver, &[], true, None).ok();
                    return None; // TODO: should be recoverable, but needs handling in case of body
                }

                Err(ReadError::ReadIoError(_)) => return None,

                Ok(rq) => rq,
            };

            // checking HTTP version
            if *rq.http_version() > (1, 1) {
                let writer = self.sink.next().unwrap();
                let response = Response::from_string(
                    "This server only supports HTTP versions 1.0 and 1.1".to_owned(),
                )
                .with_status_code(StatusCode(505));
                response
                    .raw_print(writer, HTTPVersion(1, 1), &[], false, None)
                    .ok();
                continue;
            }

            // updating the status of the connection
            let connection_header = rq
                .headers()
                .iter()
                .find(|h| h.field.equiv("Connection"))
                .map(|h| h.value.as_str());

            let lowercase = connection_header.map(|h| h.to_ascii_lowercase());

            match lowercase {
                Some(ref val) if val.contains("close") => self.no_more_requests = true,
                Some(ref val) if val.contains("upgrade") => self.no_more_requests = true,
                Some(ref val)
                    if !val.contains("keep-alive") && *rq.http_version() == HTTPVersion(1, 0) =>
                {
                    self.no_more_requests = true
                }
                None if *rq.http_version() == HTTPVersion(1, 0) => self.no_more_requests = true,
                _ => (),
            };

            // returning the request
            return Some(rq);
        }
    }
}

/// Headers that tiny_http itself interprets. A raw non-ASCII value in one of them gets a 400
/// instead of being set aside (ignoring e.g. a `Content-Length` would desynchronise the
/// connection: request smuggling).
const MUST_BE_ASCII: [&str; 4] = [
    "Content-Length",
    "Transfer-Encoding",
    "Connection",
    "Expect",
];

/// A syntactically valid header line.
#[derive(Debug)]
enum HeaderLine {
    /// An all-ASCII header.
    Ascii(Header),
    /// A header whose value contains raw non-ASCII bytes (e.g. unencoded UTF-8, which
    /// RFC 7230 tolerates as `obs-text`). Only the name is kept; see
    /// `Request::non_ascii_headers`.
    NonAsciiValue(HeaderField),
}

/// Parses one header line (without its CRLF).
fn parse_header_line(line: &[u8]) -> Result<HeaderLine, ()> {
    if let Ok(line) = std::str::from_utf8(line) {
        if line.is_ascii() {
            return line.trim().parse().map(HeaderLine::Ascii);
        }
    }
    // The field name must still be a valid (ASCII, no whitespace) token.
    let line = line.trim_ascii_start();
    let colon = line.iter().position(|&b| b == b':').ok_or(())?;
    let name = std::str::from_utf8(&line[..colon]).map_err(|_| ())?;
    name.parse().map(HeaderLine::NonAsciiValue)
}

/// The error of a read that hit the socket's read timeout (`WouldBlock` on Unix,
/// `TimedOut` on Windows) or the request head deadline.
fn is_timeout(err: &IoError) -> bool {
    matches!(err.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock)
}

/// Parses a "HTTP/1.1" string.
fn parse_http_version(version: &str) -> Result<HTTPVersion, ReadError> {
    let (major, minor) = match version {
        "HTTP/0.9" => (0, 9),
        "HTTP/1.0" => (1, 0),
        "HTTP/1.1" => (1, 1),
        "HTTP/2.0" => (2, 0),
        "HTTP/3.0" => (3, 0),
        _ => return Err(ReadError::WrongRequestLine),
    };

    Ok(HTTPVersion(major, minor))
}

/// Parses the request line of the request.
/// eg. GET / HTTP/1.1
fn parse_request_line(line: &str) -> Result<(Method, String, HTTPVersion), ReadError> {
    let mut parts = line.split(' ');

    let method = parts.next().and_then(|w| w.parse().ok());
    let path = parts.next().map(ToOwned::to_owned);
    let version = parts.next().and_then(|w| parse_http_version(w).ok());

    method
        .and_then(|method| Some((method, path?, version?)))
        .ok_or(ReadError::WrongRequestLine)
}

#[cfg(test)]
mod test {
    #[test]
    fn test_parse_request_line() {
        let (method, path, ver) = super::parse_request_line("GET /hello HTTP/1.1").unwrap();

        assert!(method == crate::Method::Get);
        assert!(path == "/hello");
        assert!(ver == crate::common::HTTPVersion(1, 1));

        assert!(super::parse_request_line("GET /hello").is_err());
        assert!(super::parse_request_line("qsd qsd qsd").is_err());
    }

    #[test]
    fn test_parse_header_line() {
        use super::{parse_header_line, HeaderLine};

        match parse_header_line(b"Host: example") {
            Ok(HeaderLine::Ascii(h)) => assert!(h.field.equiv("host") && h.value == "example"),
            other => panic!("{:?}", other),
        }
        match parse_header_line("X-Team-Name: \u{56e2}\u{961f}A".as_bytes()) {
            Ok(HeaderLine::NonAsciiValue(f)) => assert!(f.equiv("x-team-name")),
            other => panic!("{:?}", other),
        }
        // invalid UTF-8 is fine too, it is just not ASCII
        assert!(matches!(
            parse_header_line(b"X-Raw: \xff\xfe"),
            Ok(HeaderLine::NonAsciiValue(_))
        ));
        // the name must be a valid token
        assert!(parse_header_line("N\u{e4}me: value".as_bytes()).is_err());
        assert!(parse_header_line("X Name: \u{e4}".as_bytes()).is_err());
        assert!(parse_header_line("no colon \u{e4}".as_bytes()).is_err());
    }
}
