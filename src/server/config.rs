//! The server's checked settings ([`Config`]); `benchboard-serve`'s arguments
//! ([`crate::cli::serve::ServeArgs`]) become one.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::client_addr::TrustedProxies;
use super::trust::LimitFlags;
use crate::alerts::{AlertSettings, SenderOptions};
use crate::board::Timing;
use crate::clock::{Clock, SystemClock};
use crate::config::ContestFile;
use crate::store::StoreError;

/// Why the server refuses to start; each message says what to change.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The address is taken or cannot be bound.
    #[error(
        "cannot listen on {addr}: {reason} (choose another --port, or --port 0 for a free one)"
    )]
    Bind { addr: String, reason: String },
    /// The data directory cannot be created or read.
    #[error("{0} (check --data-dir)")]
    DataDir(StoreError),
    /// The database of `--store` refused us (retrying would not help).
    #[error("{0} (check --store)")]
    Store(StoreError),
    /// Another server holds the data directory (exit code 2).
    #[error("{0}")]
    DataDirInUse(StoreError),
    /// Flags that contradict each other or are out of range.
    #[error("{0}")]
    Invalid(String),
    /// The alert state file cannot be read.
    #[error("{0} (check the permissions of the data directory)")]
    AlertState(crate::alerts::persist::PersistError),
    /// `--tls-cert` / `--tls-key` cannot be served with.
    #[error("{0}")]
    Tls(#[from] super::tls::TlsError),
    /// The admin state of the data directory (hidden teams, names) cannot be read.
    #[error("{0}")]
    AdminState(String),
    /// The contest state file (the reveal) cannot be read.
    #[error(
        "cannot read the contest state (.benchboard-contest.json): {0} (check the permissions of the data directory)"
    )]
    ContestState(std::io::Error),
}

impl StartupError {
    /// The error of a data directory that cannot be opened.
    pub fn data_dir(error: StoreError) -> StartupError {
        match error {
            StoreError::InUse { .. } => StartupError::DataDirInUse(error),
            _ => StartupError::DataDir(error),
        }
    }

    /// The exit code of `benchboard-serve`: 2 when another server holds the data
    /// directory (so that a supervisor does not restart into the same refusal) or
    /// --tls-cert/--tls-key name unusable files (as for a usage error), else 1.
    pub fn exit_code(&self) -> u8 {
        match self {
            StartupError::DataDirInUse(_) | StartupError::Tls(_) => 2,
            _ => 1,
        }
    }
}

/// Checked server settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on.
    pub host: String,
    /// Port; 0 picks a free one.
    pub port: u16,
    /// Where reports are stored (the file store), unless `store_url` is set.
    pub data_dir: PathBuf,
    /// A PostgreSQL URL (`--store`): the reports live there; no data directory is used.
    pub store_url: Option<String>,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: u64,
    /// Largest accepted body of `POST /api/import/<format>` (a tool's output), in bytes.
    pub max_import_body_bytes: u64,
    /// When teams turn inactive and leave the board.
    pub timing: Timing,
    /// Most team cards on the dashboard.
    pub max_teams: usize,
    /// HTTP worker threads.
    pub threads: usize,
    /// Deadline for a whole request (head and body); also the window of the minimum
    /// answer rate and how long an idle keep-alive connection stays open.
    pub request_timeout: Duration,
    /// Most client connections open at once (`--max-connections`).
    pub max_connections: usize,
    /// fsync every report before acknowledging it.
    pub fsync: bool,
    /// Most teams the store takes (`--max-teams-known`): a report of a new team past
    /// it gets 403.
    pub max_teams_known: usize,
    /// Bytes that must stay free on the data directory's file system
    /// (`--min-free-space`): below it reports get 507; 0 turns the check off.
    pub min_free_bytes: u64,
    /// Serve `/ws`; when off the page polls `/api/teams`.
    pub websocket: bool,
    /// Most WebSocket viewers at once.
    pub max_viewers: usize,
    /// Serve HTTPS (and wss://) with these files; `None`: plain HTTP.
    pub tls: Option<super::tls::TlsFiles>,
    /// Messages the hub keeps for viewers: one further behind counts as fallen behind
    /// and is dropped (not a flag: tests make it small).
    pub viewer_queue: usize,
    /// Proxies whose `X-Forwarded-For` names the client (`--trusted-proxy`).
    pub trusted_proxies: TrustedProxies,
    /// Most WebSocket viewers per client address (`--max-viewers-per-ip`); `None`: no limit.
    pub max_viewers_per_ip: Option<usize>,
    /// Least bytes a second a viewer with frames waiting must take, on average over
    /// `request_timeout`; a slower one is closed (not a flag: tests change it).
    pub viewer_min_read_rate: u64,
    /// Origins whose pages may open `/ws` (`--allowed-origin`, without a trailing
    /// slash); empty: any.
    pub allowed_origins: Vec<String>,
    /// The server's one clock: the store's arrival times, the alerts and the
    /// contest's phases read it (not a flag: tests move a `ManualClock`).
    pub clock: Arc<dyn Clock>,
    /// Alert rules and their destinations (the contest file's `[[rule]]` and
    /// `[[notify]]`); none by default.
    pub alerts: AlertSettings,
    /// How alerts are delivered (not a flag: tests shorten the timeouts).
    pub delivery: SenderOptions,
    /// The contest file (`--config`): teams, tokens, limits; `None` is open mode.
    pub contest: Option<ContestFile>,
    /// The rate limits given as flags (they win over the contest file's).
    pub limits: LimitFlags,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            host: "0.0.0.0".into(),
            port: 8080,
            data_dir: PathBuf::from("data"),
            store_url: None,
            max_body_bytes: DEFAULT_MAX_BODY,
            max_import_body_bytes: DEFAULT_MAX_IMPORT_BODY,
            timing: Timing::default(),
            max_teams: 6,
            threads: default_threads(),
            request_timeout: Duration::from_secs(10),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            fsync: false,
            max_teams_known: DEFAULT_MAX_TEAMS_KNOWN,
            min_free_bytes: DEFAULT_MIN_FREE_BYTES,
            websocket: true,
            max_viewers: 1000,
            tls: None,
            viewer_queue: DEFAULT_VIEWER_QUEUE,
            trusted_proxies: TrustedProxies::default(),
            max_viewers_per_ip: None,
            viewer_min_read_rate: crate::server::ws::MIN_READ_BYTES_PER_SEC,
            allowed_origins: Vec::new(),
            clock: Arc::new(SystemClock),
            alerts: AlertSettings::default(),
            delivery: SenderOptions::default(),
            contest: None,
            limits: LimitFlags::default(),
        }
    }
}

/// Messages the hub keeps by default. It is one ring shared by every viewer (and empty
/// while nobody watches), also bounded to 64 MiB (`hub::MAX_RING_BYTES`) however large
/// the reports are, and it holds over a second of updates even at 4,000
/// reports/s: a viewer whose socket keeps up (the WebSocket writer gathers updates
/// for up to 50 ms between batches with 1,000 viewers) never falls out of it; only
/// a stuck one does.
pub const DEFAULT_VIEWER_QUEUE: usize = 4096;

/// Largest report body by default (`--max-body`): a real report is 1–3 KiB, and
/// every team's latest one is kept in memory and sent to every viewer.
pub const DEFAULT_MAX_BODY: u64 = 64 * 1024;
/// Default `--max-import-body`: 8 MiB, as tools' outputs are larger than reports.
pub const DEFAULT_MAX_IMPORT_BODY: u64 = 8 * 1024 * 1024;

/// Free space kept on the data directory's file system by default (`--min-free-space`).
pub const DEFAULT_MIN_FREE_BYTES: u64 = 1024 * 1024 * 1024;

/// Most teams the store takes by default (`--max-teams-known`).
pub const DEFAULT_MAX_TEAMS_KNOWN: usize = 10_000;

/// Most client connections by default (`--max-connections`).
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

/// File descriptors the server keeps for itself (data files, pollers, pipes, logs):
/// the connections it can hold are its open-files limit minus these.
pub const RESERVED_FILES: u64 = 64;

/// Slowest accepted reader of an answer, in bytes per second, over each
/// `--request-timeout`.
pub const MIN_SEND_RATE: u64 = 1024;

/// Most HTTP worker threads (`--threads`).
pub const MAX_THREADS: usize = 1024;

/// Worker threads by default: 4 per core, at least 8; workers mostly wait on the disk.
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get() * 4)
        .unwrap_or(8)
        .max(8)
}
