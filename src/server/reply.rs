//! An answer ready to send ([`Reply`]), reading a request header, and sending with
//! the CORS headers every answer carries. Pages, the WebSocket handshake and the API
//! handlers all answer through here.

use std::io::Read;

use serde_json::Value;
use tiny_http::{Header, Request, Response};

use crate::board::encoded::Encoded;

/// Headers a browser may send cross-origin, as the original allowed.
pub const CORS_ALLOW_HEADERS: &str =
    "Content-Type, X-Team-ID, X-Team-Name, X-Team-Token, Authorization";
/// Methods a browser may use cross-origin.
pub const CORS_ALLOW_METHODS: &str = "GET, POST, OPTIONS";

/// An answer ready to send.
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// A body produced while it is sent (chunked); `body` is then unused.
    pub stream: Option<Box<dyn Read + Send>>,
    /// The length of `stream` when known in advance (sent as `Content-Length`).
    pub stream_length: Option<usize>,
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    /// A JSON answer.
    pub fn json(status: u16, value: &Value) -> Reply {
        Reply {
            status,
            content_type: "application/json; charset=utf-8",
            body: serde_json::to_vec(value).expect("JSON values serialize"),
            stream: None,
            stream_length: None,
            headers: Vec::new(),
        }
    }

    /// Any other answer.
    pub fn bytes(status: u16, content_type: &'static str, body: Vec<u8>) -> Reply {
        Reply {
            status,
            content_type,
            body,
            stream: None,
            stream_length: None,
            headers: Vec::new(),
        }
    }

    /// An answer whose body is read from `stream` while it is sent.
    pub fn streamed(
        status: u16,
        content_type: &'static str,
        stream: Box<dyn Read + Send>,
    ) -> Reply {
        Reply {
            stream: Some(stream),
            ..Reply::bytes(status, content_type, Vec::new())
        }
    }

    /// A JSON answer put together from the board's shared pieces, sent as it is read
    /// (with its length), so the teams' bytes are never copied into one buffer.
    pub fn encoded(status: u16, text: Encoded) -> Reply {
        let length = text.len();
        Reply {
            stream_length: Some(length),
            ..Reply::streamed(
                status,
                "application/json; charset=utf-8",
                Box::new(text.into_reader()),
            )
        }
    }

    /// The answer to a CORS preflight (`OPTIONS`, any path).
    pub fn preflight() -> Reply {
        let mut reply = Reply::bytes(204, "text/plain", Vec::new());
        reply
            .headers
            .push(("Access-Control-Allow-Methods", CORS_ALLOW_METHODS.into()));
        reply
            .headers
            .push(("Access-Control-Allow-Headers", CORS_ALLOW_HEADERS.into()));
        reply
            .headers
            .push(("Access-Control-Max-Age", "86400".into()));
        reply
    }
}

/// A request header's value, if sent.
pub fn header<'a>(request: &'a Request, name: &'static str) -> Option<&'a str> {
    request
        .headers()
        .iter()
        .find(|h| h.field.equiv(name))
        .map(|h| h.value.as_str())
}

/// Sends a reply with its content type and the CORS header every answer carries.
pub fn send(request: Request, reply: Reply) {
    match reply.stream {
        // Without a length tiny_http sends it chunked as the stream yields it.
        Some(stream) => send_response(
            request,
            // A known length is sent as Content-Length, however large.
            Response::new(
                reply.status.into(),
                Vec::new(),
                stream,
                reply.stream_length,
                None,
            )
            .with_chunked_threshold(usize::MAX),
            reply.content_type,
            &reply.headers,
        ),
        None => send_response(
            request,
            Response::from_data(reply.body).with_status_code(reply.status),
            reply.content_type,
            &reply.headers,
        ),
    }
}

fn send_response<R: Read + Send + 'static>(
    request: Request,
    mut response: Response<R>,
    content_type: &str,
    headers: &[(&'static str, String)],
) {
    let mut add = |name: &str, value: &str| {
        let header = Header::from_bytes(name.as_bytes(), value.as_bytes())
            .expect("header names and values are ASCII");
        response.add_header(header);
    };
    add("Content-Type", content_type);
    add("Access-Control-Allow-Origin", "*");
    for (name, value) in headers {
        add(name, value);
    }
    // Never waits for the client: what the socket does not take at once, tiny_http's
    // writer thread sends (a slow reader of a large answer holds no worker). A client
    // that went away is not an error of ours.
    let _ = request.respond_detached(response);
}
