//! Sending reports to a server: one given report, or simulated teams on a schedule.
//!
//! [`ReportSender`] POSTs a body to `/api/stats/report` with `X-Team-ID` and the
//! percent-encoded `X-Team-Name`, as the original `test_client.py` does.
//! [`send_with_retry`] retries a server that is down or answers 5xx with a growing
//! [`Backoff`]; a 4xx refusal is final. [`start_fleet`] runs [`SimulatedTeam`]s, each
//! on its own thread and schedule, and reports what happens as [`Update`]s on a
//! channel, which `benchboard-client` prints and `benchboard-demo` shows as progress bars.
//!
//! [`http`] holds the plumbing every HTTP client of the crate shares (the demo's
//! check and `benchboard-history --server` too): URL checking, the agent, reading an
//! answer with a size limit, the server's error message.
//!
//! [`SimulatedTeam`]: crate::simulate::SimulatedTeam

pub mod fleet;
pub mod http;
pub mod retry;
pub mod sender;
pub mod tls;
pub mod watch;

pub use fleet::{
    Fleet, IntervalSpec, Schedule, TeamEvent, TeamInfo, Update, simulated_teams, start_fleet,
};
pub use http::{error_message, http_agent, normalize_server};
pub use retry::{Backoff, DeliveryError, RetryPolicy, send_with_retry};
pub use sender::{ReportSender, SendError, Tokens};
pub use tls::{rustls_client_config, trust_only_ca_file};

/// The server of the original tools' examples.
pub const DEFAULT_SERVER: &str = "http://localhost:8080";

/// Why a client cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// `--server` is not an `http://` or `https://` URL.
    #[error(
        "--server {0:?} is not an http:// or https:// URL; write it as http://HOST:PORT or https://HOST:PORT"
    )]
    BadServer(String),
    /// The `--ca-cert` file cannot be read or holds no PEM certificate.
    #[error("--ca-cert {path}: {reason}")]
    CaCert { path: String, reason: String },
}
