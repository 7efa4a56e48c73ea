//! Request heads and body framing, parsed from bytes already received (BenchBoard patch).
//!
//! Everything here works on a buffer and never reads a socket, so the reactor can parse
//! what a connection sent so far without a thread waiting on it. Every size is bounded:
//! request line ([`MAX_REQUEST_LINE`], else 414), head ([`MAX_HEAD`] and [`MAX_HEADERS`],
//! else 431), chunk-size line with its extensions ([`MAX_CHUNK_LINE`], else 400) and
//! trailers ([`MAX_TRAILERS`], else 400).

use crate::common::{HTTPVersion, Header, HeaderField, Method};

/// Longest request line (method, target, version), CRLF excluded: 8 KiB, as nginx.
pub(crate) const MAX_REQUEST_LINE: usize = 8 * 1024;
/// Longest request head (request line and every header line, CRLFs included).
pub(crate) const MAX_HEAD: usize = 16 * 1024;
/// Most header lines in one request.
pub(crate) const MAX_HEADERS: usize = 100;
/// Longest chunk-size line (size and extensions, CRLF excluded).
pub(crate) const MAX_CHUNK_LINE: usize = 1024;
/// Most bytes of trailer lines after the last chunk.
pub(crate) const MAX_TRAILERS: usize = 8 * 1024;

/// Why a request is answered by tiny_http itself and the connection closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) status: u16,
    pub(crate) message: &'static str,
}

impl Refusal {
    const fn new(status: u16, message: &'static str) -> Refusal {
        Refusal { status, message }
    }
}

pub(crate) const URI_TOO_LONG: Refusal = Refusal::new(
    414,
    "request line longer than 8 KiB: shorten the URL (at most 8192 bytes)",
);
pub(crate) const HEAD_TOO_LARGE: Refusal = Refusal::new(
    431,
    "request head larger than 16 KiB or with more than 100 header lines: send fewer or shorter headers",
);
pub(crate) const BAD_REQUEST_LINE: Refusal = Refusal::new(400, "malformed HTTP request line");
pub(crate) const BAD_HEADER: Refusal = Refusal::new(
    400,
    "malformed HTTP header line (header values must be ASCII)",
);
pub(crate) const BAD_CHUNK: Refusal = Refusal::new(
    400,
    "malformed chunked body: a chunk-size line must be hexadecimal, at most 1 KiB with its extensions, and end with CRLF",
);
pub(crate) const TRAILERS_TOO_LARGE: Refusal =
    Refusal::new(400, "chunked body trailers larger than 8 KiB");
pub(crate) const BAD_CONTENT_LENGTH: Refusal =
    Refusal::new(400, "Content-Length must be a non-negative integer");
pub(crate) const UNSUPPORTED_CODING: Refusal = Refusal::new(
    501,
    "only the chunked Transfer-Encoding is supported; send chunked or Content-Length",
);
pub(crate) const EXPECTATION_FAILED: Refusal = Refusal::new(417, "unsupported Expect header");
pub(crate) const VERSION_NOT_SUPPORTED: Refusal =
    Refusal::new(505, "this server only supports HTTP versions 1.0 and 1.1");
pub(crate) const REQUEST_TIMEOUT: Refusal = Refusal::new(
    408,
    "timed out reading the request: head and body must arrive within the request timeout",
);

/// Where the request head ends in a buffer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum HeadScan {
    /// No complete head yet, and nothing over a limit.
    Incomplete,
    /// The head is `buf[..n]`, its final empty line included.
    Complete(usize),
    /// Over a limit: answer this and close.
    Refused(Refusal),
}

/// Number of leading empty lines (`CRLF`) to skip before a request line (RFC 7230 §3.5).
pub(crate) fn leading_empty_lines(buf: &[u8]) -> usize {
    let mut n = 0;
    while buf[n..].starts_with(b"\r\n") {
        n += 2;
    }
    n
}

/// How far [`scan_head`] got in a buffer, so that each new piece of a slowly arriving
/// head is looked at once.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct HeadCursor {
    /// start of the line being read
    start: usize,
    /// complete lines so far
    lines: usize,
    /// no CRLF starts before this offset
    searched: usize,
}

/// Finds the end of the request head at the start of `buf`, enforcing the limits on the
/// request line, the head size and the number of header lines as bytes arrive. `cursor`
/// carries what was already scanned (use a new one for each request).
pub(crate) fn scan_head(buf: &[u8], cursor: &mut HeadCursor) -> HeadScan {
    loop {
        let limit = buf.len().min(MAX_HEAD + 2);
        let from = cursor.searched.max(cursor.start).min(limit);
        let found = find_crlf(&buf[from..limit]).map(|i| from + i);
        let line_len = match found {
            Some(pos) => pos - cursor.start,
            None => {
                cursor.searched = limit.saturating_sub(1).max(cursor.start);
                let partial = limit - cursor.start;
                if cursor.lines == 0 && partial > MAX_REQUEST_LINE + 1 {
                    return HeadScan::Refused(URI_TOO_LONG);
                }
                if buf.len() > MAX_HEAD {
                    return HeadScan::Refused(HEAD_TOO_LARGE);
                }
                return HeadScan::Incomplete;
            }
        };
        if cursor.lines == 0 && line_len > MAX_REQUEST_LINE {
            return HeadScan::Refused(URI_TOO_LONG);
        }
        let line_end = cursor.start + line_len + 2;
        if line_end > MAX_HEAD + 2 {
            return HeadScan::Refused(HEAD_TOO_LARGE);
        }
        if line_len == 0 && cursor.lines > 0 {
            return HeadScan::Complete(line_end);
        }
        cursor.lines += 1;
        if cursor.lines > MAX_HEADERS + 1 {
            return HeadScan::Refused(HEAD_TOO_LARGE);
        }
        cursor.start = line_end;
        cursor.searched = line_end;
    }
}

fn find_crlf(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\r\n")
}

/// A parsed request head.
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) version: HTTPVersion,
    pub(crate) headers: Vec<Header>,
    pub(crate) non_ascii_headers: Vec<HeaderField>,
}

/// Parses a complete head (as delimited by [`scan_head`]).
pub(crate) fn parse_head(head: &[u8]) -> Result<Head, Refusal> {
    let mut lines = head.split(|&b| b == b'\n').map(|line| match line {
        [rest @ .., b'\r'] => rest,
        line => line,
    });
    let request_line = lines.next().unwrap_or(b"");
    let request_line = std::str::from_utf8(request_line)
        .ok()
        .filter(|line| line.is_ascii())
        .ok_or(BAD_REQUEST_LINE)?;
    let (method, path, version) = parse_request_line(request_line.trim())?;

    let mut headers = Vec::new();
    let mut non_ascii_headers = Vec::new();
    for line in lines.take_while(|line| !line.is_empty()) {
        match parse_header_line(line) {
            Ok(HeaderLine::Ascii(h)) => headers.push(h),
            Ok(HeaderLine::NonAsciiValue(field)) => {
                // never guess at the framing of the message or at the state of the
                // connection: those headers must be readable
                if MUST_BE_ASCII.iter().any(|name| field.equiv(name)) {
                    return Err(BAD_HEADER);
                }
                non_ascii_headers.push(field);
            }
            Err(()) => return Err(BAD_HEADER),
        }
    }
    if version > (1, 1) {
        return Err(VERSION_NOT_SUPPORTED);
    }
    Ok(Head {
        method,
        path,
        version,
        headers,
        non_ascii_headers,
    })
}

/// How a request body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyFraming {
    /// No body.
    Empty,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// `Connection: upgrade`: everything after the head belongs to the application.
    Upgrade,
}

/// What the headers say about the body and the connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Framing {
    pub(crate) body: BodyFraming,
    pub(crate) expect_continue: bool,
    /// This is the last request of the connection (`Connection: close`, HTTP/1.0 without
    /// keep-alive, or an upgrade).
    pub(crate) last: bool,
}

fn header<'a>(headers: &'a [Header], name: &'static str) -> Option<&'a str> {
    headers
        .iter()
        .find(|h| h.field.equiv(name))
        .map(|h| h.value.as_str())
}

/// Reads the framing of the body from the headers (RFC 7230 §3.3.3), refusing anything
/// that could be framed in two ways.
pub(crate) fn framing(head: &Head) -> Result<Framing, Refusal> {
    let headers = &head.headers;
    let connection = header(headers, "Connection").map(str::to_ascii_lowercase);
    let upgrade = connection.as_ref().is_some_and(|c| c.contains("upgrade"));
    let last = match connection {
        Some(ref c) if c.contains("close") || c.contains("upgrade") => true,
        Some(ref c) => !c.contains("keep-alive") && head.version == HTTPVersion(1, 0),
        None => head.version == HTTPVersion(1, 0),
    };

    let expect_continue = match header(headers, "Expect") {
        None => false,
        Some(v) if v.eq_ignore_ascii_case("100-continue") => true,
        Some(_) => return Err(EXPECTATION_FAILED),
    };

    let transfer_encoding = header(headers, "Transfer-Encoding");
    // only `chunked` can be decoded; any other final coding cannot be framed
    if let Some(coding) = transfer_encoding {
        let last = coding.rsplit(',').next().unwrap_or("").trim();
        if !last.eq_ignore_ascii_case("chunked") {
            return Err(UNSUPPORTED_CODING);
        }
    }
    let body = if upgrade {
        BodyFraming::Upgrade
    } else if transfer_encoding.is_some() {
        // a Transfer-Encoding overrides any Content-Length
        BodyFraming::Chunked
    } else {
        // digits only (`+5` is not a length), and several headers must agree
        let mut lengths = headers
            .iter()
            .filter(|h| h.field.equiv("Content-Length"))
            .map(|h| h.value.as_str().trim());
        match lengths.next() {
            None => BodyFraming::Empty,
            Some(first) => {
                let digits = !first.is_empty() && first.bytes().all(|b| b.is_ascii_digit());
                match (digits, first.parse::<u64>()) {
                    (true, Ok(0)) if lengths.all(|other| other == first) => BodyFraming::Empty,
                    (true, Ok(n)) if lengths.all(|other| other == first) => BodyFraming::Length(n),
                    _ => return Err(BAD_CONTENT_LENGTH),
                }
            }
        }
    };
    Ok(Framing {
        body,
        expect_continue,
        last,
    })
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
pub(crate) enum HeaderLine {
    /// An all-ASCII header.
    Ascii(Header),
    /// A header whose value contains raw non-ASCII bytes (e.g. unencoded UTF-8, which
    /// RFC 7230 tolerates as `obs-text`). Only the name is kept; see
    /// `Request::non_ascii_headers`.
    NonAsciiValue(HeaderField),
}

/// Parses one header line (without its CRLF).
pub(crate) fn parse_header_line(line: &[u8]) -> Result<HeaderLine, ()> {
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

/// Parses a "HTTP/1.1" string.
fn parse_http_version(version: &str) -> Result<HTTPVersion, Refusal> {
    let (major, minor) = match version {
        "HTTP/0.9" => (0, 9),
        "HTTP/1.0" => (1, 0),
        "HTTP/1.1" => (1, 1),
        "HTTP/2.0" => (2, 0),
        "HTTP/3.0" => (3, 0),
        _ => return Err(BAD_REQUEST_LINE),
    };
    Ok(HTTPVersion(major, minor))
}

/// Parses the request line of the request, e.g. `GET / HTTP/1.1`.
pub(crate) fn parse_request_line(line: &str) -> Result<(Method, String, HTTPVersion), Refusal> {
    let mut parts = line.split(' ');
    let method = parts.next().and_then(|w| w.parse().ok());
    let path = parts.next().map(ToOwned::to_owned);
    let version = parts.next().and_then(|w| parse_http_version(w).ok());
    method
        .and_then(|method| Some((method, path?, version?)))
        .ok_or(BAD_REQUEST_LINE)
}

/// Incremental decoder of a chunked body with bounded lines (RFC 7230 §4.1). It works on
/// whatever bytes are at hand and remembers where it stopped, so the same decoder serves
/// the reactor (checking whether a body has fully arrived) and a body reader.
#[derive(Debug, Clone, Default)]
pub(crate) struct ChunkedDecoder {
    state: ChunkState,
    /// length of the chunk-size or trailer line read so far
    line: usize,
    /// value of the chunk size read so far
    size: u64,
    /// a `;` was seen: the rest of the line is an extension
    in_extension: bool,
    /// a line ended with CR, LF expected
    cr: bool,
    trailers: usize,
    /// bytes consumed so far: the body's size on the wire
    pub(crate) wire: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum ChunkState {
    #[default]
    Size,
    Data(u64),
    DataEnd {
        cr: bool,
    },
    Trailer,
    Done,
}

impl ChunkedDecoder {
    pub(crate) fn is_done(&self) -> bool {
        self.state == ChunkState::Done
    }

    /// Decodes from `input` into `out` until one of them is exhausted or the body ends.
    /// Returns (bytes consumed from `input`, bytes written to `out`).
    pub(crate) fn decode(
        &mut self,
        input: &[u8],
        out: &mut [u8],
    ) -> Result<(usize, usize), Refusal> {
        let (mut i, mut o) = (0, 0);
        while i < input.len() && !self.is_done() {
            match self.state {
                ChunkState::Data(left) => {
                    if o == out.len() {
                        break;
                    }
                    let n = (left.min(usize::MAX as u64) as usize)
                        .min(input.len() - i)
                        .min(out.len() - o);
                    out[o..o + n].copy_from_slice(&input[i..i + n]);
                    i += n;
                    o += n;
                    self.state = match left - n as u64 {
                        0 => ChunkState::DataEnd { cr: false },
                        left => ChunkState::Data(left),
                    };
                }
                _ => {
                    self.byte(input[i])?;
                    i += 1;
                }
            }
        }
        self.wire += i as u64;
        Ok((i, o))
    }

    /// Checks `input` without keeping the data: how many bytes were consumed.
    pub(crate) fn skim(&mut self, input: &[u8]) -> Result<usize, Refusal> {
        let mut scratch = [0u8; 4096];
        let mut done = 0;
        while done < input.len() && !self.is_done() {
            let (consumed, _) = self.decode(&input[done..], &mut scratch)?;
            done += consumed;
        }
        Ok(done)
    }

    fn byte(&mut self, b: u8) -> Result<(), Refusal> {
        match self.state {
            ChunkState::Size => self.size_byte(b),
            ChunkState::DataEnd { cr: false } if b == b'\r' => {
                self.state = ChunkState::DataEnd { cr: true };
                Ok(())
            }
            ChunkState::DataEnd { cr: true } if b == b'\n' => {
                self.state = ChunkState::Size;
                Ok(())
            }
            ChunkState::DataEnd { .. } => Err(BAD_CHUNK),
            ChunkState::Trailer => self.trailer_byte(b),
            ChunkState::Data(_) | ChunkState::Done => Ok(()),
        }
    }

    fn size_byte(&mut self, b: u8) -> Result<(), Refusal> {
        if self.cr {
            if b != b'\n' || self.line == 0 {
                return Err(BAD_CHUNK);
            }
            self.cr = false;
            self.line = 0;
            self.in_extension = false;
            self.state = match self.size {
                0 => ChunkState::Trailer,
                size => ChunkState::Data(size),
            };
            self.size = 0;
            return Ok(());
        }
        self.line += 1;
        if self.line > MAX_CHUNK_LINE {
            return Err(BAD_CHUNK);
        }
        match b {
            b'\r' => self.cr = true,
            _ if self.in_extension => {}
            b';' | b' ' | b'\t' => self.in_extension = true,
            _ => {
                let digit = (b as char).to_digit(16).ok_or(BAD_CHUNK)?;
                if self.size >> 60 != 0 {
                    return Err(BAD_CHUNK);
                }
                self.size = self.size * 16 + u64::from(digit);
            }
        }
        Ok(())
    }

    fn trailer_byte(&mut self, b: u8) -> Result<(), Refusal> {
        self.trailers += 1;
        if self.trailers > MAX_TRAILERS {
            return Err(TRAILERS_TOO_LARGE);
        }
        if self.cr {
            if b != b'\n' {
                return Err(BAD_CHUNK);
            }
            self.cr = false;
            if self.line == 0 {
                self.state = ChunkState::Done;
            }
            self.line = 0;
        } else if b == b'\r' {
            self.cr = true;
        } else {
            self.line += 1;
        }
        Ok(())
    }
}

/// An answer tiny_http makes on its own: a JSON body `{"error": ...}` readable from any
/// origin, like every error of the application (upstream sent an empty body).
pub(crate) fn error_response(
    status: u16,
    message: &str,
) -> crate::Response<std::io::Cursor<Vec<u8>>> {
    let body = format!(
        "{{\"error\":\"{}\"}}",
        message.replace('\\', "\\\\").replace('"', "\\\"")
    );
    crate::Response::from_data(body.into_bytes())
        .with_status_code(status)
        .with_header(
            Header::from_bytes(
                &b"Content-Type"[..],
                &b"application/json; charset=utf-8"[..],
            )
            .expect("valid header"),
        )
        .with_header(
            Header::from_bytes(&b"Access-Control-Allow-Origin"[..], &b"*"[..])
                .expect("valid header"),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_parse_request_line() {
        let (method, path, ver) = parse_request_line("GET /hello HTTP/1.1").unwrap();
        assert!(method == Method::Get);
        assert!(path == "/hello");
        assert!(ver == HTTPVersion(1, 1));
        assert!(parse_request_line("GET /hello").is_err());
        assert!(parse_request_line("qsd qsd qsd").is_err());
    }

    #[test]
    fn test_parse_header_line() {
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

    fn scan_head(buf: &[u8]) -> HeadScan {
        super::scan_head(buf, &mut HeadCursor::default())
    }

    #[test]
    fn scanning_piece_by_piece_finds_the_same_end() {
        let head = b"GET / HTTP/1.1\r\nHost: x\r\nX-A: b\r\n\r\nrest";
        for piece in 1..8 {
            let mut cursor = HeadCursor::default();
            let mut seen = 0;
            let result = loop {
                seen = (seen + piece).min(head.len());
                match super::scan_head(&head[..seen], &mut cursor) {
                    HeadScan::Incomplete => assert!(seen < head.len()),
                    other => break other,
                }
            };
            assert_eq!(result, HeadScan::Complete(head.len() - 4));
        }
    }

    #[test]
    fn head_limits_are_enforced_while_bytes_arrive() {
        let head = b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET";
        assert_eq!(scan_head(&head[..20]), HeadScan::Incomplete);
        assert_eq!(scan_head(head), HeadScan::Complete(head.len() - 3));

        // a request line without end: 414 as soon as it passes 8 KiB
        let mut long = b"GET /".to_vec();
        long.resize(MAX_REQUEST_LINE, b'a');
        assert_eq!(scan_head(&long), HeadScan::Incomplete);
        long.extend_from_slice(b"aa");
        assert_eq!(scan_head(&long), HeadScan::Refused(URI_TOO_LONG));

        // an endless header: 431 as soon as the head passes 16 KiB
        let mut big = b"GET / HTTP/1.1\r\nX-Big: ".to_vec();
        big.resize(MAX_HEAD, b'b');
        assert_eq!(scan_head(&big), HeadScan::Incomplete);
        big.push(b'b');
        assert_eq!(scan_head(&big), HeadScan::Refused(HEAD_TOO_LARGE));

        // 100 header lines are fine, 101 are not
        let many = |n: usize| {
            let mut h = b"GET / HTTP/1.1\r\n".to_vec();
            for i in 0..n {
                h.extend_from_slice(format!("X-{}: y\r\n", i).as_bytes());
            }
            h.extend_from_slice(b"\r\n");
            h
        };
        assert!(matches!(
            scan_head(&many(MAX_HEADERS)),
            HeadScan::Complete(_)
        ));
        assert_eq!(
            scan_head(&many(MAX_HEADERS + 1)),
            HeadScan::Refused(HEAD_TOO_LARGE)
        );
    }

    #[test]
    fn chunked_decoder_decodes_across_any_split() {
        let body = b"5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT";
        for split in 1..body.len() {
            let mut decoder = ChunkedDecoder::default();
            let mut out = [0u8; 64];
            let (a, n1) = decoder.decode(&body[..split], &mut out).unwrap();
            assert_eq!(a, split.min(body.len() - 4));
            let (b, n2) = decoder.decode(&body[a..], &mut out[n1..]).unwrap();
            assert!(decoder.is_done());
            assert_eq!(&out[..n1 + n2], b"hello world");
            assert_eq!(a + b, body.len() - 4, "stops right after the body");
            assert_eq!(decoder.wire, (body.len() - 4) as u64);
        }
    }

    #[test]
    fn chunked_decoder_bounds_lines_and_trailers() {
        let mut endless = ChunkedDecoder::default();
        let line = vec![b'f'; 2 * MAX_CHUNK_LINE];
        assert_eq!(endless.skim(&line), Err(BAD_CHUNK));

        let mut extension = ChunkedDecoder::default();
        let mut line = b"5;".to_vec();
        line.resize(MAX_CHUNK_LINE + 1, b'x');
        assert_eq!(extension.skim(&line), Err(BAD_CHUNK));

        let mut trailers = ChunkedDecoder::default();
        let mut body = b"0\r\n".to_vec();
        body.resize(MAX_TRAILERS + 10, b't');
        assert_eq!(trailers.skim(&body), Err(TRAILERS_TOO_LARGE));

        let mut overflow = ChunkedDecoder::default();
        assert_eq!(overflow.skim(b"fffffffffffffffff\r\n"), Err(BAD_CHUNK));
        let mut not_hex = ChunkedDecoder::default();
        assert_eq!(not_hex.skim(b"zz\r\n"), Err(BAD_CHUNK));
        let mut no_crlf = ChunkedDecoder::default();
        assert_eq!(no_crlf.skim(b"1\r\nab"), Err(BAD_CHUNK));
    }
}
