//! `GET /ws`: upgrade to a WebSocket, send a `snapshot`, then forward board events.
//!
//! Each viewer gets a thread with a small stack that only writes: it blocks on its
//! bounded hub queue, sends a ping when idle, and treats a failed write as a viewer
//! that is gone. (tiny_http's upgraded stream cannot be split, so a reader would
//! block the writer; the connection's write timeout bounds a stuck write.)
//!
//! What queued up while a viewer was writing goes out as one batch, in which only the
//! newest `team_update` of each team is kept; with many viewers, a viewer also rests
//! a little after each batch ([`send_interval`]), so that a flood of reports costs
//! each viewer a few batches a second rather than one write per report. A viewer
//! that still falls behind is dropped by the hub and gets a close frame saying so;
//! its page reconnects and starts again from a fresh snapshot.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tiny_http::{Header, Request, Response};
use tungstenite::protocol::frame::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{Role, WebSocket, WebSocketConfig};
use tungstenite::{Message, Utf8Bytes};

use super::App;
use super::http::{Reply, header};
use crate::hub::{Hub, Message as HubMessage, Missed, Subscription};

/// How often an idle viewer is pinged: keeps proxies from closing it, and finds a
/// peer that left (the first write after it left draws a reset, the next one fails),
/// which frees its `--max-viewers` slot within two intervals.
pub const PING_INTERVAL: Duration = Duration::from_secs(10);
/// Stack of a viewer thread: it only moves ready-made messages.
const VIEWER_STACK_BYTES: usize = 128 * 1024;
/// Share of the send interval per connected viewer (see [`send_interval`]).
const SEND_COST_PER_VIEWER: Duration = Duration::from_micros(100);
/// Longest hold-back between two batches of one viewer.
const MAX_SEND_INTERVAL: Duration = Duration::from_millis(100);
/// Frames of one batch are gathered up to this size before they are written.
const VIEWER_WRITE_BUFFER_BYTES: usize = 16 * 1024;
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
    let hub = Arc::clone(app.board.hub());
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
    let socket_config = WebSocketConfig::default()
        .read_buffer_size(VIEWER_READ_BUFFER_BYTES)
        .write_buffer_size(VIEWER_WRITE_BUFFER_BYTES);
    let mut socket = WebSocket::from_raw_socket(stream, Role::Server, Some(socket_config));
    match subscribed {
        Ok((snapshot, subscription)) => {
            let spawned = std::thread::Builder::new()
                .name("ws-viewer".into())
                .stack_size(VIEWER_STACK_BYTES)
                .spawn(move || run_viewer(socket, snapshot, subscription, hub));
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
fn run_viewer(mut socket: Socket, snapshot: String, mut subscription: Subscription, hub: Arc<Hub>) {
    if socket.send(Message::text(snapshot)).is_err() {
        return;
    }
    let mut last_sent = Instant::now();
    let mut rest = send_interval(hub.len());
    let mut rest_checked = Instant::now();
    loop {
        let wait = PING_INTERVAL.saturating_sub(last_sent.elapsed());
        let outcome = match subscription.next_batch(wait) {
            Ok(batch) => {
                let sent = send_batch(&mut socket, batch);
                // Rest a little after each batch when many viewers share the CPU: a
                // burst of reports then gathers in the ring and goes out as one batch,
                // and publishing finds fewer viewers waiting to be woken.
                if rest_checked.elapsed() >= Duration::from_secs(1) {
                    rest = send_interval(hub.len());
                    rest_checked = Instant::now();
                }
                std::thread::sleep(rest);
                sent
            }
            Err(Missed::Timeout) => socket.send(Message::Ping(Default::default())),
            Err(Missed::Lagged) => {
                let reason = "viewer fell behind; reconnect for a fresh snapshot";
                close(&mut socket, CloseCode::Again, reason);
                return;
            }
            Err(Missed::Closed) => {
                close(&mut socket, CloseCode::Away, "server shutting down");
                return;
            }
        };
        if outcome.is_err() {
            return; // the viewer is gone; dropping the subscription unsubscribes it
        }
        last_sent = Instant::now();
    }
}

/// Rest of a viewer after each batch: `SEND_COST_PER_VIEWER` per connected viewer,
/// up to `MAX_SEND_INTERVAL` (1 ms at 10 viewers, 10 ms at 100, 100 ms at 1,000). It
/// bounds the batches of all viewers together to about 10,000 per second, so a flood
/// of reports cannot starve ingest; a report after a quiet spell still goes out at once.
pub fn send_interval(viewers: usize) -> Duration {
    (SEND_COST_PER_VIEWER * viewers.min(u32::MAX as usize) as u32).min(MAX_SEND_INTERVAL)
}

/// Writes the messages and flushes once; an error means the viewer is gone.
fn send_batch(socket: &mut Socket, batch: Vec<HubMessage>) -> tungstenite::Result<()> {
    for message in batch {
        socket.write(Message::Text(Utf8Bytes::from(&*message)))?;
    }
    socket.flush()
}

fn close(socket: &mut Socket, code: CloseCode, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from(reason),
    };
    let _ = socket.close(Some(frame));
    let _ = socket.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_interval_grows_with_viewers_up_to_a_cap() {
        assert_eq!(send_interval(0), Duration::ZERO);
        assert_eq!(send_interval(100), Duration::from_millis(10));
        assert_eq!(send_interval(1000), Duration::from_millis(100));
        assert_eq!(send_interval(100_000), MAX_SEND_INTERVAL);
    }
}
