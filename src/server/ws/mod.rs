//! `GET /ws`: upgrade to a WebSocket, send a `snapshot`, then forward board events.
//!
//! The HTTP worker answers the handshake, takes the snapshot and a hub cursor under
//! the board lock, takes the connection over from tiny_http
//! ([`tiny_http::Request::upgrade_stream`]: the TCP socket, or for HTTPS the TLS
//! stream over it, so `wss://` works the same) and hands all three to a writer thread.
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
//! [`PING_INTERVAL`], drop a viewer whose peer has acknowledged nothing for
//! `--request-timeout`, and close (1008, with a reason) one that takes less than
//! [`MIN_READ_BYTES_PER_SEC`] over that time while frames wait for it: what the peer
//! acknowledged is read from the kernel (`SIOCOUTQ`), since the socket buffers hide
//! a slow reader. A client's own pings are not answered (browsers send none).
//!
//! Frames are shared pieces ([`crate::board::encoded`]): a snapshot is the teams'
//! entries as serialised once per report, so viewers holding different stale
//! snapshots still share the bytes of every team. Per-address limits
//! (`--max-viewers-per-ip`) and `--allowed-origin` are checked before the upgrade.

mod frames;
mod slots;
mod viewer;
mod writer;

use std::io::Write;
use std::net::Shutdown;

use serde_json::json;
use tiny_http::{Header, Request, Response, UpgradeTcpError, UpgradedStream};
use tungstenite::protocol::frame::coding::CloseCode;

pub use slots::{AddressSlot, AddressSlots};
pub use viewer::NewViewer;
pub use writer::{MIN_READ_BYTES_PER_SEC, PING_INTERVAL, Viewers, WRITER_THREADS, send_interval};

use super::App;
use super::client_addr::client_address;
use super::reply::{self, Reply, header};
use super::sockopt;
use frames::close_frame;

/// Answers `GET /ws`.
pub fn serve(app: &App, request: Request) {
    if !app.config.websocket {
        let reply = Reply::json(
            404,
            &json!({"error": "WebSocket push is turned off (--no-websocket); poll /api/teams"}),
        );
        return respond_plain(request, reply);
    }
    let client = client_address(&request, &app.config.trusted_proxies);
    let description = super::routes::client_description(&request, client);
    if let Err(reply) = check_origin(&request, &app.config.allowed_origins) {
        let line = format!("GET /ws -> 403: {} ({description})", error_of(&reply));
        app.refusals.log(client, log::Level::Warn, &line);
        return respond_plain(request, reply);
    }
    if let Err(refusal) = app.trust.check_viewer(&request) {
        return respond_plain(request, super::error::ApiError::from(refusal).reply());
    }
    if let Err(reply) = check_handshake(&request) {
        return respond_plain(request, reply);
    }
    let key = header(&request, "Sec-WebSocket-Key")
        .expect("checked by check_handshake")
        .to_string();
    // A place among the address's viewers first, so a refused address takes no
    // viewer slot, not even for a moment.
    let subscribed = match app.viewers.address_slot(client) {
        Ok(slot) => app
            .board
            .subscribe()
            .map(|s| (s, slot))
            .map_err(|e| e.to_string()),
        Err(limit) => Err(format!(
            "too many viewers from this address (limit {limit}, --max-viewers-per-ip); try again later"
        )),
    };
    let response = Response::empty(101)
        .with_header(Header::from_bytes("Connection", "Upgrade").expect("ASCII header"))
        .with_header(
            Header::from_bytes(
                "Sec-WebSocket-Accept",
                tungstenite::handshake::derive_accept_key(key.as_bytes()),
            )
            .expect("base64 is ASCII"),
        );
    let socket = match request.upgrade_stream("websocket", response) {
        Ok(socket) => socket,
        Err(UpgradeTcpError::NotPlainTcp(request, _)) => {
            let reply = Reply::json(
                500,
                &json!({"error": "the WebSocket push needs a TCP connection"}),
            );
            return respond_plain(*request, reply);
        }
        Err(UpgradeTcpError::Io(e)) => {
            log::debug!("GET /ws: the viewer left during the handshake: {e}");
            return;
        }
    };
    // Twice the timeout: a viewer that takes a little but too little must meet the
    // writer's rate rule first, which closes it with a reason; the kernel cuts a
    // window shut that long (or a vanished peer) without one.
    sockopt::give_up_on_silent_peer(socket.tcp(), app.config.request_timeout * 2);
    match subscribed {
        Ok(((snapshot, subscription), slot)) => app.viewers.add(NewViewer {
            socket,
            snapshot,
            subscription,
            slot,
        }),
        Err(refused) => {
            app.refusals.log(
                client,
                log::Level::Warn,
                &format!("GET /ws -> refused: {refused} ({description})"),
            );
            refuse(socket, &refused);
        }
    }
}

/// With `--allowed-origin`, only pages from those origins may open `/ws` (a browser
/// always sends `Origin` with a WebSocket; a request without one is refused too).
fn check_origin(request: &Request, allowed: &[String]) -> Result<(), Reply> {
    if allowed.is_empty() {
        return Ok(());
    }
    let origin = header(request, "Origin").map(|o| o.trim().trim_end_matches('/'));
    if origin.is_some_and(|origin| allowed.iter().any(|a| a.eq_ignore_ascii_case(origin))) {
        return Ok(());
    }
    let shown = origin.map_or_else(
        || "no Origin header".to_string(),
        |o| format!("origin {o:?}"),
    );
    Err(Reply::json(
        403,
        &json!({"error": format!("{shown} may not open /ws: allowed origins are {} (--allowed-origin)", allowed.join(", "))}),
    ))
}

/// The message of a JSON error reply, [`clean`](crate::logging::clean)ed for a log line.
fn error_of(reply: &Reply) -> String {
    let message = serde_json::from_slice::<serde_json::Value>(&reply.body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or_default();
    crate::logging::clean(&message)
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

/// Sends a close frame on a freshly upgraded (still blocking, write-timed-out)
/// socket and closes it.
fn refuse(mut socket: UpgradedStream, reason: &str) {
    let _ = socket.write_all(&close_frame(CloseCode::Again, reason));
    let _ = socket.shutdown(Shutdown::Write);
}
