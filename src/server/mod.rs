//! `benchboard-serve`: the HTTP API, the WebSocket push and the pages on one port.
//!
//! A request goes: a worker thread ([`Server::run`]) → [`routes`] (match the route
//! table) → a handler: the JSON API in [`api`], the HTML and static files in [`pages`],
//! or the WebSocket upgrade in [`ws`], which hands the socket to its writer thread.
//! Handlers answer with a [`reply::Reply`] or fail with an [`error::ApiError`], which
//! becomes its status and JSON body in one place. [`config`] turns the flags into a
//! [`Config`]; `sockopt` sets the TCP options of the listener and of viewers.
//! [`App`] is what every handler shares: the store, the board and the viewers.
//!
//! [`Server::bind`] binds the port, then opens the data directory (taking its lock:
//! one server per directory) and rebuilds the board;
//! [`Server::run`] serves until [`ShutdownHandle::shutdown`] is called, then finishes
//! the requests already received and returns.
//!
//! ```no_run
//! use benchboard::server::{Config, Server};
//! let server = Server::bind(Config { port: 0, ..Config::default() }).unwrap();
//! println!("listening on {}", server.local_addr());
//! let handle = server.shutdown_handle();
//! std::thread::spawn(move || server.run());
//! handle.shutdown();
//! ```

pub mod admin_api;
pub mod api;
pub mod client_addr;
pub mod config;
pub mod contest;
pub mod error;
pub mod freeze;
mod freeze_state;
pub mod health;
mod import;
pub mod kiosk;
pub mod login;
pub mod pages;
pub mod refusals;
pub mod replay;
pub mod reply;
pub mod routes;
mod sockopt;
mod storage;
pub mod stream;
pub mod telemetry;
pub mod tls;
pub mod trust;
pub mod ws;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub use config::{Config, StartupError};

use crate::admin::{Action, Admin};
use crate::alerts::AlertService;
use crate::board::LiveBoard;
use crate::config::ConfigError;
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::report::Report;
use crate::store::postgres::Listener;
use crate::store::{StoreError, StoredReport, WriteStore};
use crate::team::TeamId;

/// How long the connections must stay quiet before a shutdown completes.
const SHUTDOWN_QUIET: Duration = Duration::from_millis(200);

/// Everything a request handler needs: the store, the board and the settings.
pub struct App {
    pub config: Config,
    /// The file store or PostgreSQL (`--store`).
    pub store: Box<dyn WriteStore>,
    pub board: Arc<LiveBoard>,
    /// The WebSocket writer threads and their viewers.
    pub viewers: ws::Viewers,
    /// Lines about refused requests, rate-limited per client address.
    pub refusals: refusals::RefusalLog,
    /// The server's own counters, served at `/metrics`.
    pub telemetry: Arc<telemetry::Telemetry>,
    /// The alert rules, their state and their delivery.
    pub alerts: Arc<AlertService>,
    /// Who may report, administer and watch; the rate limits.
    pub trust: trust::Trust,
    /// The organiser's actions and their audit log.
    pub admin: Admin,
    /// The freeze and the reveal ([`freeze`]).
    pub freeze: freeze::Freeze,
    /// The contest's phases as they happen.
    pub contest: contest::ContestWatch,
    /// With PostgreSQL: the thread that feeds the board with every instance's reports.
    _listener: Option<Listener>,
}

impl App {
    /// Opens the store (waiting for a database that is not up yet), rebuilds the
    /// board from it and takes up the alerts' state; `url` (the dashboard's) is
    /// linked from alert messages.
    pub fn open(config: Config, url: &str) -> Result<App, StartupError> {
        let hub = Hub::new(config.viewer_queue, config.max_viewers);
        let telemetry = Arc::new(telemetry::Telemetry::new());
        let viewers = ws::Viewers::new(
            Arc::clone(&hub),
            (config.request_timeout, config.viewer_min_read_rate),
            ws::AddressSlots::new(config.max_viewers_per_ip),
            Arc::clone(&telemetry),
        );
        let opened = storage::open(&config, hub)?;
        // The alerts' state is a file of the data directory, or rows of the database.
        let state_dir = opened.store.files().map(|files| files.root().to_path_buf());
        let table = opened.store.postgres().map(|db| {
            let table: Arc<dyn crate::alerts::persist::AlertTable> = Arc::new(db.alert_table());
            table
        });
        let alerts = AlertService::start(
            &config.alerts,
            Arc::clone(&config.clock),
            (state_dir.as_deref(), table),
            url,
            config.delivery,
        )
        .map_err(StartupError::AlertState)?;
        let alerts = Arc::new(alerts);
        // Changes other instances announce are taken up from now on.
        let _ = opened.alerts.set(Arc::clone(&alerts));
        opened.board.show_alerts(&[], &alerts.firing());
        let trust = trust::Trust::new(config.contest.as_ref(), config.limits)
            .with_trusted_proxies(config.trusted_proxies.clone());
        show_file_names(&opened.board, &trust);
        let admin = Admin::open(&*opened.store, &opened.board).map_err(StartupError::AdminState)?;
        let notify = config
            .contest
            .as_ref()
            .is_none_or(|c| c.notify_during_freeze);
        let db = opened
            .store
            .postgres()
            .map(|db| (db.contest_table(), opened.contest));
        let freeze = freeze::Freeze::open(state_dir.as_deref(), db, notify)
            .map_err(StartupError::ContestState)?;
        let contest = contest::ContestWatch::new(&config.clock);
        let app = App {
            config,
            store: opened.store,
            board: opened.board,
            viewers,
            refusals: refusals::RefusalLog::default(),
            telemetry,
            alerts,
            trust,
            admin,
            freeze,
            contest,
            _listener: opened.listener,
        };
        // A restart during the freeze or the reveal shows what it showed before.
        app.show_visibility();
        app.contest.refresh(&app);
        contest::set_rules(&app).map_err(StartupError::DataDir)?;
        Ok(app)
    }

    /// Reads the contest file again (SIGHUP, `POST /api/admin/reload`): its teams,
    /// tokens, names and limits take effect at once, without dropping a viewer or a
    /// report; a file that does not pass its checks changes nothing. Audited.
    pub fn reload(&self, from: &str) -> Result<trust::Reloaded, ConfigError> {
        let before = self.trust.state();
        let reloaded = self.trust.reload()?;
        show_file_names(&self.board, &self.trust);
        // A freeze moved or removed takes effect at once.
        self.show_visibility();
        contest::reloaded(self, &before);
        if let Err(e) = self
            .admin
            .perform(&*self.store, &self.board, Action::Reload, from)
        {
            log::error!("the reload was not audited: {e}");
        }
        Ok(reloaded)
    }

    /// Stores a validated report, then shows it on the board: a viewer never sees a
    /// report that is not safely stored. (PostgreSQL shows it itself, before this
    /// returns, as it shows the reports of other instances.)
    pub fn ingest(
        &self,
        id: &TeamId,
        team_name: &str,
        body: &[u8],
        report: Report,
    ) -> Result<Arc<StoredReport>, StoreError> {
        self.ingest_from(id, team_name, body, report, None)
    }

    /// [`App::ingest`] of a report converted from a load tool's output; the stored file
    /// also carries `source`. The same store, limits and errors as a POSTed report.
    pub fn ingest_imported(
        &self,
        id: &TeamId,
        team_name: &str,
        body: &[u8],
        report: Report,
        source: &serde_json::Value,
    ) -> Result<Arc<StoredReport>, StoreError> {
        self.ingest_from(id, team_name, body, report, Some(source))
    }

    fn ingest_from(
        &self,
        id: &TeamId,
        team_name: &str,
        body: &[u8],
        report: Report,
        source: Option<&serde_json::Value>,
    ) -> Result<Arc<StoredReport>, StoreError> {
        let metrics = Metrics::of(&report);
        // The answer may reach anyone: it names paths inside the data directory only.
        let stored = self
            .store
            .append(id, team_name, body, report, &metrics, source)
            .map_err(|e| self.store.shown_error(e))?;
        // PostgreSQL puts every instance's reports on the board itself; the rules
        // judge the reports this instance took.
        let latest = if self.store.feeds_board() {
            true
        } else {
            self.board.apply(Arc::clone(&stored), metrics.clone())
        };
        // Rules judge a team by its latest report only (two of its reports may reach
        // the board out of order).
        if latest && !self.alerts.is_idle() {
            // During the freeze the public sees no change (destinations still get
            // them unless notify_during_freeze = false).
            let held = self.hold_alerts();
            let send = !held || self.notify_during_freeze();
            let changes = self.alerts.observe_sending(id, team_name, &metrics, send);
            if !changes.is_empty() {
                self.board
                    .show_alerts_as(&changes, &self.alerts.firing(), held);
                if self.store.feeds_board() {
                    // Kept and announced to the other instances now, not at the tick.
                    self.alerts.save();
                }
            }
        }
        Ok(stored)
    }

    /// What time alone changes, about twice a second: teams turning inactive, `silent`
    /// alerts and pending ones whose `for` passed; the alert state file is written
    /// when something changed.
    fn tick(&self) {
        self.board.tick();
        self.freeze_tick();
        if !self.alerts.is_idle() {
            let held = self.hold_alerts();
            let send = !held || self.notify_during_freeze();
            let changes = self.alerts.tick_sending(&self.board.activities(), send);
            if !changes.is_empty() {
                self.board
                    .show_alerts_as(&changes, &self.alerts.firing(), held);
            }
            self.alerts.save();
        }
    }
}

/// Puts the contest file's team names on the board.
fn show_file_names(board: &LiveBoard, trust: &trust::Trust) {
    let mut presentation = board.presentation();
    presentation.file_names = trust
        .state()
        .access
        .teams
        .values()
        .map(|team| (team.id.to_string(), team.name.clone()))
        .collect();
    board.set_presentation(presentation);
}

/// A bound server, ready to [`run`](Server::run).
pub struct Server {
    app: Arc<App>,
    http: Arc<tiny_http::Server>,
    stopping: Arc<AtomicBool>,
}

/// Stops a running server from another thread (or a signal handler).
#[derive(Clone)]
pub struct ShutdownHandle {
    http: Arc<tiny_http::Server>,
    stopping: Arc<AtomicBool>,
    threads: usize,
}

impl ShutdownHandle {
    /// Stops accepting work; requests already received are finished first.
    pub fn shutdown(&self) {
        if self.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        for _ in 0..self.threads {
            self.http.unblock();
        }
    }
}

impl Server {
    /// Binds the address, then opens the data directory and rebuilds the board: a
    /// server that cannot listen never touches the data directory.
    pub fn bind(config: Config) -> Result<Server, StartupError> {
        let addr = format!("{}:{}", config.host, config.port);
        let listener = std::net::TcpListener::bind(&addr).map_err(|e| StartupError::Bind {
            addr,
            reason: e.to_string(),
        })?;
        Server::bind_listener(config, listener)
    }

    /// [`Server::bind`] on a socket already listening (`config.host` and `config.port`
    /// are not used): tests keep a port of their own from before the server exists.
    pub fn bind_listener(
        config: Config,
        listener: std::net::TcpListener,
    ) -> Result<Server, StartupError> {
        let addr = listener
            .local_addr()
            .map_or_else(|_| "the given listener".to_string(), |a| a.to_string());
        let options = tiny_http::ConnectionOptions {
            read_timeout: Some(config.request_timeout),
            write_timeout: Some(config.request_timeout),
        };
        let limits = http_limits(&config);
        let tls = config.tls.as_ref().map(tls::load).transpose()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let url = listener.local_addr().map_or_else(
            |_| format!("{scheme}://{addr}/"),
            |a| dashboard_url(a, scheme),
        );
        let bind_error = |reason: String| StartupError::Bind {
            addr: addr.clone(),
            reason,
        };
        sockopt::set_nodelay(&listener).map_err(|e| bind_error(e.to_string()))?;
        sockopt::bound_send_buffers(&listener).map_err(|e| bind_error(e.to_string()))?;
        let app = App::open(config, &url)?;
        let http = match tls {
            Some(tls) => tiny_http::Server::from_listener_with_tls(listener, options, limits, tls),
            None => tiny_http::Server::from_listener_with_limits(listener, options, limits),
        }
        .map_err(|e| bind_error(e.to_string()))?;
        let http = Arc::new(http);
        // Weak: the metrics must not keep the listener open after the server is dropped.
        let counted = Arc::downgrade(&http);
        app.telemetry.count_connections_with(Box::new(move || {
            counted.upgrade().map_or(0, |http| http.num_connections())
        }));
        Ok(Server {
            app: Arc::new(app),
            http,
            stopping: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The address the server listens on (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.http
            .server_addr()
            .to_ip()
            .expect("the server listens on TCP")
    }

    /// The dashboard's URL (`https://` with `--tls-cert`); `0.0.0.0` is shown as
    /// `127.0.0.1` so it can be opened.
    pub fn url(&self) -> String {
        let scheme = if self.app.config.tls.is_some() {
            "https"
        } else {
            "http"
        };
        dashboard_url(self.local_addr(), scheme)
    }

    /// The shared state (store, board), e.g. for an in-process demo.
    pub fn app(&self) -> &Arc<App> {
        &self.app
    }

    /// A handle that stops [`run`](Server::run).
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            http: Arc::clone(&self.http),
            stopping: Arc::clone(&self.stopping),
            threads: self.app.config.threads,
        }
    }

    /// Serves with `config.threads` workers until shut down, then returns once the
    /// requests already received are answered.
    pub fn run(self) {
        let ticker = self.spawn_ticker();
        let phases = {
            let app = Arc::clone(&self.app);
            std::thread::Builder::new()
                .name("contest-phases".into())
                .spawn(move || app.contest.run(&app))
                .expect("spawning the contest phase thread")
        };
        let workers: Vec<_> = (0..self.app.config.threads)
            .map(|i| {
                let app = Arc::clone(&self.app);
                let http = Arc::clone(&self.http);
                let stopping = Arc::clone(&self.stopping);
                std::thread::Builder::new()
                    .name(format!("http-{i}"))
                    .spawn(move || worker_loop(&app, &http, &stopping))
                    .expect("spawning an HTTP worker thread")
            })
            .collect();
        for worker in workers {
            let _ = worker.join();
        }
        self.finish_requests_in_flight();
        self.app.store.flush();
        self.app.board.hub().close_all();
        self.app.viewers.join();
        ticker.thread().unpark();
        let _ = ticker.join();
        self.app.contest.stop();
        let _ = phases.join();
        self.app.refusals.flush_all();
        self.app.alerts.save();
    }

    /// Answers the requests that were on their way when the shutdown came (headers
    /// still being read, or queued behind the workers' stop signals): keeps taking
    /// requests until none has arrived for [`SHUTDOWN_QUIET`], for at most
    /// `--request-timeout`.
    fn finish_requests_in_flight(&self) {
        let started = Instant::now();
        let mut last_request = Instant::now();
        while last_request.elapsed() < SHUTDOWN_QUIET
            && started.elapsed() < self.app.config.request_timeout
        {
            let wait = SHUTDOWN_QUIET.saturating_sub(last_request.elapsed());
            if let Ok(Some(request)) = self.http.recv_timeout(wait) {
                routes::handle(&self.app, request);
                last_request = Instant::now();
            }
        }
    }

    /// Publishes activity changes (inactive, off the board) about once a second.
    fn spawn_ticker(&self) -> std::thread::JoinHandle<()> {
        let app = Arc::clone(&self.app);
        let stopping = Arc::clone(&self.stopping);
        std::thread::Builder::new()
            .name("board-ticker".into())
            .spawn(move || {
                while !stopping.load(Ordering::SeqCst) {
                    app.tick();
                    app.store.flush();
                    app.refusals.flush_ended();
                    std::thread::park_timeout(Duration::from_millis(500));
                }
            })
            .expect("spawning the board ticker thread")
    }
}

/// What the HTTP layer may hold per client: `--max-connections` (checked against the
/// open-files limit, which is first raised to its hard limit), bodies up to
/// `--max-body` read ahead without a worker thread, `--max-body` also for chunked bodies
/// as sent (framing included), and the minimum answer rate.
fn http_limits(config: &Config) -> tiny_http::Limits {
    match tiny_http::raise_open_files_limit() {
        Ok(files) => {
            let room = files.saturating_sub(config::RESERVED_FILES);
            if (config.max_connections as u64) > room {
                log::warn!(
                    "--max-connections {} is more than the {files} open files this process may have (room for about {room} connections); raise the limit (ulimit -n, LimitNOFILE=) or lower --max-connections",
                    config.max_connections
                );
            }
        }
        Err(e) => log::warn!("cannot raise the open-files limit: {e}"),
    }
    let max_body = usize::try_from(config.max_body_bytes).unwrap_or(usize::MAX);
    tiny_http::Limits {
        max_connections: config.max_connections,
        preread_body: Some(max_body),
        max_chunked_body: Some(config.max_body_bytes),
        min_send_rate: config::MIN_SEND_RATE,
        ..tiny_http::Limits::default()
    }
}

/// The dashboard's URL at `addr`; `0.0.0.0` is shown as `127.0.0.1` so it can be opened.
fn dashboard_url(addr: SocketAddr, scheme: &str) -> String {
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        addr.ip().to_string()
    };
    format!("{scheme}://{host}:{}/", addr.port())
}

/// Answers a request; a bug that panics costs that request (tiny_http answers it 500
/// when it is dropped unanswered), never the worker, so the server keeps serving.
fn handle_guarded(app: &App, request: tiny_http::Request) {
    let url = crate::logging::clean(request.url());
    let client = client_addr::client_address(&request, &app.config.trusted_proxies);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        routes::handle(app, request)
    }));
    if outcome.is_err() {
        let line = format!("internal error while answering {url}; the request got a 500");
        app.refusals.log(client, log::Level::Error, &line);
    }
}

fn worker_loop(app: &App, http: &tiny_http::Server, stopping: &AtomicBool) {
    loop {
        match http.recv() {
            Ok(request) => handle_guarded(app, request),
            Err(_) if stopping.load(Ordering::SeqCst) => return,
            Err(e) => log::error!("receiving a request failed: {e}"),
        }
    }
}
