//! `benchboard-serve`'s command line: its arguments (each also read from a
//! `BENCHBOARD_*` environment variable), their check into a [`Config`], and the run.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use super::parse::{parse_duration, parse_size};
use crate::board::Timing;
use crate::server::client_addr::{TrustedProxies, parse_trusted_proxy};
use crate::server::config::{
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_TEAMS_KNOWN, DEFAULT_VIEWER_QUEUE, MAX_THREADS,
    RESERVED_FILES, default_threads,
};
use crate::server::{Config, Server, StartupError};
use crate::store::MAX_REPORT_BYTES;

/// `benchboard-serve`'s command line.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "benchboard-serve",
    version,
    about = "Live scoreboard for load tests: HTTP API, WebSocket push and dashboard on one port",
    after_help = "Example:\n  benchboard-serve --port 8080 --data-dir ./data\n  curl -X POST http://localhost:8080/api/stats/report \\\n    -H 'Content-Type: application/json' -H 'X-Team-ID: team1' \\\n    -H 'X-Team-Name: %E7%AC%AC%E4%B8%80%E5%B0%8F%E7%BB%84' -d @report.json\n\nExit codes: 0 stopped by SIGINT/SIGTERM, 1 cannot start (the message says why), 2 bad usage or the data directory is in use by another benchboard-serve."
)]
pub struct ServeArgs {
    /// Address to listen on (0.0.0.0: every interface)
    #[arg(long, env = "BENCHBOARD_HOST", default_value = "0.0.0.0")]
    pub host: String,
    /// Port to listen on; 0 picks a free port (the URL printed at start shows it)
    #[arg(long, short, env = "BENCHBOARD_PORT", default_value_t = 8080)]
    pub port: u16,
    /// Directory of the stored reports, one sub-directory per team (created if missing); locked while the server runs: one server per directory
    #[arg(long, env = "BENCHBOARD_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Largest report body accepted, at most 16MiB; bigger ones get 413 (a real report is 1-3 KiB)
    #[arg(long, env = "BENCHBOARD_MAX_BODY", default_value = "64KiB", value_parser = parse_size)]
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
    /// Seconds a client may take to send a whole request (head and body), and to take each such span's share of an answer (at least 1 KiB/s); also how long an idle keep-alive connection stays open
    #[arg(long, env = "BENCHBOARD_REQUEST_TIMEOUT", default_value = "10", value_parser = parse_duration)]
    pub request_timeout: Duration,
    /// Most client connections open at once; past it the oldest idle ones are closed, then new ones get 503 [default: 10000]
    #[arg(long, env = "BENCHBOARD_MAX_CONNECTIONS", default_value_t = DEFAULT_MAX_CONNECTIONS, hide_default_value = true, long_help = max_connections_help())]
    pub max_connections: usize,
    /// fsync each report before acknowledging it: survives a power loss, not only a crash (slower)
    #[arg(long, env = "BENCHBOARD_FSYNC")]
    pub fsync: bool,
    /// Most teams the server takes; a report of a new team past it gets 403 (final: clients must not retry), known teams keep reporting
    #[arg(long, env = "BENCHBOARD_MAX_TEAMS_KNOWN", default_value_t = DEFAULT_MAX_TEAMS_KNOWN)]
    pub max_teams_known: usize,
    /// Space that must stay free on the data directory's file system: below it reports get 507 "disk almost full" (nothing is written) and /healthz says so, until space is freed; 0 turns the check off
    #[arg(long, env = "BENCHBOARD_MIN_FREE_SPACE", default_value = "1GiB", value_parser = parse_size)]
    pub min_free_space: u64,
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
    /// Most WebSocket viewers from one client address; the next one is closed with a reason [default: no limit; a room of phones often shares one address]
    #[arg(long, env = "BENCHBOARD_MAX_VIEWERS_PER_IP", value_name = "N")]
    pub max_viewers_per_ip: Option<usize>,
    /// An origin (scheme://host[:port], repeatable) whose pages may open /ws; others get 403 [default: any origin]
    #[arg(
        long = "allowed-origin",
        env = "BENCHBOARD_ALLOWED_ORIGIN",
        value_delimiter = ',',
        value_name = "ORIGIN"
    )]
    pub allowed_origins: Vec<String>,
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
        if threads == 0 || self.max_teams == 0 || self.max_teams_known == 0 {
            return Err(StartupError::Invalid(
                "--threads, --max-teams and --max-teams-known must be at least 1".into(),
            ));
        }
        if threads > MAX_THREADS {
            return Err(StartupError::Invalid(format!(
                "--threads {threads} is too many: at most {MAX_THREADS}"
            )));
        }
        if self.max_body == 0 || self.max_body > MAX_REPORT_BYTES {
            return Err(StartupError::Invalid(format!(
                "--max-body {} is out of range: from 1 byte to {MAX_REPORT_BYTES} bytes (16MiB)",
                self.max_body
            )));
        }
        if self.max_viewers_per_ip == Some(0) {
            return Err(StartupError::Invalid(
                "--max-viewers-per-ip must be at least 1 (leave it out for no limit)".into(),
            ));
        }
        if self.max_connections == 0 {
            return Err(StartupError::Invalid(
                "--max-connections must be at least 1".into(),
            ));
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
            max_connections: self.max_connections,
            fsync: self.fsync,
            max_teams_known: self.max_teams_known,
            min_free_bytes: self.min_free_space,
            websocket: !self.no_websocket,
            max_viewers: self.max_viewers,
            viewer_queue: DEFAULT_VIEWER_QUEUE,
            trusted_proxies: TrustedProxies::new(self.trusted_proxies),
            max_viewers_per_ip: self.max_viewers_per_ip,
            viewer_min_read_rate: crate::server::ws::MIN_READ_BYTES_PER_SEC,
            allowed_origins: self
                .allowed_origins
                .iter()
                .map(|o| o.trim().trim_end_matches('/').to_string())
                .collect(),
            clock: crate::timefmt::now,
        })
    }
}

/// `--max-connections --help`: the default, and how many connections this system's
/// open-files limit allows (each connection takes one file descriptor).
fn max_connections_help() -> String {
    let allows = match tiny_http::open_files_hard_limit() {
        Some(files) => format!(
            "here the hard limit is {files} open files, so at most about {} connections",
            files.saturating_sub(RESERVED_FILES)
        ),
        None => "here the hard limit is unlimited".to_string(),
    };
    format!(
        "Most client connections open at once [default: {DEFAULT_MAX_CONNECTIONS}]. Past it the connections idle the longest (keep-alive, or silent since they opened) are closed first; if none is idle, a new connection gets a quick 503 JSON with Retry-After. Each connection takes a file descriptor: at start the server raises its soft open-files limit to the hard limit (ulimit -Hn, LimitNOFILE= in systemd); {allows} ({RESERVED_FILES} are kept for the server itself)."
    )
}

/// Runs `benchboard-serve` until SIGINT/SIGTERM; a failure is one `Error: ...` line
/// and exit 1, or 2 when another server holds the data directory.
pub fn run(args: ServeArgs) -> ExitCode {
    crate::logging::init(args.log_level);
    match serve(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e}");
            let code = e
                .downcast_ref::<StartupError>()
                .map_or(1, StartupError::exit_code);
            ExitCode::from(code)
        }
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let server = Server::bind(args.into_config()?)?;
    // The first line is the URL with the real port: scripts and tests read it.
    // Written without println!: a closed stdout (the reader went away) is no reason to
    // stop serving or to panic at exit.
    let mut out = std::io::stdout();
    let _ = writeln!(out, "BenchBoard listening on {}", server.url());
    let _ = writeln!(
        out,
        "data directory: {}",
        server.app().store.root().display()
    );
    let _ = out.flush();
    let handle = server.shutdown_handle();
    ctrlc::set_handler(move || handle.shutdown())?;
    server.run();
    let _ = writeln!(std::io::stdout(), "stopped");
    Ok(())
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
