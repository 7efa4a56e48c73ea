//! `GET /healthz`: a cheap liveness answer for a supervisor or a load balancer, with
//! the data directory's free space against `--min-free-space` and, with PostgreSQL,
//! whether the database can be reached. It reads no file (one
//! `statvfs`) and takes no lock for longer than a counter read.

use serde::Serialize;

use super::App;
use super::reply::Reply;
use crate::store::DiskState;

/// What `/healthz` answers (200, JSON).
#[derive(Debug, Serialize)]
pub struct Health {
    /// `"ok"`: the server answers requests and takes reports; `"degraded"`: it
    /// answers, but refuses reports: with 507 until space is freed (`disk.full`), or
    /// with 503 while the database is unreachable (`storage_available` false).
    pub status: &'static str,
    /// The server's version.
    pub version: &'static str,
    /// Seconds since the server started.
    pub uptime_secs: u64,
    /// WebSocket viewers connected now.
    pub viewers: usize,
    /// The data directory's free space against `--min-free-space` (with PostgreSQL:
    /// no data directory, `free_bytes` null and the check off).
    pub disk: DiskState,
    /// False while the store (PostgreSQL) cannot be reached; always true for a data
    /// directory.
    pub storage_available: bool,
}

/// The server's health now.
pub fn health(app: &App) -> Health {
    let disk = app.store.disk_state();
    let storage_available = app.board.storage_available();
    Health {
        status: if disk.full || !storage_available {
            "degraded"
        } else {
            "ok"
        },
        version: env!("CARGO_PKG_VERSION"),
        uptime_secs: app.telemetry.uptime().as_secs(),
        viewers: app.board.hub().len(),
        disk,
        storage_available,
    }
}

/// `GET /healthz`: 200 while the server answers, also when degraded (a restart would
/// not free any space).
pub(super) fn healthz(app: &App) -> Reply {
    let body = serde_json::to_value(health(app)).expect("Health serializes");
    Reply::json(200, &body)
}
