//! `GET /ws`: upgrade to a WebSocket, send a `snapshot`, then forward board events.
//!
//! Each viewer gets a thread with a small stack that only writes: it blocks on its
//! bounded hub queue, sends a ping when idle, and treats a failed write as a viewer
//! that is gone. (tiny_http's upgraded stream cannot be split, so a reader would
//! block the writer; the connection's write timeout bounds a stuck write.) A viewer
//! that falls behind is dropped by the hub and gets a close frame saying so; its page
//! reconnects and starts again from a fresh snapshot.

use std::time::{Duration, Instant};

use serde_json::json;
use tiny_http::{Header, Request, Response};
use tungstenite::protocol::frame::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{Role, WebSocket, WebSocketConfig};
use tungstenite::{Message, Utf8Bytes};

use super::App;
use super::http::{Reply, header};
use crate::hub::Subscription;

/// How often an idle viewer is pinged: keeps proxies from closing it, and finds a
/// peer that left (the first write after it left draws a reset, the next one fails),
/// which frees its `--max-viewers` slot within two intervals.
pub const PING_INTERVAL: Duration = Duration::from_secs(10);
/// Stack of a viewer thread: it only moves ready-made messages.
const VIEWER_STACK_BYTES: usize = 128 * 1024;
/// Read buffer of a viewer's socket: we never read client frames, so keep it small
/// (tungstenite's default is 128 KiB per connection).
const VIEWER_READ_BUFFER_BYTES: usize = 4 * 1024;

type Socket = WebSocket<Box<dyn tiny_http::ReadWrite + Send>>;

/// Answers `GET /ws`.
pub fn serve(app: &App, request: Request) {
    if !app.config.websocket {
        let reply = Reply::json(
            404,
            &json!({"error": "WebSocket push is turned off (--no-websocket); poll /api/teams"}),
        );
        return respond_plain(request, reply);
    }
    let key = header(&request, "Sec-WebSocket-Key").map(str::to_string);
    let upgrade = header(&request, "Upgrade").is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
    let Some(key) = key.filter(|_| upgrade) else {
        let reply = Reply::json(
            400,
            &json!({"error": "expected a WebSocket upgrade (Upgrade: websocket, Sec-WebSocket-Key)"}),
        );
        return respond_plain(request, reply);
    };
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
    let stream = request.upgrade("websocket", response);
    // Frames go straight to the socket (no write buffering): each send is flushed anyway.
    let socket_config = WebSocketConfig::default()
        .read_buffer_size(VIEWER_READ_BUFFER_BYTES)
        .write_buffer_size(0);
    let mut socket = WebSocket::from_raw_socket(stream, Role::Server, Some(socket_config));
    match subscribed {
        Ok((snapshot, subscription)) => {
            let spawned = std::thread::Builder::new()
                .name("ws-viewer".into())
                .stack_size(VIEWER_STACK_BYTES)
                .spawn(move || run_viewer(socket, snapshot, subscription));
            if let Err(e) = spawned {
                log::error!("cannot start a viewer thread: {e}");
            }
        }
        Err(refused) => {
            log::warn!("GET /ws -> refused: {refused}");
            close(&mut socket, CloseCode::Again, &refused.to_string());
        }
    }
}

fn respond_plain(request: Request, reply: Reply) {
    let response = Response::from_data(reply.body)
        .with_status_code(reply.status)
        .with_header(Header::from_bytes("Content-Type", reply.content_type).expect("ASCII header"));
    let _ = request.respond(response);
}

/// Sends the snapshot, then every event, until the viewer goes or falls behind.
fn run_viewer(mut socket: Socket, snapshot: String, subscription: Subscription) {
    if socket.send(Message::text(snapshot)).is_err() {
        return;
    }
    let mut last_sent = Instant::now();
    loop {
        let wait = PING_INTERVAL.saturating_sub(last_sent.elapsed());
        let outcome = match subscription.messages.recv_timeout(wait) {
            Ok(message) => socket.send(Message::Text(Utf8Bytes::from(&*message))),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                socket.send(Message::Ping(Default::default()))
            }
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                let reason = if subscription.lagged() {
                    "viewer fell behind; reconnect for a fresh snapshot"
                } else {
                    "server shutting down"
                };
                let code = if subscription.lagged() {
                    CloseCode::Again
                } else {
                    CloseCode::Away
                };
                close(&mut socket, code, reason);
                return;
            }
        };
        if outcome.is_err() {
            return; // the viewer is gone; dropping the subscription unsubscribes it
        }
        last_sent = Instant::now();
    }
}

fn close(socket: &mut Socket, code: CloseCode, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from(reason),
    };
    let _ = socket.close(Some(frame));
    let _ = socket.flush();
}
