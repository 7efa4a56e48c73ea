//! The PostgreSQL store (`--store postgres://…`): the same operations as the file
//! store, for a standing board that outgrows one machine. Several `benchboard-serve`
//! processes may share one database; each shows every report on its own board.
//!
//! - **Schema**: versioned migrations embedded in the binary ([`migrate`]), applied
//!   at open in one transaction under an advisory lock, so two instances starting at
//!   once migrate once.
//! - **Writes** ([`writer`]): one writer thread per instance with its own connection
//!   gathers the reports that arrive together into one transaction (group commit).
//!   A report is acknowledged only after COMMIT (with PostgreSQL's default
//!   `synchronous_commit = on`); each batch is announced with one `NOTIFY
//!   benchboard, '<team> <first>-<last>'…` (a line per team) in the same transaction.
//! - **Reads** ([`read`]): from a small connection pool ([`pool`]); a history page at
//!   any offset is a range of the `(team_id, seq)` key (with reports in the trash
//!   too), the summary and best records (overall and of the current run) are one row
//!   of `teams`.
//! - **Fan-out** ([`feed`]): a listener thread per instance `LISTEN`s, fetches what
//!   other instances stored and hands every report, exactly once and in order per
//!   team, to the board; after a lost connection it reconnects and catches up by
//!   sequence number.
//!
//! | file | holds |
//! |---|---|
//! | `mod.rs` | [`PgStore`], [`PgError`], connection settings |
//! | `migrate.rs` | the embedded migrations and how they are applied |
//! | `pool.rs` | the connection pool of the readers |
//! | `writer.rs` | group commit: the writer thread, its batches and connection |
//! | `batch.rs` | one batch's transaction: numbering, naming, records |
//! | `judge.rs` | plausibility warnings against the team's newest report |
//! | `rows.rs` | the rows of a batch, stored in one statement |
//! | `announce.rs` | the payloads announcing stored reports |
//! | `admit.rs` | `--max-teams-known` across instances |
//! | `runs.rs` | runs at insert, and renumbering after the trash |
//! | `admin.rs` | the trash, hidden teams and names, the audit log |
//! | `changes.rs` | announcing changes other than reports to other instances |
//! | `alerts.rs` | the alert state |
//! | `contest.rs` | the contest state (the reveal), one row |
//! | `feed.rs` | the once-and-in-order feed of reports to the board |
//! | `listener.rs` | the listener thread |
//! | `read.rs` | the queries |

mod admin;
mod admit;
mod alerts;
mod announce;
mod backend;
mod batch;
mod changes;
mod contest;
pub mod feed;
mod judge;
mod listener;
pub mod migrate;
mod pool;
pub mod read;
mod rows;
mod runs;
mod writer;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use postgres::error::SqlState;
use serde_json::Value;

pub use admin::SavedPresentation;
pub use alerts::PgAlerts;
pub use changes::Change;
pub use contest::PgContest;
pub use feed::FeedEvent;
pub use listener::Listener;
pub use read::TeamRow;
pub use writer::{Appended, Arrival, NewReport};

use crate::store::StoredReport;
use crate::team::TeamId;

/// The channel of the announcements (of reports: `announce.rs`; of other changes: `changes.rs`).
pub const CHANNEL: &str = "benchboard";
/// How long a connection attempt may take unless the URL says `connect_timeout`.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A failure of the PostgreSQL store.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PgError {
    /// `--store` is not a PostgreSQL URL or connection string the driver understands.
    #[error("bad PostgreSQL URL {url:?}: {reason} (expected postgres://user@host/database)")]
    BadUrl { url: String, reason: String },
    /// The database cannot be reached or the connection broke: the API answers 503
    /// and the server retries by itself.
    #[error("storage unavailable: PostgreSQL at {target}: {reason}")]
    Unavailable { target: String, reason: String },
    /// The server refused to let us in or the database is missing: retrying will not help.
    #[error("cannot use PostgreSQL at {target}: {reason}{hint}")]
    Refused {
        target: String,
        reason: String,
        hint: &'static str,
    },
    /// A statement failed for another reason (a bug, or a schema changed by hand).
    #[error("PostgreSQL at {target} refused a statement: {reason}")]
    Query { target: String, reason: String },
    /// The database holds a newer schema than this binary knows.
    #[error(
        "PostgreSQL at {target} has BenchBoard schema version {found}, newer than this \
         benchboard knows ({known}); run a newer benchboard"
    )]
    SchemaTooNew {
        target: String,
        found: i32,
        known: i32,
    },
    /// A report of a new team when the database already holds `--max-teams-known`
    /// teams (403; final).
    #[error("the database already holds {limit} teams, this server's limit (--max-teams-known)")]
    TooManyTeams { limit: usize },
    /// A stored report cannot be read back.
    #[error("report {seq} of team {team} in PostgreSQL: {reason}")]
    Corrupt {
        team: String,
        seq: i64,
        reason: String,
    },
}

impl PgError {
    /// True when the database is unreachable or went away (answered with 503).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, PgError::Unavailable { .. })
    }

    /// Classifies a driver error: lost connections and a database that is starting
    /// or shutting down are [`PgError::Unavailable`].
    pub(crate) fn from_driver(target: &str, error: postgres::Error) -> PgError {
        let reason = describe(&error);
        let target = target.to_string();
        match error.code() {
            None => PgError::Unavailable { target, reason },
            Some(code) if is_transient(code) => PgError::Unavailable { target, reason },
            Some(code) if *code == SqlState::INVALID_CATALOG_NAME => PgError::Refused {
                target,
                reason,
                hint: "; create it first (createdb)",
            },
            Some(code) if code.code().starts_with("28") => PgError::Refused {
                target,
                reason,
                hint: "; check the user and password in the URL",
            },
            Some(_) => PgError::Query { target, reason },
        }
    }
}

/// SQLSTATEs after which the same statement may succeed later: connection
/// exceptions (class 08), shutdowns and start-ups (57P01–57P03), too many clients
/// (53300), serialization failures and deadlocks (40001, 40P01).
fn is_transient(code: &SqlState) -> bool {
    let code = code.code();
    code.starts_with("08")
        || matches!(
            code,
            "57P01" | "57P02" | "57P03" | "53300" | "40001" | "40P01"
        )
}

/// The driver's message with its causes ("error connecting to server: No such file…").
fn describe(error: &postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        return db.message().to_string();
    }
    let mut text = error.to_string();
    let mut cause = std::error::Error::source(error);
    while let Some(inner) = cause {
        let inner_text = inner.to_string();
        if !text.contains(&inner_text) {
            text = format!("{text}: {inner_text}");
        }
        cause = inner.source();
    }
    text
}

/// Where a store lives, as shown in messages and the summary: `host[:port]/database`
/// with any password left out.
#[derive(Debug, Clone)]
pub struct Target {
    pub config: postgres::Config,
    pub shown: String,
}

impl Target {
    /// Parses a `postgres://` URL or a `key=value` connection string; sets the
    /// application name and a connect timeout unless the URL has them.
    pub fn parse(url: &str) -> Result<Target, PgError> {
        let mut config: postgres::Config =
            url.parse().map_err(|e: postgres::Error| PgError::BadUrl {
                url: redact(url),
                reason: describe(&e),
            })?;
        if config.get_application_name().is_none() {
            config.application_name("benchboard");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let hosts: Vec<String> = config
            .get_hosts()
            .iter()
            .map(|host| match host {
                postgres::config::Host::Tcp(name) => name.clone(),
                postgres::config::Host::Unix(path) => path.display().to_string(),
            })
            .collect();
        let port = match config.get_ports().first() {
            Some(port) if *port != 5432 => format!(":{port}"),
            _ => String::new(),
        };
        let shown = format!(
            "{}{port}/{}",
            if hosts.is_empty() {
                "localhost".to_string()
            } else {
                hosts.join(",")
            },
            config
                .get_dbname()
                .or(config.get_user())
                .unwrap_or("postgres")
        );
        Ok(Target { config, shown })
    }

    /// A new connection.
    pub fn connect(&self) -> Result<postgres::Client, PgError> {
        self.config
            .connect(postgres::NoTls)
            .map_err(|e| PgError::from_driver(&self.shown, e))
    }
}

/// True when `store` names a PostgreSQL store rather than a data directory.
pub fn is_postgres_url(store: &str) -> bool {
    store.starts_with("postgres://") || store.starts_with("postgresql://")
}

/// The URL with any password (`user:password@`, `?password=`) replaced by `***`
/// (for messages, logs and `--check-config`).
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let tail = redact_query(tail);
    match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => format!("{scheme}://{authority}{tail}"),
        },
        None => format!("{scheme}://{authority}{tail}"),
    }
}

/// `/db?password=…&x=1` with the password's value replaced by `***`.
fn redact_query(tail: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_string();
    };
    let params: Vec<String> = query
        .split('&')
        .map(|param| match param.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
            _ => param.to_string(),
        })
        .collect();
    format!("{path}?{}", params.join("&"))
}

/// The PostgreSQL store of one database: the writer, the feed of the board, and the
/// [`PgReader`] it derefs to for every query.
pub struct PgStore {
    reader: PgReader,
    writer: writer::Writer,
    feed: Arc<feed::Feed>,
}

/// The reading half of a [`PgStore`]: its pool; cheap to clone (for iterators that
/// outlive a borrow, and other threads).
#[derive(Clone)]
pub struct PgReader {
    target: Target,
    pool: Arc<pool::Pool>,
}

impl std::ops::Deref for PgStore {
    type Target = PgReader;

    fn deref(&self) -> &PgReader {
        &self.reader
    }
}

impl PgStore {
    /// Connects, applies the migrations this binary embeds and starts the writer.
    pub fn open(url: &str) -> Result<PgStore, PgError> {
        PgStore::open_limited(url, usize::MAX)
    }

    /// [`PgStore::open`] refusing reports of new teams once the database holds
    /// `max_teams` teams (counted by every instance alike).
    pub fn open_limited(url: &str, max_teams: usize) -> Result<PgStore, PgError> {
        let target = Target::parse(url)?;
        let mut client = target.connect()?;
        migrate::apply(&mut client, &target.shown)?;
        let pool = Arc::new(pool::Pool::new(target.clone(), pool::MAX_CONNECTIONS));
        pool.give_back(client);
        let feed = Arc::new(feed::Feed::default());
        let writer = writer::Writer::start(target.clone(), Arc::clone(&feed), max_teams);
        Ok(PgStore {
            reader: PgReader { target, pool },
            writer,
            feed,
        })
    }

    /// [`PgStore::open_limited`], retried while the database is unavailable: `on_retry` gets
    /// each failure (to print it) and says whether to go on; a refusal that waiting
    /// cannot cure (bad URL, wrong password, no such database) is returned at once.
    pub fn open_retrying(
        url: &str,
        max_teams: usize,
        mut on_retry: impl FnMut(&PgError, Duration) -> bool,
    ) -> Result<PgStore, PgError> {
        let mut wait = Duration::from_millis(250);
        loop {
            match PgStore::open_limited(url, max_teams) {
                Err(e) if e.is_unavailable() && on_retry(&e, wait) => {
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
                other => return other,
            }
        }
    }

    /// Stores a validated report; returns once it is committed (and announced).
    pub fn append(&self, report: NewReport) -> Result<Appended, PgError> {
        self.writer.append(report)
    }

    /// Stores reports in this order, sharing commits; one answer per report.
    pub fn append_all(&self, reports: Vec<NewReport>) -> Vec<Result<Appended, PgError>> {
        self.writer.append_all(reports)
    }

    /// Starts the listener thread: from now on `sink` gets every report stored by any
    /// instance (this one included) exactly once and in order per team, beginning
    /// after the team states `known` (team id → its newest seq already shown), and
    /// every change of the database's availability. Stopped when the handle drops.
    pub fn listen(
        &self,
        known: impl IntoIterator<Item = (TeamId, u64)>,
        sink: impl Fn(FeedEvent) + Send + Sync + 'static,
    ) -> Listener {
        self.feed.set_sink(known, Box::new(sink));
        Listener::start(self.target.clone(), Arc::clone(&self.feed))
    }
}

impl PgReader {
    /// Connects to read a database a server has set up; changes nothing in it.
    pub fn open(url: &str) -> Result<PgReader, PgError> {
        let target = Target::parse(url)?;
        let mut client = target.connect()?;
        migrate::check(&mut client, &target.shown)?;
        let pool = Arc::new(pool::Pool::new(target.clone(), 4));
        pool.give_back(client);
        Ok(PgReader { target, pool })
    }

    /// Where the store lives, for messages: `host[:port]/database`.
    pub fn target(&self) -> &str {
        &self.target.shown
    }
}

/// A report read back from a row: `team_id, team_name, timestamp, at, file_name,
/// seq, stats::text, warnings::text, run` (the column order of [`read::REPORT_COLUMNS`]).
pub(crate) fn stored_from_row(row: &postgres::Row) -> Result<(i64, StoredReport), PgError> {
    let team: String = row.get(0);
    let seq: i64 = row.get(5);
    let corrupt = |reason: String| PgError::Corrupt {
        team: team.clone(),
        seq,
        reason,
    };
    let team_id = TeamId::parse(&team).map_err(|e| corrupt(e.to_string()))?;
    let timestamp: String = row.get(2);
    let at_column: DateTime<FixedOffset> = row.get(3);
    // The text keeps the offset the report was written with; the column is UTC.
    let at = crate::timefmt::parse_timestamp(&timestamp).unwrap_or(at_column);
    let stats_text: &str = row.get(6);
    let stats: Value = serde_json::from_str(stats_text).map_err(|e| corrupt(e.to_string()))?;
    Ok((
        seq,
        StoredReport {
            team_id,
            team_name: row.get(1),
            timestamp,
            at,
            file_name: row.get(4),
            stats,
            run: row.get::<_, i32>(8).max(0) as u32,
            // Written by this version as warning objects; anything else reads as none.
            warnings: serde_json::from_str(row.get(7)).unwrap_or_default(),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact("postgres://bb:s3cret@db.example:5433/board"),
            "postgres://bb:***@db.example:5433/board"
        );
        assert_eq!(redact("postgres://bb@db/board"), "postgres://bb@db/board");
        assert_eq!(
            redact("postgres://bb@db/board?sslmode=require&password=s3cret"),
            "postgres://bb@db/board?sslmode=require&password=***"
        );
        let target = Target::parse("postgres://bb:s3cret@db.example:5433/board").unwrap();
        assert_eq!(target.shown, "db.example:5433/board");
        let bad = Target::parse("postgres://bb:s3cret@db:notaport/board").unwrap_err();
        assert!(!bad.to_string().contains("s3cret"), "{bad}");
    }

    #[test]
    fn unix_socket_urls_show_the_socket_directory() {
        let target = Target::parse("postgres://bb@%2Ftmp%2Fbbpg.1/board").unwrap();
        assert_eq!(target.shown, "/tmp/bbpg.1/board");
        assert!(is_postgres_url("postgresql://x/y"));
        assert!(!is_postgres_url("./data"));
    }
}
