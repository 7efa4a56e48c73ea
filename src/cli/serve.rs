//! `benchboard-serve`'s command line: its arguments (each also read from a
//! `BENCHBOARD_*` environment variable, or from the contest file's `[server]`
//! section: a flag wins over the file), their check into a [`Config`], the run, and
//! the `token` and `--check-config` commands.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use std::path::Path;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches};

use super::parse::{parse_duration, parse_size};
use crate::alerts::sender::send_test;
use crate::board::Timing;
use crate::config::{
    ContestFile, LogLevel, NewToken, ProxyNet, Seconds, ServerSection, Size, StoreUrl, TokenFor,
};
use crate::server::client_addr::{TrustedProxies, parse_trusted_proxy};
use crate::server::config::{
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_TEAMS_KNOWN, DEFAULT_VIEWER_QUEUE, MAX_THREADS,
    RESERVED_FILES, default_threads,
};
use crate::server::tls::TlsFiles;
use crate::server::trust::LimitFlags;
use crate::server::{Config, Server, StartupError};
use crate::store::MAX_REPORT_BYTES;
use crate::team::TeamId;

/// `benchboard-serve`'s command line.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "benchboard-serve",
    version,
    about = "Live scoreboard for load tests: HTTP API, WebSocket push and dashboard on one port",
    after_help = "Examples:\n  benchboard-serve --port 8080 --data-dir ./data\n  curl -X POST http://localhost:8080/api/stats/report \\\n    -H 'Content-Type: application/json' -H 'X-Team-ID: team1' \\\n    -H 'X-Team-Name: %E7%AC%AC%E4%B8%80%E5%B0%8F%E7%BB%84' -d @report.json\n  benchboard-serve token team1 --name 第一小组 >> contest.toml\n  benchboard-serve --check-config contest.toml\n  benchboard-serve --config contest.toml   # behind a TLS reverse proxy (README)\n\nExit codes: 0 stopped by SIGINT/SIGTERM, 1 cannot start or a wrong contest file (the message says why), 2 bad usage or the data directory is in use by another benchboard-serve.",
    args_conflicts_with_subcommands = true
)]
pub struct ServeArgs {
    #[command(subcommand)]
    pub command: Option<ServeCommand>,
    /// The contest file (TOML): registered teams and their tokens, the admin token, a
    /// private board's viewer token, the schedule ([contest] start, end, freeze: from
    /// the freeze the public board stays as it was until the reveal; notify_during_freeze), the
    /// ranking rule ([ranking]), alert rules ([[rule]]) and where alerts go
    /// ([[notify]]), and any flag as a [server] key (a flag wins); re-read on SIGHUP and
    /// POST /api/admin/reload. Without it: open mode, no contest phases, no alerts
    #[arg(long, env = "BENCHBOARD_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Check a contest file, say what the server would do with it, and exit (1 if it is wrong)
    #[arg(long, value_name = "FILE")]
    pub check_config: Option<PathBuf>,
    /// Reports a registered team may send per second, in bursts of twice that; 0 = no limit
    /// (over it: 429 with Retry-After). Open mode has no limit [default: 20]
    #[arg(long, env = "BENCHBOARD_MAX_REPORT_RATE", value_name = "N")]
    pub max_report_rate: Option<u32>,
    /// Failed authentications a client address may have per minute before it gets 429; 0 = no
    /// limit [default: 10]
    #[arg(long, env = "BENCHBOARD_MAX_AUTH_FAILURES", value_name = "N")]
    pub max_auth_failures: Option<u32>,
    /// Address to listen on (0.0.0.0: every interface)
    #[arg(long, env = "BENCHBOARD_HOST", default_value = "0.0.0.0")]
    pub host: String,
    /// Port to listen on; 0 picks a free port (the URL printed at start shows it)
    #[arg(long, short, env = "BENCHBOARD_PORT", default_value_t = 8080)]
    pub port: u16,
    /// Directory of the stored reports, one sub-directory per team (created if missing); locked while the server runs: one server per directory
    #[arg(long, env = "BENCHBOARD_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Store the reports in PostgreSQL instead of --data-dir, e.g. postgres://bb@db/benchboard (the database must exist: createdb; the schema is created and upgraded at start). Several servers may share one database and show the same board, the organiser's actions included
    #[arg(
        long,
        env = "BENCHBOARD_STORE",
        hide_env_values = true,
        value_name = "URL",
        value_parser = parse_store_url
    )]
    pub store: Option<String>,
    /// Largest report body accepted, at most 16MiB; bigger ones get 413 (a real report is 1-3 KiB)
    #[arg(long, env = "BENCHBOARD_MAX_BODY", default_value = "64KiB", value_parser = parse_size)]
    pub max_body: u64,
    /// Largest load-tool output accepted by POST /api/import/<format>; bigger ones get 413
    #[arg(long, env = "BENCHBOARD_MAX_IMPORT_BODY", default_value = "8MiB", value_parser = parse_size)]
    pub max_import_body: u64,
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
    /// Most teams the server takes; a report of a new team past it gets 403 (final: clients must not retry), known teams keep reporting. With --store: the teams in the database, all instances together
    #[arg(long, env = "BENCHBOARD_MAX_TEAMS_KNOWN", default_value_t = DEFAULT_MAX_TEAMS_KNOWN)]
    pub max_teams_known: usize,
    /// Space that must stay free on the data directory's file system: below it reports get 507 "disk almost full" (nothing is written) and /healthz says so, until space is freed; 0 turns the check off. Not used with --store (the database watches its own disk)
    #[arg(long, env = "BENCHBOARD_MIN_FREE_SPACE", default_value = "1GiB", value_parser = parse_size)]
    pub min_free_space: u64,
    /// Turn the WebSocket push off; the dashboard then polls /api/teams
    #[arg(long, env = "BENCHBOARD_NO_WEBSOCKET")]
    pub no_websocket: bool,
    /// Most WebSocket viewers at once; the next one is refused with a close reason
    #[arg(long, env = "BENCHBOARD_MAX_VIEWERS", default_value_t = 1000)]
    pub max_viewers: usize,
    /// Serve HTTPS (and wss:// for /ws) with this PEM certificate chain, the server's certificate first; needs --tls-key
    #[arg(
        long,
        env = "BENCHBOARD_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert (PKCS#8, PKCS#1 RSA or SEC1 EC); needs --tls-cert
    #[arg(
        long,
        env = "BENCHBOARD_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
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
    /// Send one test message to the [[notify]] destination NAME of --config, say what it answered, and exit (0: taken)
    #[arg(long, value_name = "NAME", requires = "config")]
    pub test_notify: Option<String>,
}

/// `benchboard-serve`'s commands besides serving.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ServeCommand {
    /// Make a new random token: the token on stderr (hand it to the team), the
    /// contest-file lines that register it on stdout (only its SHA-256), for `>> contest.toml`
    Token(TokenArgs),
}

/// `benchboard-serve token`.
#[derive(Debug, Clone, clap::Args)]
#[command(group = clap::ArgGroup::new("holder").required(true).args(["team_id", "admin", "viewers"]))]
pub struct TokenArgs {
    /// The team's id (its [[team]] entry)
    pub team_id: Option<String>,
    /// The team's name on the board [default: Team-<id>]
    #[arg(long, requires = "team_id")]
    pub name: Option<String>,
    /// A token for the [admin] section instead (the admin API and /admin)
    #[arg(long, conflicts_with = "team_id")]
    pub admin: bool,
    /// A token for the [viewers] section instead (a private board)
    #[arg(long, conflicts_with_all = ["team_id", "admin"])]
    pub viewers: bool,
}

impl TokenArgs {
    /// The command's output: the line that shows the token (for stderr) and the
    /// section for the contest file (for stdout).
    pub fn render(&self) -> Result<(String, String), String> {
        let holder = match &self.team_id {
            Some(id) => TokenFor::Team {
                id: TeamId::parse(id).map_err(|e| format!("{id:?}: {e}"))?,
                name: self.name.clone(),
            },
            None if self.admin => TokenFor::Admin,
            None => TokenFor::Viewers,
        };
        if let Some(name) = &self.name {
            crate::team::check_team_name(name)
                .map_err(|e| e.to_string().replace("X-Team-Name", "--name"))?;
        }
        let new = NewToken::new(&holder);
        Ok((new.note(&holder), new.section))
    }
}

impl ServeArgs {
    /// Takes every `[server]` key of the contest file for which no flag (nor its
    /// environment variable) was given: `given(id)` says which were.
    pub fn fill_from(&mut self, file: &ServerSection, given: &dyn Fn(&str) -> bool) {
        macro_rules! fill {
            ($($key:ident => $value:expr),* $(,)?) => {$(
                if let Some(value) = &file.$key {
                    if !given(stringify!($key)) {
                        #[allow(clippy::redundant_closure_call)]
                        { self.$key = $value(value.clone()); }
                    }
                }
            )*};
        }
        fill!(
            host => |v| v,
            port => |v| v,
            data_dir => |v| v,
            store => |v: StoreUrl| Some(v.0),
            max_body => |v: Size| v.0,
            max_import_body => |v: Size| v.0,
            inactive_after => |v: Seconds| v.0,
            evict_after => |v: Seconds| v.0,
            max_teams => |v| v,
            threads => Some,
            request_timeout => |v: Seconds| v.0,
            max_connections => |v| v,
            max_teams_known => |v| v,
            min_free_space => |v: Size| v.0,
            fsync => |v| v,
            no_websocket => |v| v,
            max_viewers => |v| v,
            log_level => |v: LogLevel| v.0,
            max_report_rate => Some,
            max_auth_failures => Some,
            trusted_proxies => |v: Vec<ProxyNet>| v.into_iter().map(|p| p.0).collect(),
            max_viewers_per_ip => Some,
            allowed_origins => |v| v,
            tls_cert => Some,
            tls_key => Some,
        );
    }

    /// Checks the arguments and turns them into a [`Config`].
    pub fn into_config(self, contest: Option<ContestFile>) -> Result<Config, StartupError> {
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
        let alerts = contest
            .as_ref()
            .map(|file| file.alerts.clone())
            .unwrap_or_default();
        Ok(Config {
            alerts,
            host: self.host,
            port: self.port,
            data_dir: self.data_dir,
            store_url: self.store,
            max_body_bytes: self.max_body,
            max_import_body_bytes: self.max_import_body,
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
            tls: match (self.tls_cert, self.tls_key) {
                (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
                _ => None,
            },
            viewer_queue: DEFAULT_VIEWER_QUEUE,
            trusted_proxies: TrustedProxies::new(self.trusted_proxies),
            max_viewers_per_ip: self.max_viewers_per_ip,
            viewer_min_read_rate: crate::server::ws::MIN_READ_BYTES_PER_SEC,
            allowed_origins: self
                .allowed_origins
                .iter()
                .map(|o| o.trim().trim_end_matches('/').to_string())
                .collect(),
            contest,
            limits: LimitFlags {
                max_report_rate: self.max_report_rate,
                max_auth_failures: self.max_auth_failures,
            },
            ..Config::default()
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

/// `--store`: a PostgreSQL URL (a data directory is `--data-dir`).
pub(crate) fn parse_store_url(url: &str) -> Result<String, String> {
    if crate::store::postgres::is_postgres_url(url) {
        Ok(url.to_string())
    } else {
        Err(format!(
            "expected a PostgreSQL URL such as postgres://user@host/database; for a directory use --data-dir {url}"
        ))
    }
}

/// `benchboard-serve` from the process's arguments: keeps track of which flags were
/// given, so that the contest file fills in only the others.
pub fn main() -> ExitCode {
    let matches = ServeArgs::command().get_matches();
    let args = match ServeArgs::from_arg_matches(&matches) {
        Ok(args) => args,
        Err(e) => e.exit(),
    };
    let given = |id: &str| {
        matches!(
            matches
                .try_get_raw(id)
                .ok()
                .flatten()
                .and(matches.value_source(id)),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        )
    };
    run(args, &given)
}

/// Runs `benchboard-serve` (or one of its commands); a failure is one `Error: ...`
/// line and exit 1, or 2 when another server holds the data directory or --tls-cert/--tls-key
/// are unusable.
pub fn run(args: ServeArgs, given: &dyn Fn(&str) -> bool) -> ExitCode {
    let outcome = match (&args.command, &args.check_config) {
        (Some(ServeCommand::Token(token)), _) => token
            .render()
            .map(|(note, section)| {
                eprint!("{note}");
                print!("{section}");
            })
            .map_err(anyhow::Error::msg),
        (None, Some(path)) => check_config(path).map_err(anyhow::Error::msg),
        (None, None) => serve(args, given),
    };
    match outcome {
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

/// `--check-config FILE`: what the server would do with it, or what is wrong.
fn check_config(path: &Path) -> Result<(), String> {
    let file = ContestFile::load(path).map_err(|e| e.to_string())?;
    file.check_tls().map_err(|e| e.to_string())?;
    print!("{}", file.describe());
    Ok(())
}

fn serve(mut args: ServeArgs, given: &dyn Fn(&str) -> bool) -> anyhow::Result<()> {
    let contest = match &args.config {
        Some(path) => Some(ContestFile::load(path)?),
        None => None,
    };
    if let Some(file) = &contest {
        args.fill_from(&file.server, given);
    }
    crate::logging::init(args.log_level);
    if let Some(name) = args.test_notify.clone() {
        let board_url = board_url(&args);
        return test_notify(args.into_config(contest)?, &name, &board_url);
    }
    let config = args.into_config(contest)?;
    let warnings = start_warnings(&config);
    let server = Server::bind(config)?;
    // Only once the server holds its port and data directory: a refusal is one line.
    for warning in warnings {
        eprintln!("{warning}");
    }
    // The first line is the URL with the real port: scripts and tests read it.
    // Written without println!: a closed stdout (the reader went away) is no reason to
    // stop serving or to panic at exit.
    let mut out = std::io::stdout();
    let _ = writeln!(out, "BenchBoard listening on {}", server.url());
    let _ = writeln!(out, "{}", server.app().store.describe());
    let _ = out.flush();
    let handle = server.shutdown_handle();
    ctrlc::set_handler(move || handle.shutdown())?;
    reload_on_sighup(std::sync::Arc::clone(server.app()))?;
    server.run();
    let _ = writeln!(std::io::stdout(), "stopped");
    Ok(())
}

/// The board's URL as the messages link it when the destination has no `board_url`.
fn board_url(args: &ServeArgs) -> String {
    let host = match args.host.as_str() {
        "0.0.0.0" => "127.0.0.1",
        host => host,
    };
    let scheme = if args.tls_cert.is_some() {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{host}:{}/", args.port)
}

/// `--test-notify NAME`: one test message to the destination, and what it answered.
fn test_notify(config: Config, name: &str, board_url: &str) -> anyhow::Result<()> {
    let destinations = &config.alerts.destinations;
    let Some(destination) = destinations.iter().find(|d| d.name == name) else {
        let names: Vec<&str> = destinations.iter().map(|d| d.name.as_str()).collect();
        anyhow::bail!("no [[notify]] is named {name:?} in the contest file (names: {names:?})");
    };
    let label = format!("{} ({})", destination.name, destination.kind.as_str());
    match send_test(destination, board_url, config.delivery.timeout) {
        Ok(answer) => {
            let _ = writeln!(
                std::io::stdout(),
                "{label}: test message delivered: {answer}"
            );
            Ok(())
        }
        Err(answer) => anyhow::bail!("{label}: test message not delivered: {answer}"),
    }
}

/// The lines an operator must see at start: open mode, tokens in clear (with tokens
/// and no --tls-cert), the file's warnings.
fn start_warnings(config: &Config) -> Vec<String> {
    let access = config.contest.as_ref().map(|c| &c.access);
    let mut lines = Vec::new();
    if access.is_none_or(|a| a.is_open()) {
        lines.push("warning: open mode: anyone can report as any team (list [[team]] entries with tokens in a --config file to stop that)".to_string());
    }
    if access.is_some_and(|a| a.has_tokens()) && config.tls.is_none() {
        lines.push("warning: tokens travel in clear over HTTP: unless --tls-cert/--tls-key (tls_cert/tls_key in [server]) are set or the clients reach this server only through a TLS reverse proxy (README: nginx), anyone on the network can read them".to_string());
    }
    lines.extend(
        config
            .contest
            .iter()
            .flat_map(|c| c.warnings.iter().cloned()),
    );
    lines
}

/// Re-reads the contest file on every SIGHUP; a bad file is refused with its reason
/// on stderr and the old settings stay.
fn reload_on_sighup(app: std::sync::Arc<crate::server::App>) -> anyhow::Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGHUP])?;
    std::thread::Builder::new()
        .name("sighup".into())
        .spawn(move || {
            for _ in signals.forever() {
                match app.reload("SIGHUP") {
                    Ok(reloaded) => {
                        eprintln!("contest file reloaded");
                        for line in reloaded.warnings.iter().chain(&reloaded.restart_needed) {
                            eprintln!("{line}");
                        }
                    }
                    Err(e) => eprintln!(
                        "error: contest file not reloaded, the settings stay as they were: {e}"
                    ),
                }
            }
        })?;
    Ok(())
}

#[cfg(test)]
mod tests;
