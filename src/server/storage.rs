//! Opening the server's store: the file store in `--data-dir`, or PostgreSQL with
//! `--store postgres://…`. With PostgreSQL nothing is written to a data directory,
//! start-up waits for the database (saying so at each retry), and a listener thread
//! feeds the board with every instance's reports and with the database's comings
//! and goings.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::freeze::{Incoming, offer_incoming};
use super::{Config, StartupError};
use crate::alerts::AlertService;
use crate::board::LiveBoard;
use crate::hub::Hub;
use crate::store::postgres::{FeedEvent, Listener, PgError, PgStore};
use crate::store::{StoreError, TeamEntry, WritableStore, WriteLimits, WriteStore};

/// The store, the board over it and, with PostgreSQL, the listener feeding the board.
pub(super) struct Opened {
    pub store: Box<dyn WriteStore>,
    pub board: Arc<LiveBoard>,
    pub listener: Option<Listener>,
    /// Where the listener finds the alerts, once they are started, to take up the
    /// alert changes of other instances.
    pub alerts: AlertSlot,
    /// Where the listener leaves the contest state other instances save.
    pub contest: Incoming,
}

/// The alert service, set once the server has started it.
pub(super) type AlertSlot = Arc<OnceLock<Arc<AlertService>>>;

/// Opens the store `config` names and builds the board from it.
pub(super) fn open(config: &Config, hub: Arc<Hub>) -> Result<Opened, StartupError> {
    let Some(url) = &config.store_url else {
        let limits = WriteLimits {
            max_teams: config.max_teams_known,
            min_free_bytes: config.min_free_bytes,
        };
        let store = WritableStore::open(&config.data_dir, config.fsync)
            .map_err(StartupError::data_dir)?
            .with_limits(limits)
            .with_clock(Arc::clone(&config.clock));
        for warning in store.warnings() {
            // File names in a data directory are anybody's: escaped, never cut.
            log::warn!("{}", crate::logging::escape(warning, usize::MAX));
        }
        let board = LiveBoard::from_store(&store, config.timing, config.max_teams, hub)
            .map_err(StartupError::DataDir)?;
        return Ok(Opened {
            store: Box::new(store),
            board: Arc::new(board),
            listener: None,
            alerts: AlertSlot::default(),
            contest: Incoming::default(),
        });
    };
    let store = PgStore::open_retrying(url, config.max_teams_known, |e, wait| {
        log::warn!(
            "{e}; retrying in {:.1} s (Ctrl-C to stop)",
            wait.as_secs_f64()
        );
        true
    })
    .map_err(|e| StartupError::Store(StoreError::Postgres(e)))?;
    let board = LiveBoard::from_store(&store, config.timing, config.max_teams, hub)
        .map_err(StartupError::Store)?;
    let board = Arc::new(board);
    let alerts = AlertSlot::default();
    let contest = Incoming::default();
    let listener =
        feed_board(&store, &board, &alerts, &contest).map_err(|e| StartupError::Store(e.into()))?;
    Ok(Opened {
        store: Box::new(store),
        board,
        listener: Some(listener),
        alerts,
        contest,
    })
}

/// Starts the listener that passes every instance's reports to `board`, from each
/// team's newest seq when the board was built.
fn feed_board(
    store: &PgStore,
    board: &Arc<LiveBoard>,
    alerts: &AlertSlot,
    contest: &Incoming,
) -> Result<Listener, PgError> {
    let fed = Arc::clone(board);
    let alerts = Arc::clone(alerts);
    let contest = Arc::clone(contest);
    let known = store.seqs()?;
    Ok(store.listen(known, move |event| match event {
        FeedEvent::Report {
            stored, metrics, ..
        } => {
            fed.apply(stored, metrics);
        }
        FeedEvent::Team(row) => fed.replace_team(TeamEntry::from(*row)),
        FeedEvent::Available(up) => fed.set_storage_available(up),
        FeedEvent::Clock(offset) => fed.set_clock_offset(offset),
        FeedEvent::TeamChanged(id, row) => {
            fed.refresh_entry(&id, row.map(|row| TeamEntry::from(*row)));
        }
        FeedEvent::Presentation((hidden, renamed)) => fed.set_saved_presentation(hidden, renamed),
        FeedEvent::AdminAction(entry) => {
            let message = crate::api::WsMessage::AdminAction { entry };
            fed.hub().publish(None, message.to_text().into());
        }
        FeedEvent::Alert(announced) => {
            let Some(alerts) = alerts.get() else {
                return;
            };
            if let Some(change) = alerts.adopt_announced(&announced) {
                fed.show_alerts(&[change], &alerts.firing());
            }
        }
        FeedEvent::Contest(version, state) => offer_incoming(&contest, version, *state),
    }))
}

/// How long a request waits for `Retry-After` when the store is away.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);
