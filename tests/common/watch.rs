//! Watching a server as another instance's viewer would: poll until something holds
//! (what another instance learns by NOTIFY), and read a viewer's next message of a kind.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::Value;
use tungstenite::WebSocket;
use tungstenite::stream::MaybeTlsStream;

use super::{PATIENCE, TestServer};

/// A viewer's WebSocket.
pub type Socket = WebSocket<MaybeTlsStream<TcpStream>>;

/// Polls `check` until it holds, or fails after [`PATIENCE`] naming `what`.
pub fn eventually(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !check() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A viewer of `server`'s `/ws`, whose reads give up after [`PATIENCE`].
pub fn viewer(server: &TestServer) -> Socket {
    let url = server.base.replacen("http://", "ws://", 1) + "/ws";
    let (socket, _) = tungstenite::connect(url).expect("WebSocket handshake");
    if let MaybeTlsStream::Plain(stream) = socket.get_ref() {
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
    }
    socket
}

/// The next message the viewer gets that `wanted` picks.
pub fn next_message(socket: &mut Socket, wanted: impl Fn(&Value) -> bool) -> Value {
    loop {
        let message = socket.read().expect("the viewer gets the message in time");
        let Ok(text) = message.to_text() else {
            continue;
        };
        let value: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        if wanted(&value) {
            return value;
        }
    }
}
