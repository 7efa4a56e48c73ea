//! The server's settings: clap arguments (each also read from a `BENCHBOARD_*`
//! environment variable) become a checked [`Config`].

use std::path::PathBuf;
use std::time::Duration;

use super::client_addr::{TrustedProxies, parse_trusted_proxy};
use crate::board::Timing;
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
    /// Flags that contradict each other or are out of range.
    #[error("{0}")]
    Invalid(String),
}

/// Checked server settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on.
    pub host: String,
    /// Port; 0 picks a free one.
    pub port: u16,
    /// Where reports are stored.
    pub data_dir: PathBuf,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: u64,
    /// When teams turn inactive and leave the board.
    pub timing: Timing,
    /// Most team cards on the dashboard.
    pub max_teams: usize,
    /// HTTP worker threads.
    pub threads: usize,
    /// Read/write timeout of every connection.
    pub request_timeout: Duration,
    /// fsync every report before acknowledging it.
    pub fsync: bool,
    /// Serve `/ws`; when off the page polls `/api/teams`.
    pub websocket: bool,
    /// Most WebSocket viewers at once.
    pub max_viewers: usize,
    /// Messages the hub keeps for viewers: one further behind counts as fallen behind
    /// and is dropped (not a flag: tests make it small).
    pub viewer_queue: usize,
    /// Proxies whose `X-Forwarded-For` names the client (`--trusted-proxy`).
    pub trusted_proxies: TrustedProxies,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            host: "0.0.0.0".into(),
            port: 8080,
            data_dir: PathBuf::from("data"),
            max_body_bytes: 1024 * 1024,
            timing: Timing::default(),
            max_teams: 6,
            threads: default_threads(),
            request_timeout: Duration::from_secs(10),
            fsync: false,
            websocket: true,
            max_viewers: 1000,
            viewer_queue: DEFAULT_VIEWER_QUEUE,
            trusted_proxies: TrustedProxies::default(),
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

/// Most HTTP worker threads (`--threads`).
pub const MAX_THREADS: usize = 1024;

/// Worker threads by default: 4 per core, at least 8; workers mostly wait on the disk.
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get() * 4)
        .unwrap_or(8)
        .max(8)
}

/// Longest duration any flag takes: ten years, far beyond any contest, and far from
/// the range where adding it to a clock reading would overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// Parses a duration given as seconds (`300`) or with a unit (`5m`, `1h 30m`, `250ms`),
/// at most [`MAX_DURATION`].
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let duration = match text.parse::<f64>() {
        Ok(secs) => Duration::try_from_secs_f64(secs).map_err(|_| {
            format!(
                "{text:?} is not a duration: expected a number of seconds from 0 up to 10 years"
            )
        })?,
        Err(_) => humantime::parse_duration(text).map_err(|e| {
            format!("{text:?} is not a duration ({e}); write seconds (300) or a unit (5m, 10s)")
        })?,
    };
    if duration > MAX_DURATION {
        return Err(format!("{text:?} is too long: at most 10 years"));
    }
    Ok(duration)
}

/// Parses a size such as `1MiB`, `512KiB`, `1000000`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    text.trim()
        .parse::<bytesize::ByteSize>()
        .map(|size| size.as_u64())
        .map_err(|e| {
            format!("{text:?} is not a size ({e}); write bytes (1048576) or a unit (1MiB, 512KiB)")
        })
}

/// `benchboard-serve`'s command line.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "benchboard-serve",
    version,
    about = "Live scoreboard for load tests: HTTP API, WebSocket push and dashboard on one port",
    after_help = "Example:\n  benchboard-serve --port 8080 --data-dir ./data\n  curl -X POST http://localhost:8080/api/stats/report \\\n    -H 'Content-Type: application/json' -H 'X-Team-ID: team1' \\\n    -H 'X-Team-Name: %E7%AC%AC%E4%B8%80%E5%B0%8F%E7%BB%84' -d @report.json"
)]
pub struct ServeArgs {
    /// Address to listen on (0.0.0.0: every interface)
    #[arg(long, env = "BENCHBOARD_HOST", default_value = "0.0.0.0")]
    pub host: String,
    /// Port to listen on; 0 picks a free port (the URL printed at start shows it)
    #[arg(long, short, env = "BENCHBOARD_PORT", default_value_t = 8080)]
    pub port: u16,
    /// Directory of the stored reports, one sub-directory per team (created if missing)
    #[arg(long, env = "BENCHBOARD_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Largest report body accepted; bigger ones get 413
    #[arg(long, env = "BENCHBOARD_MAX_BODY", default_value = "1MiB", value_parser = parse_size)]
    pub max_body: u64,
    /// Seconds without a report before a team shows as inactive
    #[arg(long, env = "BENCHBOARD_INACTIVE_AFTER", default_value = "300", value_parser = parse_duration)]
    pub inactive_after: Duration,
    /// Seconds without a report before a team leaves the board (its history stays)
    #[arg(long, env = "BENCHBOARD_EVICT_AFTER", default_value = "600", value_parser = parse_duration)]
    pub evict_after: Duration,
    /// Most team cards on the dashboard
    #[arg(long, env = "BENCHBOARD_MAX_TEAMS", default_value_t = 6)]
    pub max_teams: usize,
    /// HTTP worker threads [default: 4 per core, at least 8]
    #[arg(long, env = "BENCHBOARD_THREADS")]
    pub threads: Option<usize>,
    /// Seconds a client may take to send a request or read an answer before its connection is closed
    #[arg(long, env = "BENCHBOARD_REQUEST_TIMEOUT", default_value = "10", value_parser = parse_duration)]
    pub request_timeout: Duration,
    /// fsync each report before acknowledging it: survives a power loss, not only a crash (slower)
    #[arg(long, env = "BENCHBOARD_FSYNC")]
    pub fsync: bool,
    /// Turn the WebSocket push off; the dashboard then polls /api/teams
    #[arg(long, env = "BENCHBOARD_NO_WEBSOCKET")]
    pub no_websocket: bool,
    /// Most WebSocket viewers at once; the next one is refused with a close reason
    #[arg(long, env = "BENCHBOARD_MAX_VIEWERS", default_value_t = 1000)]
    pub max_viewers: usize,
    /// What to log on stderr: error, warn (refused requests, at most 10 lines a minute per client address, and errors), info (also every report), debug
    #[arg(long, env = "BENCHBOARD_LOG_LEVEL", default_value = "warn")]
    pub log_level: log::LevelFilter,
    /// A proxy (address or CIDR network, repeatable) whose X-Forwarded-For names the client: per-address limits then count that address instead of the proxy's [default: none, X-Forwarded-For is ignored]
    #[arg(long = "trusted-proxy", env = "BENCHBOARD_TRUSTED_PROXY", value_delimiter = ',', value_name = "ADDR|CIDR", value_parser = parse_trusted_proxy)]
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl ServeArgs {
    /// Checks the arguments and turns them into a [`Config`].
    pub fn into_config(self) -> Result<Config, StartupError> {
        if self.evict_after < self.inactive_after {
            return Err(StartupError::Invalid(format!(
                "--evict-after ({}s) must not be shorter than --inactive-after ({}s)",
                self.evict_after.as_secs(),
                self.inactive_after.as_secs()
            )));
        }
        let threads = self.threads.unwrap_or_else(default_threads);
        if threads == 0 || self.max_teams == 0 {
            return Err(StartupError::Invalid(
                "--threads and --max-teams must be at least 1".into(),
            ));
        }
        if threads > MAX_THREADS {
            return Err(StartupError::Invalid(format!(
                "--threads {threads} is too many: at most {MAX_THREADS}"
            )));
        }
        if self.request_timeout.is_zero() {
            return Err(StartupError::Invalid(
                "--request-timeout must be more than 0 seconds".into(),
            ));
        }
        Ok(Config {
            host: self.host,
            port: self.port,
            data_dir: self.data_dir,
            max_body_bytes: self.max_body,
            timing: Timing {
                inactive_after: self.inactive_after,
                evict_after: self.evict_after,
            },
            max_teams: self.max_teams,
            threads,
            request_timeout: self.request_timeout,
            fsync: self.fsync,
            websocket: !self.no_websocket,
            max_viewers: self.max_viewers,
            viewer_queue: DEFAULT_VIEWER_QUEUE,
            trusted_proxies: TrustedProxies::new(self.trusted_proxies),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[test]
    fn verify_cli() {
        ServeArgs::command().debug_assert();
    }

    #[test]
    fn parses_sizes_and_durations() {
        assert_eq!(parse_size("1MiB").unwrap(), 1_048_576);
        assert_eq!(parse_size("1000").unwrap(), 1000);
        assert!(parse_size("lots").is_err());
        assert_eq!(parse_duration("300").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("1e30").is_err());
        assert!(parse_duration("NaN").is_err());
        assert!(parse_duration("1000000000y").is_err());
    }

    #[test]
    fn refuses_evict_before_inactive() {
        let args =
            ServeArgs::try_parse_from(["x", "--inactive-after", "60", "--evict-after", "30"])
                .unwrap();
        assert!(
            args.into_config()
                .unwrap_err()
                .to_string()
                .contains("--evict-after")
        );
    }
}
