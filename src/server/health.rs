//! `GET /healthz`: a cheap liveness answer for a supervisor or a load balancer. It
//! reads no file and takes no lock for longer than a counter read.

use serde::Serialize;

use super::App;
use super::reply::Reply;

/// What `/healthz` answers (200, JSON).
#[derive(Debug, Serialize)]
pub struct Health {
    /// `"ok"`: the server answers requests.
    pub status: &'static str,
    /// The server's version.
    pub version: &'static str,
    /// Seconds since the server started.
    pub uptime_secs: u64,
    /// WebSocket viewers connected now.
    pub viewers: usize,
    // The store's state goes here: the free space of the data directory against
    // `--min-free-space` ("disk": {"free_bytes", "min_free_bytes", "full"}), with
    // `status` "degraded" while reports are refused with 507.
}

/// The server's health now.
pub fn health(app: &App) -> Health {
    Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        uptime_secs: app.telemetry.uptime().as_secs(),
        viewers: app.board.hub().len(),
    }
}

/// `GET /healthz`.
pub(super) fn healthz(app: &App) -> Reply {
    let body = serde_json::to_value(health(app)).expect("Health serializes");
    Reply::json(200, &body)
}
