//! What a request handler can fail with ([`ApiError`]), and the one place that maps
//! each failure to a status and a JSON body ([`ApiError::status`], [`ApiError::reply`]).

use serde_json::json;

use super::reply::Reply;
use super::storage::RETRY_AFTER;
use super::trust::Refusal;
use crate::admin::AdminError;
use crate::config::ConfigError;
use crate::import::ImportError;
use crate::report::ValidationError;
use crate::store::StoreError;
use crate::store::TrashError;
use crate::team::TeamError;

/// The error of every answer while the store (a database) is unreachable.
pub const STORAGE_UNAVAILABLE: &str = "storage unavailable: the database cannot be reached; nothing was stored or read, try again shortly";

/// What a request handler can fail with; each variant has one status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed input: headers, query, body.
    #[error("{0}")]
    BadRequest(String),
    /// The report breaks the schema.
    #[error("{0}")]
    Invalid(#[from] ValidationError),
    /// A bad `X-Team-ID` or `X-Team-Name`, or a bad team id in the path.
    #[error("{0}")]
    Team(#[from] TeamError),
    /// A path that names nothing.
    #[error("{0}")]
    NotFound(String),
    /// A known path with a method it does not take.
    #[error("method {method} not allowed here; allowed: {allow}")]
    MethodNotAllowed { method: String, allow: String },
    /// The client took longer than `--request-timeout` to send its body.
    #[error("timed out reading the request body")]
    Timeout,
    /// The body is larger than `--max-body`.
    #[error("request body larger than the limit of {limit} bytes (--max-body)")]
    TooLarge { limit: u64 },
    /// A tool's output is not the format named, or not complete.
    #[error("{0}")]
    Import(#[from] ImportError),
    /// A tool's output is larger than `--max-import-body`.
    #[error(
        "request body larger than the limit of {limit} bytes (--max-import-body); convert on the client instead: benchboard-client push --format FORMAT FILE"
    )]
    ImportTooLarge { limit: u64 },
    /// The CSV export of a team could not be started: no pipe or no thread for the
    /// reader of its history (the server is out of file descriptors or threads).
    #[error("cannot start the CSV export of {team}: {source}; try again")]
    ExportStart {
        team: String,
        source: std::io::Error,
    },
    /// Writing the report failed; nothing was acknowledged.
    #[error("{0}")]
    Storage(#[from] StoreError),
    /// No token, a token that does not fit, or over a rate limit (401, 403, 429).
    #[error("{0}")]
    Refused(#[from] Refusal),
    /// An organiser's action failed (a failure of the store itself is `Storage`).
    #[error("{0}")]
    Admin(AdminError),
    /// The contest is not where the action needs it (a reveal before the end, with
    /// no freeze, or already finished).
    #[error("{0}")]
    Conflict(String),
    /// The contest file could not be reloaded; the old settings stay.
    #[error("the contest file was not reloaded, the settings stay as they were: {0}")]
    Reload(#[from] ConfigError),
}

impl From<AdminError> for ApiError {
    fn from(error: AdminError) -> ApiError {
        match error {
            AdminError::Store(e) => ApiError::Storage(e),
            other => ApiError::Admin(other),
        }
    }
}

impl ApiError {
    /// The HTTP status of this error.
    pub fn status(&self) -> u16 {
        match self {
            ApiError::BadRequest(_)
            | ApiError::Invalid(_)
            | ApiError::Team(_)
            | ApiError::Import(_) => 400,
            ApiError::NotFound(_) => 404,
            ApiError::Storage(StoreError::TooManyTeams { .. }) => 403,
            ApiError::MethodNotAllowed { .. } => 405,
            ApiError::Timeout => 408,
            ApiError::TooLarge { .. } | ApiError::ImportTooLarge { .. } => 413,
            ApiError::Storage(e) if e.is_disk_full() => 507,
            ApiError::Storage(e) if e.is_unavailable() => 503,
            ApiError::ExportStart { .. } => 503,
            ApiError::Storage(_) => 500,
            ApiError::Refused(refusal) => refusal.status(),
            ApiError::Admin(AdminError::BadRequest(_)) => 400,
            ApiError::Admin(AdminError::NotFound(_)) => 404,
            ApiError::Admin(AdminError::Trash(TrashError::AlreadyThere(_))) => 409,
            ApiError::Conflict(_) => 409,
            ApiError::Admin(_) => 500,
            ApiError::Reload(_) => 422,
        }
    }

    /// The answer: `{"error": message}` with [`status`](ApiError::status), and the
    /// `Allow` header for a method not allowed.
    pub fn reply(&self) -> Reply {
        if let ApiError::Storage(e) = self
            && e.is_unavailable()
        {
            // Where the database is and why it failed is for the log, not for clients.
            log::warn!("{e}");
            let mut reply = Reply::json(503, &json!({"error": STORAGE_UNAVAILABLE}));
            reply
                .headers
                .push(("Retry-After", RETRY_AFTER.as_secs().to_string()));
            return reply;
        }
        let mut reply = Reply::json(self.status(), &json!({"error": self.to_string()}));
        if let ApiError::MethodNotAllowed { allow, .. } = self {
            reply.headers.push(("Allow", allow.clone()));
        }
        if let ApiError::Refused(refusal) = self {
            reply.headers.extend(refusal.headers());
        }
        if let ApiError::ExportStart { .. } = self {
            reply
                .headers
                .push(("Retry-After", RETRY_AFTER.as_secs().to_string()));
        }
        reply
    }
}
