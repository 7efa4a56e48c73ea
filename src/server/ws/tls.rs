//! `wss://` viewers of a server started with `--tls-cert`/`--tls-key`.
//!
//! tiny_http keeps a TLS connection's encryption to itself, so the epoll writer
//! (which writes one shared buffer to raw sockets) cannot serve it. Each TLS viewer
//! gets a thread of its own instead: it writes the snapshot, then the frames of every
//! batch the hub has for it, woken by the hub like the epoll writer, and a ping when
//! nothing happened for [`PING_INTERVAL`]. It never reads (tiny_http's TLS stream
//! is one lock for both directions, so a blocked read would stop the writes): a
//! viewer that left is noticed when a write fails or times out (`--request-timeout`).
//!
//! Viewers are bounded by `--max-viewers` as over plain HTTP; for a large room, put a
//! TLS reverse proxy in front instead (README), and the epoll writer serves everyone.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex};

use tungstenite::protocol::frame::coding::{CloseCode, Control, OpCode};

use super::frames::{close_frame, frame, text_frames};
use super::writer::{FELL_BEHIND, PING_INTERVAL};
use crate::hub::{Hub, Subscription};

/// Wakes every TLS viewer thread when the hub publishes or closes.
#[derive(Default)]
struct Signal {
    generation: Mutex<u64>,
    changed: Condvar,
}

/// The TLS viewers' shared wake-up.
pub struct TlsViewers {
    signal: Arc<Signal>,
}

impl TlsViewers {
    /// Registers with the hub (once per server).
    pub fn new(hub: &Arc<Hub>) -> TlsViewers {
        let signal = Arc::new(Signal::default());
        let woken = Arc::clone(&signal);
        hub.add_waker(Box::new(move || {
            *woken.generation.lock().expect("signal lock poisoned") += 1;
            woken.changed.notify_all();
        }));
        TlsViewers { signal }
    }

    /// Serves one upgraded TLS connection on a thread of its own.
    pub fn add(
        &self,
        hub: Arc<Hub>,
        stream: Box<dyn tiny_http::ReadWrite + Send>,
        snapshot: Arc<str>,
        subscription: Subscription,
    ) {
        let signal = Arc::clone(&self.signal);
        let spawned = std::thread::Builder::new()
            .name("wss-viewer".into())
            .spawn(move || serve_viewer(&hub, &signal, stream, &snapshot, subscription));
        if let Err(e) = spawned {
            log::error!("GET /ws over TLS: cannot start a viewer thread: {e}");
        }
    }
}

fn serve_viewer(
    hub: &Hub,
    signal: &Signal,
    mut stream: Box<dyn tiny_http::ReadWrite + Send>,
    snapshot: &str,
    mut subscription: Subscription,
) {
    let first = text_frames(&[snapshot.into()]);
    if stream
        .write_all(&first)
        .and_then(|()| stream.flush())
        .is_err()
    {
        return;
    }
    let mut seen = *signal.generation.lock().expect("signal lock poisoned");
    loop {
        let woken = {
            let generation = signal.generation.lock().expect("signal lock poisoned");
            let (generation, timeout) = signal
                .changed
                .wait_timeout_while(generation, PING_INTERVAL, |g| *g == seen)
                .expect("signal lock poisoned");
            seen = *generation;
            !timeout.timed_out()
        };
        if hub.is_closed() {
            let _ = stream.write_all(&close_frame(CloseCode::Away, "server shutting down"));
            return;
        }
        let bytes = match hub.batch_after(subscription.cursor()) {
            Ok((batch, next)) => {
                subscription.advance_to(next);
                match (batch.is_empty(), woken) {
                    (false, _) => text_frames(&batch).to_vec(),
                    (true, true) => continue,
                    (true, false) => frame(OpCode::Control(Control::Ping), b""),
                }
            }
            Err(_) => {
                let _ = stream.write_all(&close_frame(CloseCode::Again, FELL_BEHIND));
                return;
            }
        };
        if stream
            .write_all(&bytes)
            .and_then(|()| stream.flush())
            .is_err()
        {
            return;
        }
    }
}
