//! The server's own counters and `GET /metrics` in the Prometheus text format
//! (OpenMetrics, through `prometheus-client`): reports accepted and refused by
//! reason, ingest latency, requests by endpoint and status, open connections,
//! viewers, known teams, stored bytes, store errors, resident memory and build info.
//!
//! `/metrics` is public, so it carries only the server's own counts and latencies:
//! no team id, name or number is ever a label or a value.

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::App;
use super::error::ApiError;
use super::reply::Reply;
use super::routes::Endpoint;

/// Content type of `/metrics` for a scraper that asks for OpenMetrics (Prometheus does).
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// Content type of `/metrics` otherwise: the Prometheus text format 0.0.4.
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    endpoint: &'static str,
    code: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

/// The server's counters, registered once; updates are lock-free atomics.
pub struct Telemetry {
    registry: Registry,
    reports_accepted: Counter,
    reports_refused: Family<ReasonLabels, Counter>,
    ingest_seconds: Histogram,
    requests: Family<RequestLabels, Counter>,
    stored_bytes: Counter,
    store_errors: Family<ReasonLabels, Counter>,
    viewers_dropped: Family<ReasonLabels, Counter>,
    /// Alert messages, by result (`delivered`, `failed`): brought up to the alert
    /// sender's own counts when scraped, under the lock (two scrapes add once).
    alert_notifications: Family<ResultLabels, Counter>,
    alert_notifications_sync: Mutex<()>,
    open_connections: Gauge,
    viewers: Gauge,
    teams_known: Gauge,
    resident_memory: Gauge,
    started: Instant,
    /// Reads the number of open HTTP connections (set once the listener exists).
    connection_count: OnceLock<Box<dyn Fn() -> usize + Send + Sync>>,
}

impl Default for Telemetry {
    fn default() -> Telemetry {
        Telemetry::new()
    }
}

impl Telemetry {
    /// Every series at zero, registered under `benchboard_`.
    pub fn new() -> Telemetry {
        let mut registry = Registry::with_prefix("benchboard");
        let telemetry = Telemetry {
            reports_accepted: Counter::default(),
            reports_refused: Family::default(),
            // 100 µs to ~3.3 s, doubling.
            ingest_seconds: Histogram::new(exponential_buckets(0.0001, 2.0, 16)),
            requests: Family::default(),
            stored_bytes: Counter::default(),
            store_errors: Family::default(),
            viewers_dropped: Family::default(),
            alert_notifications: Family::default(),
            alert_notifications_sync: Mutex::new(()),
            open_connections: Gauge::default(),
            viewers: Gauge::default(),
            teams_known: Gauge::default(),
            resident_memory: Gauge::default(),
            started: Instant::now(),
            connection_count: OnceLock::new(),
            registry: Registry::default(),
        };
        telemetry.register(&mut registry);
        Telemetry {
            registry,
            ..telemetry
        }
    }

    fn register(&self, registry: &mut Registry) {
        let r = registry;
        r.register(
            "reports_accepted",
            "Reports stored and acknowledged",
            self.reports_accepted.clone(),
        );
        r.register(
            "reports_refused",
            "Reports refused, by reason (invalid, bad_request, too_large, timeout, disk_full, storage)",
            self.reports_refused.clone(),
        );
        r.register(
            "ingest_duration_seconds",
            "Time from a report's body read to its acknowledgement (parse, store, board)",
            self.ingest_seconds.clone(),
        );
        r.register(
            "http_requests",
            "HTTP requests answered, by endpoint and status code",
            self.requests.clone(),
        );
        r.register(
            "stored_bytes",
            "Bytes of report bodies stored since the server started",
            self.stored_bytes.clone(),
        );
        r.register(
            "store_errors",
            "Reports the store failed to write, by kind (disk_full, io)",
            self.store_errors.clone(),
        );
        r.register(
            "viewers_dropped",
            "WebSocket viewers the server closed, by reason (fell_behind, too_slow, stalled)",
            self.viewers_dropped.clone(),
        );
        r.register(
            "alert_notifications",
            "Alert messages taken by their destinations or given up on, by result (delivered, failed)",
            self.alert_notifications.clone(),
        );
        r.register(
            "open_connections",
            "HTTP connections open now",
            self.open_connections.clone(),
        );
        r.register(
            "viewers",
            "WebSocket viewers connected now",
            self.viewers.clone(),
        );
        r.register(
            "teams_known",
            "Teams the board knows",
            self.teams_known.clone(),
        );
        r.register(
            "resident_memory_bytes",
            "Resident memory of the server process",
            self.resident_memory.clone(),
        );
        let build = Family::<BuildLabels, Gauge>::default();
        build
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        r.register("build_info", "The server's version (always 1)", build);
        let start = Gauge::<i64>::default();
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        start.set(since_epoch.as_secs() as i64);
        r.register(
            "start_time_seconds",
            "When the server started, in seconds since the Unix epoch",
            start,
        );
    }

    /// Where the open-connection count comes from (the HTTP server, once bound).
    pub fn count_connections_with(&self, count: Box<dyn Fn() -> usize + Send + Sync>) {
        let _ = self.connection_count.set(count);
    }

    /// Counts a stored report of `body_bytes` that took `ingest` to store.
    pub fn report_accepted(&self, body_bytes: usize, ingest: Duration) {
        self.reports_accepted.inc();
        self.stored_bytes.inc_by(body_bytes as u64);
        self.ingest_seconds.observe(ingest.as_secs_f64());
    }

    /// Counts a refused report, by reason.
    pub fn report_refused(&self, error: &ApiError) {
        let reason = match error {
            ApiError::Invalid(_) => "invalid",
            ApiError::TooLarge { .. } => "too_large",
            ApiError::Timeout => "timeout",
            ApiError::Storage(e) if e.is_disk_full() => "disk_full",
            ApiError::Storage(_) => "storage",
            _ => "bad_request",
        };
        self.reports_refused
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    /// Counts a store error met by any request, of either store: `disk_full`,
    /// `unavailable` (the database cannot be reached) or `io`.
    pub fn store_error(&self, error: &ApiError) {
        if let ApiError::Storage(e) = error {
            let kind = if e.is_disk_full() {
                "disk_full"
            } else if e.is_unavailable() {
                "unavailable"
            } else {
                "io"
            };
            self.store_errors
                .get_or_create(&ReasonLabels { reason: kind })
                .inc();
        }
    }

    /// Counts an answered request.
    pub fn request_answered(&self, endpoint: Option<Endpoint>, status: u16) {
        let endpoint = endpoint.map_or("none", Endpoint::name);
        self.requests
            .get_or_create(&RequestLabels {
                endpoint,
                code: status,
            })
            .inc();
    }

    /// Counts a viewer the server closed (`fell_behind`, `too_slow`, `stalled`).
    pub fn viewer_dropped(&self, reason: &'static str) {
        self.viewers_dropped
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    /// How long the server has been running.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Brings the alert message counters up to the sender's totals (delivered, failed).
    fn count_notifications(&self, (delivered, failed): (u64, u64)) {
        let _sync = self
            .alert_notifications_sync
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for (result, total) in [("delivered", delivered), ("failed", failed)] {
            let counter = self
                .alert_notifications
                .get_or_create(&ResultLabels { result });
            counter.inc_by(total.saturating_sub(counter.get()));
        }
    }

    /// The exposition: gauges read now, counters as they stand; `notifications` are
    /// the alert sender's (delivered, failed) totals.
    pub fn encode(&self, viewers: usize, teams_known: usize, notifications: (u64, u64)) -> String {
        self.count_notifications(notifications);
        if let Some(count) = self.connection_count.get() {
            self.open_connections.set(count() as i64);
        }
        self.viewers.set(viewers as i64);
        self.teams_known.set(teams_known as i64);
        if let Some(bytes) = resident_memory_bytes() {
            self.resident_memory.set(bytes as i64);
        }
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

/// `GET /metrics`: OpenMetrics when the `Accept` header asks for it, else the
/// Prometheus text format 0.0.4.
pub(super) fn metrics(app: &App, accept: Option<&str>) -> Reply {
    let text = app.telemetry.encode(
        app.board.hub().len(),
        app.board.team_count(),
        app.alerts.delivery_totals(),
    );
    if accept.is_some_and(|a| a.contains("application/openmetrics-text")) {
        Reply::bytes(200, OPENMETRICS, text.into_bytes())
    } else {
        Reply::bytes(200, PROMETHEUS_TEXT, to_text_format(&text).into_bytes())
    }
}

/// OpenMetrics as the text format 0.0.4: a counter's `HELP` and `TYPE` lines name
/// the series with its `_total` suffix, and there is no `# EOF`. (No other
/// OpenMetrics-only construct is used: no info or state-set types, no units.)
pub fn to_text_format(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len() + 16 * counters.len());
    for line in openmetrics.lines() {
        if line == "# EOF" {
            continue;
        }
        let meta = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|prefix| Some((prefix, line.strip_prefix(prefix)?)));
        match meta {
            Some((prefix, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                let suffix = if counters.contains(name) {
                    "_total"
                } else {
                    ""
                };
                out.push_str(&format!("{prefix}{name}{suffix} {tail}"));
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// Resident memory of this process, from `/proc/self/statm` (Linux).
fn resident_memory_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let page_size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page_size).ok()?)
}
